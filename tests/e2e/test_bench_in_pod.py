"""``make bench BENCH_ARGS=--in-pod`` keeps working: a small run (200 workloads) on our node, the operator as
pods from deploy/overlays/local next to it as a host process. The figures are printed, not asserted; what
is asserted is that every phase produced them, that the pods ran under the Deployment's limit and that
the memory readers found the leader's and the follower's processes and cgroups.

It runs first in the e2e tier (conftest orders it): it installs and removes the operator itself, so it
needs a cluster without it. Only on our own node (``make e2e``): it reads the pods' processes and cgroups
from the host, which ``make e2e-existing`` cannot.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.run import main

from .conftest import KUBECONFIG, ON_OUR_NODE

pytestmark = pytest.mark.skipif(
    not ON_OUR_NODE, reason="the in-pod benchmark reads the pods' processes and cgroups on our own node (make e2e)"
)


def test_bench_in_pod_measures_host_process_and_pods(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert KUBECONFIG
    flips = 6
    code = main(
        [
            "--in-pod",
            "--workloads",
            "200",
            "--engagements",
            "10",
            "--flips",
            str(flips),
            "--burst",
            "30",
            "--idle",
            "1",
            "--check-manifests",
            "0",
            "--output",
            str(tmp_path),
        ]
    )
    assert code == 0
    report = json.loads(next(tmp_path.glob("bench-*.json")).read_text())
    host, pod = report["results"]
    assert (host["where"], pod["where"]) == ("host process", "pod")
    for result in (host, pod):
        assert result["cold_start_seconds"] is not None, f"{result['where']}: engagements never matched"
        assert result["reaction"]["samples"] == flips, result["reaction"]
        assert result["burst"]["converged_seconds"] is not None
        assert result["rss_steady_mib"] > 20
    assert pod["resources"]["limits"]["memory"] == "512Mi"
    assert pod["operator_env"] == {"MALLOC_ARENA_MAX": "2"}
    assert set(pod["restarts"].values()) == {0}, pod["restarts"]
    assert pod["follower"]["leader_metric"] == 0
    # Both replicas were Ready and listened on the webhook port before anything was measured.
    assert len(pod["pods_ready_seconds"]) == len(pod["pods_webhook_seconds"]) == 2, pod
    for role in ("leader", "follower"):
        memory = pod["pod_steady"][role]
        # The kernel enforces the Deployment's limit on the container's cgroup.
        assert memory["container_cgroup"]["limit_mib"] == 512.0, memory
        assert 20 < memory["rss_mib"] <= memory["processes_rss_mib"], memory
        assert memory["container_cgroup"]["working_set_mib"] > 20, memory
        assert memory["kubelet_working_set_mib"] is not None, memory
        assert any("eligibility-operator" in p["command"] for p in memory["processes"]), memory["processes"]
    assert pod["image_facts"].get("python"), pod["image_facts"]
    assert "pods at 200 workloads" in (tmp_path / "latest.md").read_text()

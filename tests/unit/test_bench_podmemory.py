"""The in-pod benchmark's readers (benchmarks/podmemory.py): cgroup memory files as the kernel writes them
(v1 and v2), the pod's cgroup path, the container's main process, the kubelet's summary, the Lease holder;
and the fixture the node gets (no pods, no ReplicaSets)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks import fixture as fx
from benchmarks import podmemory as pm

MIB = 1 << 20

# Excerpts of real files: cgroup v1 (the node here) and v2.
V1_STAT = f"""cache {2 * MIB}
rss {80 * MIB}
mapped_file {MIB}
inactive_file {MIB}
hierarchical_memory_limit {512 * MIB}
total_cache {3 * MIB}
total_rss {81 * MIB}
total_inactive_file {2 * MIB}
total_active_file {MIB}
"""
V2_STAT = f"""anon {70 * MIB}
file {5 * MIB}
kernel_stack 163840
inactive_file {4 * MIB}
active_file {MIB}
"""


def test_working_set_is_usage_minus_inactive_file_hierarchical_on_v1() -> None:
    stat = pm.parse_memory_stat(V1_STAT)
    # total_inactive_file (the hierarchy), not inactive_file (this cgroup alone), as cAdvisor on v1.
    assert pm.working_set(86 * MIB, stat) == 84 * MIB
    assert pm.working_set(86 * MIB, pm.parse_memory_stat(V2_STAT)) == 82 * MIB
    assert pm.working_set(MIB, stat) == 0  # never negative
    assert pm.working_set(5, {}) == 5


def test_parse_memory_stat_skips_what_is_not_a_counter() -> None:
    assert pm.parse_memory_stat("anon 5\nbroken\nfile x\n\nfile_dirty 7 kB\nshmem 0\n") == {"anon": 5, "shmem": 0}


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_cgroup_memory_v1(tmp_path: Path) -> None:
    d = write(
        tmp_path / "memory" / "kubepods" / "burstable" / "podX" / "abc",
        {
            "memory.usage_in_bytes": f"{86 * MIB}\n",
            "memory.max_usage_in_bytes": f"{90 * MIB}\n",
            "memory.limit_in_bytes": f"{512 * MIB}\n",
            "memory.stat": V1_STAT,
        },
    )
    assert pm.memory_dir(Path("kubepods/burstable/podX/abc"), tmp_path) == d
    assert pm.cgroup_memory(d) == {
        "usage_mib": 86.0,
        "working_set_mib": 84.0,
        "peak_mib": 90.0,
        "limit_mib": 512.0,
        "anonymous_mib": 81.0,
        "file_mib": 3.0,
    }


def test_cgroup_memory_v2_without_peak_and_limit(tmp_path: Path) -> None:
    d = write(
        tmp_path / "kubepods" / "podY" / "abc",
        {"memory.current": f"{80 * MIB}\n", "memory.max": "max\n", "memory.stat": V2_STAT},
    )
    assert pm.memory_dir(Path("kubepods/podY/abc"), tmp_path) == d
    figures = pm.cgroup_memory(d)
    assert figures["usage_mib"] == 80.0 and figures["working_set_mib"] == 76.0
    assert figures["peak_mib"] is None and figures["limit_mib"] is None  # no memory.peak; "max" is no limit
    assert (figures["anonymous_mib"], figures["file_mib"]) == (70.0, 5.0)


def pod(qos: str) -> dict[str, object]:
    return {
        "metadata": {"uid": "1234-ab"},
        "status": {
            "qosClass": qos,
            "containerStatuses": [
                {"name": "sidecar", "containerID": "containerd://ffff"},
                {"name": "operator", "containerID": "containerd://0a1b2c"},
            ],
        },
    }


@pytest.mark.parametrize(
    ("qos", "path"),
    [
        ("Burstable", "kubepods/burstable/pod1234-ab"),
        ("Guaranteed", "kubepods/pod1234-ab"),
        ("BestEffort", "kubepods/besteffort/pod1234-ab"),
    ],
)
def test_pod_cgroup_follows_the_qos_class(qos: str, path: str) -> None:
    assert pm.pod_cgroup(pod(qos)) == Path(path)


def test_container_id_of_the_named_container() -> None:
    assert pm.container_id(pod("Burstable"), "operator") == "0a1b2c"
    assert pm.container_id(pod("Burstable"), "missing") == ""
    assert pm.container_id({"status": {}}, "operator") == ""


def test_main_process_is_the_one_whose_parent_is_outside() -> None:
    # The operator (10), its spawned webhook parser (12) and multiprocessing's resource tracker (11).
    assert pm.main_process({11: 10, 10: 999, 12: 10}) == 10
    with pytest.raises(ValueError, match="found"):
        pm.main_process({})
    with pytest.raises(ValueError, match=r"\[10, 20\]"):
        pm.main_process({10: 1, 20: 2})


def test_cgroup_processes_reads_parents_from_proc(tmp_path: Path) -> None:
    (tmp_path / "cgroup.procs").write_text(f"{os.getpid()}\n999999999\n")  # the second has ended
    assert pm.cgroup_processes(tmp_path) == {os.getpid(): os.getppid()}
    assert pm.describe(os.getpid())["rss_mib"] > 0
    assert pm.describe(999999999)["command"] == "(ended)"


def test_kubelet_summary_working_set() -> None:
    summary = {
        "pods": [
            {"podRef": {"name": "other", "namespace": "eligibility-operator"}, "containers": []},
            {
                "podRef": {"name": "op-1", "namespace": "eligibility-operator"},
                "containers": [{"name": "operator", "memory": {"workingSetBytes": 90 * MIB}}],
            },
        ]
    }
    assert pm.summary_working_set(summary, "eligibility-operator", "op-1", "operator") == 90.0
    assert pm.summary_working_set(summary, "eligibility-operator", "op-2", "operator") is None
    assert pm.summary_working_set({}, "eligibility-operator", "op-1", "operator") is None


def test_holder_pod_strips_the_random_suffix() -> None:
    assert pm.holder_pod("eligibility-operator-85844d5b94-x55wv_1a2b3c4d") == "eligibility-operator-85844d5b94-x55wv"
    assert pm.holder_pod("plain") == "plain"


def test_fixture_on_a_node_makes_no_pods_and_no_replicasets() -> None:
    inert = fx.build(100, engagements=4, inert=True, engagement_ns="platform")
    body = inert.workloads[0].body()
    assert body["spec"]["replicas"] == 0 and body["spec"]["paused"] is True
    assert {e["metadata"]["namespace"] for e in inert.engagements} == {"platform"}
    # Otherwise the same workloads (the operator reads only the pod template).
    plain = fx.build(100, engagements=4)
    assert plain.workloads[0].body()["spec"]["replicas"] == 2 and "paused" not in plain.workloads[0].body()["spec"]
    assert [w.images for w in inert.workloads] == [w.images for w in plain.workloads]


def test_process_age_from_proc(tmp_path: Path) -> None:
    (tmp_path / "uptime").write_text("1000.50 3000.00\n")
    (tmp_path / "42").mkdir()
    # comm with a space and a parenthesis; starttime (field 22) = 90000 ticks = 900 s at 100 Hz.
    fields = ["S", *["0"] * 18, "90000", "0"]
    (tmp_path / "42" / "stat").write_text(f"42 (python (x) y) {' '.join(fields)}\n")
    assert pm.process_age(42, tmp_path) == pytest.approx(1000.5 - 90000 / os.sysconf("SC_CLK_TCK"))
    # This process, for real: started before now, and not long ago.
    assert 0 < pm.process_age(os.getpid()) < 3600

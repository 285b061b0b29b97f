"""After ``make node-down`` (``make e2e`` runs this last): nothing of the node is left on the machine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from eligibility_operator_dev import node, node_host

pytestmark = [
    pytest.mark.after_node_down,
    pytest.mark.skipif(os.environ.get("EO_E2E_AFTER_DOWN") != "1", reason="runs after make node-down (make e2e)"),
]


def _running(name: str) -> list[str]:
    found = subprocess.run(["pgrep", "-a", "-x", name], capture_output=True, text=True, check=False)
    return found.stdout.splitlines()


def test_no_node_process_is_left() -> None:
    # etcd and kube-apiserver also run for other test sessions here: ours are found by the node directory.
    for name in ("kubelet", "kube-proxy", "containerd", "kube-controller-manager", "kube-scheduler"):
        assert _running(name) == [], name
    ours = [
        line
        for line in _running("etcd") + _running("kube-apiserver") + _running("socat")
        if str(node.node_dir()) in line or node_host.GATEWAY in line
    ]
    assert ours == []
    assert not [line for line in _running("containerd-shim-runc-v2") if str(node.socket_path()) in line]


def test_no_bridge_chains_mounts_cgroups_or_namespaces_are_left() -> None:
    assert not Path(f"/sys/class/net/{node_host.BRIDGE}").exists()
    for tool in ("iptables-save", "ip6tables-save"):
        dump = subprocess.run([tool], capture_output=True, text=True, check=False).stdout
        assert not [
            line for line in dump.splitlines() if "KUBE-" in line or "CNI-" in line or node_host.RULE_COMMENT in line
        ], tool
    mounts = Path("/proc/self/mounts").read_text()
    assert "kubelet" not in mounts and str(node.node_dir()) not in mounts and "/run/netns/cni-" not in mounts
    assert node_host.network_namespaces() == []
    assert node_host.cgroups() == []
    assert not node.node_dir().exists()
    assert node_host.leftovers(node.node_dir()) == []

"""The local control plane module: starts, serves, stops, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from eligibility_operator_dev.cluster import dev_command, dev_env
from eligibility_operator_dev.controlplane import ControlPlane


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split(")")[-1].split()[0] == "Z"


def _wait_gone(pids: list[int], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_gone(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def test_starts_serves_and_stops_without_leftovers() -> None:
    plane = ControlPlane().start()
    pids = list(plane.pids().values())
    workdir = plane.workdir
    assert workdir is not None
    try:
        out = subprocess.run(
            ["kubectl", "--kubeconfig", str(plane.kubeconfig), "get", "ns", "-o", "name"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "namespace/kube-system" in out
    finally:
        plane.stop()
    assert _wait_gone(pids), f"processes left behind: {pids}"
    assert not workdir.exists()


def test_children_die_when_the_owner_is_killed(tmp_path: Path) -> None:
    """SIGKILL of the owning process (an interrupted test run) takes etcd and the API server with it."""
    script = (
        "import sys, time\n"
        "from eligibility_operator_dev.controlplane import ControlPlane\n"
        "p = ControlPlane().start()\n"
        "print(*p.pids().values(), flush=True)\n"
        "time.sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=dev_env())
    assert owner.stdout is not None
    pids = [int(p) for p in owner.stdout.readline().split()]
    assert len(pids) == 2 and not any(_gone(p) for p in pids)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert _wait_gone(pids), f"children survived their owner: {pids}"


def test_cluster_up_and_down_commands(tmp_path: Path) -> None:
    workdir = tmp_path / "cluster"
    cli = dev_command("cluster")
    up = subprocess.run(
        [*cli, "up", "--dir", str(workdir)], capture_output=True, text=True, timeout=180, check=False, env=dev_env()
    )
    assert up.returncode == 0, up.stderr
    assert f"KUBECONFIG={workdir / 'kubeconfig'}" in up.stdout
    try:
        crds = subprocess.run(
            ["kubectl", "--kubeconfig", str(workdir / "kubeconfig"), "get", "crd", "-o", "name"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "supportengagements.support.stakater.com" in crds
        assert "compatibilitymatrices.support.stakater.com" in crds
        server_pid = int((workdir / "pid").read_text())
    finally:
        down = subprocess.run(
            [*cli, "down", "--dir", str(workdir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=dev_env(),
        )
    assert down.returncode == 0, down.stderr
    assert _wait_gone([server_pid])
    leftovers = subprocess.run(
        ["pgrep", "-f", str(workdir)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert leftovers == []

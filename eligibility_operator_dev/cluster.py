"""``cluster up`` / ``down``: the local control plane in the background, with the CRDs and the default matrix."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from eligibility_operator.api import crdgen
from eligibility_operator.offline.loading import default_matrix_text

from .controlplane import ensure_binaries

REPO_ROOT = Path(__file__).resolve().parent.parent


class ClusterError(Exception):
    pass


def dev_command(*args: str) -> list[str]:
    """A command line running this package's CLI with the current interpreter."""
    return [sys.executable, "-m", "eligibility_operator_dev", *args]


def dev_env() -> dict[str, str]:
    """The environment for :func:`dev_command`: the repository root on ``PYTHONPATH`` (run from anywhere)."""
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def apply_defaults(kubeconfig: Path) -> None:
    """``kubectl apply`` the CRDs, wait until they are served, then apply the default matrix; and create the
    operator's namespace, where its leader-election Lease lives (as ``deploy/base`` does)."""
    kubectl = ["kubectl", "--kubeconfig", str(kubeconfig)]
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "eligibility-operator"}}
    subprocess.run(
        [*kubectl, "apply", "-f", "-"],
        input=yaml.safe_dump(namespace),
        text=True,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [*kubectl, "apply", "-f", "-"], input=crdgen.render_all(), text=True, check=True, stdout=subprocess.DEVNULL
    )
    names = [f"crd/{b()['metadata']['name']}" for b in crdgen.CRD_FILES.values()]
    subprocess.run(
        [*kubectl, "wait", "--for=condition=Established", "--timeout=60s", *names],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [*kubectl, "apply", "-f", "-"], input=default_matrix_text(), text=True, check=True, stdout=subprocess.DEVNULL
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child still answers kill(0); check its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cluster_up(workdir: Path, timeout: float = 600.0) -> tuple[int, bool]:
    """Start the control plane in the background (or reuse it), apply the defaults; (pid, was running)."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    pidfile, ready = workdir / "pid", workdir / "ready"
    kubeconfig = workdir / "kubeconfig"
    if pidfile.exists() and alive(int(pidfile.read_text())) and ready.exists():
        apply_defaults(kubeconfig)
        return int(pidfile.read_text()), True
    ensure_binaries()  # in the foreground, so build output is visible
    ready.unlink(missing_ok=True)
    log = open(workdir / "serve.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        dev_command("cluster", "serve", "--dir", str(workdir)),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=dev_env(),
    )
    pidfile.write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise ClusterError(f"control plane did not start; see {workdir / 'serve.log'}")
        time.sleep(0.2)
    apply_defaults(kubeconfig)
    return proc.pid, False


def cluster_down(workdir: Path) -> None:
    """Stop the control plane started by :func:`cluster_up` and remove its directory."""
    pidfile = workdir / "pid"
    if pidfile.exists():
        pid = int(pidfile.read_text())
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
            for _ in range(150):
                if not alive(pid):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(workdir, ignore_errors=True)

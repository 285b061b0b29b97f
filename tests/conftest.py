"""Shared fixtures: one real control plane per test session, one namespace per test."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from eligibility_operator_dev.cluster import apply_defaults
from eligibility_operator_dev.controlplane import ControlPlane, die_with_parent

REPO = Path(__file__).resolve().parent.parent


# The tier of a test is the folder it lives in (as in Kopf's tests/conftest.py): tests/unit needs nothing,
# tests/cluster the session's real control plane, tests/faults control planes of their own, tests/image
# the container image, tests/e2e a real node (its own conftest).
TIER_MARKERS = {"cluster": ("cluster",), "faults": ("cluster", "faults"), "image": ("cluster", "image")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).resolve().parent
    for item in items:
        parts = item.path.resolve().relative_to(tests).parts
        for marker in TIER_MARKERS.get(parts[0], ()) if len(parts) > 1 else ():
            item.add_marker(marker)


class Kubectl:
    """kubectl bound to the test control plane's kubeconfig."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig

    def run(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            text=True,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result

    def apply(
        self,
        *docs: dict[str, Any] | str,
        check: bool = True,
        server_validation_only: bool = False,
        dry_run: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Apply documents. ``server_validation_only`` turns kubectl's client-side check off,
        so that what is tested is the API server's own schema validation."""
        text = "\n---\n".join(d if isinstance(d, str) else yaml.safe_dump(d) for d in docs)
        extra = ["--validate=false"] if server_validation_only else []
        extra += ["--dry-run=server"] if dry_run else []
        return self.run("apply", *extra, "-f", "-", input=text, check=check)

    def get(self, *args: str) -> Any:
        return yaml.safe_load(self.run("get", "-o", "yaml", *args).stdout)

    def assert_refused(self, doc: dict[str, Any], field: str, *, server_validation_only: bool = False) -> None:
        """The API server refuses a namespaced object at apply, naming ``field``, and stores nothing."""
        meta = doc["metadata"]
        result = self.apply(doc, check=False, server_validation_only=server_validation_only)
        assert result.returncode != 0, f"server accepted {doc['kind']} {meta['name']}"
        assert field in result.stderr, result.stderr
        stored = self.run("get", doc["kind"].lower(), meta["name"], "-n", meta["namespace"], check=False)
        assert stored.returncode != 0, f"{doc['kind']} {meta['name']} was stored"


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    with ControlPlane() as plane:
        apply_defaults(plane.kubeconfig)
        yield plane


@pytest.fixture(scope="session")
def kubeconfig(control_plane: ControlPlane) -> Path:
    return control_plane.kubeconfig


@pytest.fixture(scope="session")
def kubectl(kubeconfig: Path) -> Kubectl:
    return Kubectl(kubeconfig)


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test. Without a controller-manager namespaces never finish
    terminating, so the test's objects are deleted explicitly first."""
    name = f"t-{request.node.name[:40].lower().replace('_', '-').strip('-')}-{uuid.uuid4().hex[:5]}"
    name = "".join(c for c in name if c.isalnum() or c == "-")
    kubectl.run("create", "namespace", name)
    yield name
    for kind in ("supportengagements", "deployments", "statefulsets", "daemonsets"):
        kubectl.run("delete", kind, "--all", "-n", name, "--wait=false", check=False)
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(autouse=True)
def _no_proxy() -> None:
    # The tests only talk to loopback; a proxy from the environment would break that.
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        os.environ.pop(var, None)


class OperatorProcess:
    """``eligibility-operator run`` as users start it, against the test control plane."""

    def __init__(self, kubeconfig: Path, log_path: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        from eligibility_operator_dev.controlplane import free_port

        self.metrics_port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "eligibility_operator.cli",
                "run",
                "--metrics-port",
                str(self.metrics_port),
                "--coalesce",
                "0.05",
                *extra,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "KUBECONFIG": str(kubeconfig), **(env or {})},
            preexec_fn=die_with_parent,
        )

    def wait_healthy(self, timeout: float = 30) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"operator exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"operator not healthy within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@contextlib.contextmanager
def running_operator(kubeconfig: Path, log_path: Path, *extra: str) -> Iterator[OperatorProcess]:
    """An operator that is healthy inside the block and stopped after it."""
    proc = OperatorProcess(kubeconfig, log_path, *extra)
    try:
        proc.wait_healthy()
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def operator(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """One operator per test module; each test uses its own namespace and engagements.

    Module scope, so that modules which run an operator of their own (with other credentials,
    or to kill it) do not race a second one writing the same statuses."""
    with running_operator(kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log") as proc:
        yield proc


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")

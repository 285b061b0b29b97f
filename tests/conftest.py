"""Shared fixtures: one real control plane per test session, one namespace per test."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from eligibility_operator.controlplane import ControlPlane
from eligibility_operator.defaults import apply_defaults

REPO = Path(__file__).resolve().parent.parent


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
        self, *docs: dict[str, Any] | str, check: bool = True, server_validation_only: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Apply documents. ``server_validation_only`` turns kubectl's client-side check off,
        so that what is tested is the API server's own schema validation."""
        text = "\n---\n".join(d if isinstance(d, str) else yaml.safe_dump(d) for d in docs)
        extra = ["--validate=false"] if server_validation_only else []
        return self.run("apply", *extra, "-f", "-", input=text, check=check)

    def get(self, *args: str) -> Any:
        return yaml.safe_load(self.run("get", "-o", "yaml", *args).stdout)


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

"""The default CompatibilityMatrix shipped in the package, and applying the defaults."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .api import crdgen

DEFAULT_MATRIX_FILE = "default-matrix.yaml"


@lru_cache(maxsize=1)
def default_matrix_text() -> str:
    return resources.files("eligibility_operator.data").joinpath(DEFAULT_MATRIX_FILE).read_text()


def default_matrix() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(default_matrix_text())
    return document


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

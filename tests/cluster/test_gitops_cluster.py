"""The operator reads Flux HelmReleases on a real API server, read-only, once their CRD exists.

A minimal HelmRelease CRD (schema-less, as far as this test needs) stands in for Flux's. The running
workload stays the truth: the HelmRelease's finding counts until the Deployment it installs runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ..builders import engagement, matrix, workload
from ..conftest import Kubectl, OperatorProcess, wait_for

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "helmreleases.helm.toolkit.fluxcd.io"},
    "spec": {
        "group": "helm.toolkit.fluxcd.io",
        "names": {
            "kind": "HelmRelease",
            "plural": "helmreleases",
            "singular": "helmrelease",
            "listKind": "HelmReleaseList",
        },
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v2",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


@pytest.fixture(scope="module")
def flux_crd(kubectl: Kubectl) -> Iterator[None]:
    kubectl.apply(CRD)
    kubectl.run("wait", "--for=condition=Established", "crd/helmreleases.helm.toolkit.fluxcd.io", "--timeout=30s")
    yield


def products(kubectl: Kubectl, namespace: str) -> list[tuple[str, str, list[str]]]:
    result = kubectl.run("get", "se", "contract", "-n", namespace, "-o", "json", check=False)
    st = json.loads(result.stdout).get("status") or {} if result.returncode == 0 else {}
    return [(p["product"], p["version"], p["workloads"]) for p in st.get("products", [])]


def test_helm_release_counts_until_its_workload_runs(
    flux_crd: None, operator: OperatorProcess, kubectl: Kubectl, namespace: str
) -> None:
    body: dict[str, Any] = matrix(f"m-{namespace}")
    reloader = next(p for p in body["spec"]["products"] if p["name"] == "reloader")
    reloader["recognition"]["charts"] = [{"name": "reloader", "versions": [{"chart": "1.1"}, {"chart": "1.4"}]}]
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "reloader", "namespace": namespace},
        "spec": {"chart": {"spec": {"chart": "reloader", "version": "1.1.0"}}},
    }
    kubectl.apply(body, release, engagement(namespace, matrixRef={"name": f"m-{namespace}"}))
    want = [("reloader", "1.1.0", [f"{namespace}/HelmRelease/reloader"])]
    wait_for(lambda: products(kubectl, namespace) == want, what="the HelmRelease's finding")
    kubectl.apply(workload(namespace, "reloader", "ghcr.io/stakater/reloader:v1.4.21"))
    want = [("reloader", "1.4.21", [f"{namespace}/Deployment/reloader"])]
    wait_for(lambda: products(kubectl, namespace) == want, what="the running workload to win")
    # read only: the operator wrote nothing to the HelmRelease
    got = json.loads(kubectl.run("get", "helmrelease", "reloader", "-n", namespace, "-o", "json").stdout)
    assert "finalizers" not in got["metadata"] and "status" not in got
    assert operator.proc.poll() is None
    kubectl.run("delete", "compatibilitymatrix", f"m-{namespace}", "--wait=false", check=False)

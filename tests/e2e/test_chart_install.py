"""The Helm chart installed on the real cluster, as a Helm user installs it: charts/eligibility-operator
rendered by Helm's own engine (helm-python-sdk) with the e2e image and the webhook in cert mode self, its
crds/ and a Namespace first (``helm install --create-namespace``), then the templates in Helm's install
order. The objects have fixed names (one operator per cluster), so this module runs last
(tests/e2e/conftest.py) and removes deploy/overlays/local's install first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from ..builders import engagement, matrix, workload
from ..chart import CHART, render
from ..cluster.test_deploy import for_this_server
from ..conftest import Kubectl, wait_for
from .conftest import (
    DEPLOYMENT,
    IMAGE,
    NAMESPACE,
    Installation,
    check_self_managed_certificate,
    diagnose,
    operator_pods,
    own_namespace,
    ready_pods,
    refuse_if_installed,
    remove_kustomize_install,
)
from .test_operator_pods import EOL, OK, wait_eligibility

pytest.importorskip("helm_python", reason="helm-python-sdk (test extra, x86_64 only)")

# Helm's install order (pkg/release/util/kind_sorter.go) for the kinds the chart renders; other kinds
# (the default CompatibilityMatrix, the ValidatingWebhookConfiguration) come after them, as in Helm.
HELM_INSTALL_ORDER = [
    "Namespace",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "Deployment",
]


def image_values(reference: str) -> dict[str, str]:
    """The chart's ``image.*`` for an image reference (``repo:tag`` or ``repo@sha256:...``)."""
    if "@" in reference:
        repository, digest = reference.split("@", 1)
        return {"repository": repository, "digest": digest}
    repository, _, tag = reference.rpartition(":")
    if not repository or "/" in tag:  # no tag (a registry port is not one)
        return {"repository": reference, "tag": "latest"}
    return {"repository": repository, "tag": tag}


def values() -> dict[str, Any]:
    """The local image, never pulled when it was loaded into the node; the webhook with the operator's own
    certificate, failing closed. The chart pins no UID (it offers no value for one): the image's applies."""
    pull = "Never" if IMAGE.startswith("localhost/") else "IfNotPresent"
    return {
        "image": {**image_values(IMAGE), "pullPolicy": pull},
        "webhook": {"enabled": True, "certMode": "self", "failurePolicy": "Fail"},
    }


def chart_manifests(kubectl: Kubectl) -> list[dict[str, Any]]:
    """What ``helm install --create-namespace`` sends: the Namespace, crds/, then the templates in Helm's order
    (the PodDisruptionBudget as policy/v1beta1 before 1.21)."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    crds = [yaml.safe_load(p.read_text()) for p in sorted((CHART / "crds").glob("*.yaml"))]
    templates = sorted(
        render(values(), namespace=NAMESPACE),
        key=lambda d: (
            HELM_INSTALL_ORDER.index(d["kind"]) if d["kind"] in HELM_INSTALL_ORDER else len(HELM_INSTALL_ORDER)
        ),
    )
    return [d for d in yaml.safe_load_all(for_this_server(kubectl, yaml.safe_dump_all([namespace, *crds, *templates])))]


@pytest.fixture(scope="module")
def chart_installed(kubectl: Kubectl) -> Iterator[list[dict[str, Any]]]:
    """The chart installed, 2/2 Ready, after deploy/overlays/local's install is removed; removed at the end."""
    remove_kustomize_install()
    refuse_if_installed(kubectl)
    docs = chart_manifests(kubectl)
    installation = Installation(kubectl, docs, "the Helm chart")
    try:
        installation.install()
        yield docs
    finally:
        installation.remove()


@pytest.fixture
def chart_namespace(
    kubectl: Kubectl, chart_installed: list[dict[str, Any]], request: pytest.FixtureRequest
) -> Iterator[str]:
    with own_namespace(kubectl, request) as name:
        yield name


@pytest.fixture
def chart_matrix(kubectl: Kubectl, chart_namespace: str) -> Iterator[str]:
    name = f"m-{chart_namespace}"
    kubectl.apply(matrix(name))
    yield name
    kubectl.run("delete", "compatibilitymatrix", name, "--wait=false", check=False)


def test_the_chart_runs_two_ready_replicas_of_the_image(
    kubectl: Kubectl, chart_installed: list[dict[str, Any]]
) -> None:
    deployment = kubectl.get("deployment", DEPLOYMENT, "-n", NAMESPACE)
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert len(ready_pods(kubectl)) == 2, diagnose(kubectl)
    for pod in operator_pods(kubectl):
        assert pod["spec"]["containers"][0]["image"] == IMAGE
        assert "--webhook-cert-mode" in pod["spec"]["containers"][0]["args"]
        restarts = sum(s.get("restartCount", 0) for s in pod["status"].get("containerStatuses", []))
        assert restarts == 0, diagnose(kubectl)


def test_an_engagement_gets_a_status(kubectl: Kubectl, chart_namespace: str, chart_matrix: str) -> None:
    kubectl.apply(workload(chart_namespace, "r", OK), engagement(chart_namespace, matrixRef={"name": chart_matrix}))
    st = wait_eligibility(kubectl, chart_namespace, "Eligible")
    assert [p["workloads"] for p in st["products"]] == [[f"{chart_namespace}/Deployment/r"]]


def test_enforce_refuses_an_end_of_life_reloader_through_the_service(
    kubectl: Kubectl, chart_installed: list[dict[str, Any]], chart_namespace: str, chart_matrix: str
) -> None:
    assert not [d for d in chart_installed if d["kind"] == "Secret"]  # the operator makes its certificate
    kubectl.apply(engagement(chart_namespace, matrixRef={"name": chart_matrix}, enforcement={"mode": "Enforce"}))
    wait_for(
        lambda: (
            "denied the request"
            in kubectl.apply(workload(chart_namespace, "probe", EOL), check=False, dry_run=True).stderr
        ),
        timeout=60,
        what="the webhook to enforce",
    )
    result = kubectl.apply(workload(chart_namespace, "old", EOL), check=False)
    assert result.returncode != 0
    assert 'admission webhook "workloads.support.stakater.com" denied the request' in result.stderr
    assert "reloader 1.1.0 is end of life since" in result.stderr
    assert kubectl.run("get", "deployment", "old", "-n", chart_namespace, check=False).returncode != 0
    assert kubectl.apply(workload(chart_namespace, "new", OK)).returncode == 0
    check_self_managed_certificate(kubectl)

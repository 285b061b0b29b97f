"""Who may reach and read what: aggregated roles for people, NetworkPolicies for the operator's ports."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from ..conftest import REPO, Kubectl

AGGREGATED = REPO / "deploy/base/rbac-aggregated.yaml"


def _render(directory: str) -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(REPO / directory)], capture_output=True, text=True, check=True)
    return list(yaml.safe_load_all(out.stdout))


def test_roles_aggregate_into_the_default_roles() -> None:
    roles = {d["metadata"]["name"]: d for d in yaml.safe_load_all(AGGREGATED.read_text())}
    view = roles["eligibility-operator-view"]["metadata"]["labels"]
    edit = roles["eligibility-operator-edit"]["metadata"]["labels"]
    for target in ("view", "edit", "admin"):
        assert view[f"rbac.authorization.k8s.io/aggregate-to-{target}"] == "true"
    assert "rbac.authorization.k8s.io/aggregate-to-view" not in edit  # readers never write
    assert edit["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"


@pytest.mark.cluster
def test_aggregated_roles_grant_read_and_spec_edit_only(kubectl: Kubectl, namespace: str) -> None:
    # The test control plane runs no controller-manager, so nothing aggregates: bind the roles directly.
    kubectl.run("apply", "-f", str(AGGREGATED))
    for user, role in (("sre", "eligibility-operator-view"), ("tenant", "eligibility-operator-edit")):
        kubectl.run(
            "create", "rolebinding", f"{user}-{role}", f"--clusterrole={role}", f"--user={user}", "-n", namespace
        )
    kubectl.run(
        "create",
        "rolebinding",
        "tenant-view",
        "--clusterrole=eligibility-operator-view",
        "--user=tenant",
        "-n",
        namespace,
    )

    def can(user: str, *args: str) -> bool:
        result = kubectl.run("auth", "can-i", "--as", user, *args, check=False)
        return result.stdout.strip() == "yes"

    se = "supportengagements.support.stakater.com"
    assert can("sre", "list", se, "-n", namespace) and can("sre", "get", se, "-n", namespace)
    assert not can("sre", "create", se, "-n", namespace) and not can("sre", "delete", se, "-n", namespace)
    assert not can("sre", "list", se, "-n", "default")  # only where bound
    assert can("tenant", "create", se, "-n", namespace) and can("tenant", "patch", se, "-n", namespace)
    assert not can("tenant", "patch", se, "--subresource=status", "-n", namespace)  # status is the operator's
    assert not can("tenant", "create", "compatibilitymatrices.support.stakater.com")
    assert not can("tenant", "get", "secrets", "-n", namespace)


def _policies(directory: str) -> list[dict[str, Any]]:
    return [d for d in _render(directory) if d["kind"] == "NetworkPolicy"]


def test_base_admits_only_metrics_from_the_monitoring_namespaces() -> None:
    (policy,) = _policies("deploy/base")
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "eligibility-operator"}
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    (source,) = rule["from"]
    (expression,) = source["namespaceSelector"]["matchExpressions"]
    assert expression["key"] == "kubernetes.io/metadata.name" and expression["operator"] == "In"
    # Prometheus where plain Kubernetes (kube-prometheus) and OpenShift (cluster and user-workload) run it
    assert expression["values"] == ["monitoring", "openshift-monitoring", "openshift-user-workload-monitoring"]


def test_webhook_overlay_opens_the_webhook_port_and_nothing_else() -> None:
    """The API server calls webhooks from addresses no selector names (node addresses, managed control
    planes), so the webhook's policy opens its port to any source (deploy/components/webhook says why),
    and only that port."""
    policies = {p["metadata"]["name"]: p for p in _policies("deploy/overlays/cert-manager")}
    assert set(policies) == {"eligibility-operator", "eligibility-operator-webhook"}
    (rule,) = policies["eligibility-operator-webhook"]["spec"]["ingress"]
    assert rule == {"ports": [{"port": 9443, "protocol": "TCP"}]}
    deployment = next(d for d in _render("deploy/overlays/cert-manager") if d["kind"] == "Deployment")
    ports = {p["containerPort"] for c in deployment["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
    assert ports == {8080, 9443}  # every port the pod opens is covered by a policy

"""The operator reads OLM Subscriptions and InstallPlans on a real API server, read-only, and agrees with
``check`` on the same objects.

Minimal CRDs the test owns (schema-less, with the status subresource as OLM's own) stand in for OLM's;
they exist before the operator starts, as on a cluster where OLM is installed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eligibility_operator.api.models import SupportEngagementSpec
from eligibility_operator.core.compat.matrix import load_matrix
from eligibility_operator.offline.check import check

from ..builders import OLM_CRDS, engagement, matrix
from ..conftest import Kubectl, OperatorProcess, wait_for

OLM = "operators.coreos.com"


@pytest.fixture(scope="module")
def olm_crds(kubectl: Kubectl) -> Iterator[None]:
    """Before ``operator`` (module scope, requested after this): the watches find the API served at once."""
    kubectl.apply(*OLM_CRDS)
    for plural in ("subscriptions", "installplans"):
        kubectl.run("wait", "--for=condition=Established", f"crd/{plural}.{OLM}", "--timeout=30s")
    yield


def mto_matrix(name: str) -> dict[str, Any]:
    body = matrix(name)
    today = dt.datetime.now(dt.UTC).date()
    body["spec"]["products"].append(
        {
            "name": "multi-tenant-operator",
            "recognition": {"olmPackages": ["tenant-operator"]},
            "releases": [
                {"version": "1.8", "released": (today - dt.timedelta(days=400)).isoformat(), "latest": "1.8.3"},
                {"version": "1.9", "released": (today - dt.timedelta(days=100)).isoformat(), "latest": "1.9.1"},
            ],
        }
    )
    return body


def status(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    result = kubectl.run("get", "se", "contract", "-n", namespace, "-o", "json", check=False)
    return (json.loads(result.stdout).get("status") or {}) if result.returncode == 0 else {}


def products(kubectl: Kubectl, namespace: str) -> list[tuple[str, str, list[str]]]:
    return [(p["product"], p["version"], p["workloads"]) for p in status(kubectl, namespace).get("products", [])]


def checked(kubectl: Kubectl, namespace: str, tmp_path: Path, spec: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """``check`` over the same objects, as ``kubectl get -o yaml`` dumps them."""
    dump = kubectl.run("get", f"subscriptions.{OLM},installplans.{OLM}", "-n", namespace, "-o", "yaml").stdout
    (tmp_path / "dump.yaml").write_text(dump)
    compiled = load_matrix("m", 1, spec)
    engagement_spec = SupportEngagementSpec.model_validate(engagement(namespace)["spec"])
    result = check([tmp_path], engagement_spec, compiled)
    assert result.problems == []
    return [(p.product, p.version, p.workloads) for p in result.status.products]


def test_subscription_and_install_plan_in_the_cluster_as_in_check(
    olm_crds: None, operator: OperatorProcess, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    body = mto_matrix(f"m-{namespace}")
    subscription = {
        "apiVersion": f"{OLM}/v1alpha1",
        "kind": "Subscription",
        "metadata": {"name": "tenant-operator", "namespace": namespace},
        "spec": {
            "channel": "stable",
            "installPlanApproval": "Automatic",
            "name": "tenant-operator",
            "source": "certified-operators",
            "sourceNamespace": "openshift-marketplace",
            "startingCSV": "tenant-operator.v1.8.0",
        },
    }
    kubectl.apply(body, subscription, engagement(namespace, matrixRef={"name": f"m-{namespace}"}))
    ref = f"{namespace}/Subscription/tenant-operator"

    # 1. only startingCSV, automatic approval: Unknown, Limited, the customer shows the installed CSV
    wait_for(lambda: products(kubectl, namespace) == [("multi-tenant-operator", "Unknown", [ref])], what="Unknown")
    [product] = status(kubectl, namespace)["products"]
    assert product["eligibility"] == "Limited" and product["actionOwner"] == "Customer"
    assert "installed at least 1.8.0; OLM upgrades along channel stable" in product["reason"]
    assert checked(kubectl, namespace, tmp_path, body["spec"]) == products(kubectl, namespace)

    # 2. an approved InstallPlan of the package tells the version
    plan = {
        "apiVersion": f"{OLM}/v1alpha1",
        "kind": "InstallPlan",
        "metadata": {"name": "install-abcde", "namespace": namespace},
        "spec": {"clusterServiceVersionNames": ["tenant-operator.v1.9.0"], "approval": "Automatic", "approved": True},
    }
    kubectl.apply(plan)
    wait_for(lambda: products(kubectl, namespace) == [("multi-tenant-operator", "1.9.0", [ref])], what="InstallPlan")
    assert status(kubectl, namespace)["products"][0]["versionSource"] == "InstallPlan install-abcde"
    assert checked(kubectl, namespace, tmp_path, body["spec"]) == products(kubectl, namespace)

    # 3. status.installedCSV (written by OLM through the status subresource) comes first
    patch = json.dumps({"status": {"installedCSV": "tenant-operator.v1.9.1", "currentCSV": "tenant-operator.v1.9.1"}})
    kubectl.run(
        "patch", f"subscriptions.{OLM}", "tenant-operator", "-n", namespace,
        "--subresource=status", "--type=merge", "-p", patch,
    )  # fmt: skip
    wait_for(lambda: products(kubectl, namespace) == [("multi-tenant-operator", "1.9.1", [ref])], what="installedCSV")
    assert status(kubectl, namespace)["eligibility"] == "Eligible"
    assert checked(kubectl, namespace, tmp_path, body["spec"]) == products(kubectl, namespace)

    # 4. gone: no product left
    kubectl.run("delete", f"subscriptions.{OLM}", "tenant-operator", "-n", namespace)
    wait_for(
        lambda: (
            products(kubectl, namespace)
            == [("multi-tenant-operator", "1.9.0", [f"{namespace}/InstallPlan/install-abcde"])]
        ),
        what="the InstallPlan alone",
    )

    # read only: the operator wrote nothing to OLM's objects
    got = json.loads(kubectl.run("get", f"installplans.{OLM}", "install-abcde", "-n", namespace, "-o", "json").stdout)
    assert "finalizers" not in got["metadata"] and "status" not in got
    assert operator.proc.poll() is None
    kubectl.run("delete", "compatibilitymatrix", f"m-{namespace}", "--wait=false", check=False)

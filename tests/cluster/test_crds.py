"""The API as served: generated CRDs match the committed ones, and the server validates input."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from eligibility_operator.api import crdgen
from eligibility_operator.offline.loading import default_matrix_text

from ..conftest import REPO, Kubectl


def test_committed_crds_match_the_models() -> None:
    for filename, builder in crdgen.CRD_FILES.items():
        committed = (REPO / "crds" / filename).read_text()
        assert committed == crdgen.render(builder), f"crds/{filename} drifted: run `make crds`"


def test_deploy_copy_of_default_matrix_matches_the_package() -> None:
    assert (REPO / "deploy" / "base" / "default-matrix.yaml").read_text() == default_matrix_text()


def test_no_cel_rules_in_crds() -> None:
    assert "x-kubernetes-validations" not in crdgen.render_all()


def _engagement(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"customer": "ACME", "type": "ProductSupport", "plan": "Standard"}
    base.update(spec)
    return {
        "apiVersion": "support.stakater.com/v1alpha1",
        "kind": "SupportEngagement",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {k: v for k, v in base.items() if v is not None},
    }


@pytest.mark.cluster
def test_default_matrix_is_served(kubectl: Kubectl) -> None:
    matrix = kubectl.get("compatibilitymatrix", "default")
    names = [p["name"] for p in matrix["spec"]["products"]]
    assert {"reloader", "forecastle", "ingressmonitorcontroller", "multi-tenant-operator"} <= set(names)


@pytest.mark.cluster
def test_valid_engagement_is_accepted_with_defaults(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(_engagement(namespace, "valid", plan="Premium", products=[{"name": "reloader"}]))
    got = kubectl.get("se", "valid", "-n", namespace)
    # No server default: the operator applies 90 days under Premium, and can tell a Standard plan that sets it
    # that it has no effect there.
    assert "upgradeHorizonDays" not in got["spec"]
    assert got["spec"]["serviceCredits"] == {"definedInAgreement": False, "applyUnderLimitedSupport": False}
    assert "contractedServices" not in got["spec"]
    assert got["spec"]["products"] == [{"name": "reloader", "edition": "Community"}]
    assert got["spec"]["enforcement"]["mode"] == "Audit"
    assert got["spec"]["versionManagement"] == "Customer"


MALFORMED = [
    ("wrong-type-enum", {"type": "Gold"}, "spec.type"),
    ("unknown-plan", {"plan": "Platinum"}, "spec.plan"),
    ("missing-customer", {"customer": None}, "spec.customer"),
    ("missing-type", {"type": None}, "spec.type"),
    ("missing-plan", {"plan": None}, "spec.plan"),
    ("negative-horizon", {"upgradeHorizonDays": -5}, "spec.upgradeHorizonDays"),
    ("horizon-not-integer", {"upgradeHorizonDays": "ninety"}, "spec.upgradeHorizonDays"),
    ("products-not-a-list", {"products": "reloader"}, "spec.products"),
    ("product-without-name", {"products": [{"edition": "Enterprise"}]}, "spec.products"),
    ("unknown-edition", {"products": [{"name": "reloader", "edition": "Gold"}]}, "spec.products.edition"),
    ("unknown-enforcement", {"enforcement": {"mode": "Block"}}, "spec.enforcement.mode"),
    ("empty-customer", {"customer": ""}, "spec.customer"),
    ("bad-severity", {"responseTargets": [{"severity": "P9", "firstResponse": "1h"}]}, "spec.responseTargets"),
    ("bad-version-owner", {"versionManagement": "Nobody"}, "spec.versionManagement"),
]


@pytest.mark.cluster
@pytest.mark.parametrize(("name", "spec", "field"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_engagement_is_rejected_naming_the_field(
    kubectl: Kubectl, namespace: str, name: str, spec: dict[str, Any], field: str
) -> None:
    kubectl.assert_refused(_engagement(namespace, name, **spec), field, server_validation_only=True)


@pytest.mark.cluster
def test_malformed_matrix_is_rejected(kubectl: Kubectl) -> None:
    doc = yaml.safe_load(default_matrix_text())
    doc["metadata"]["name"] = "broken-release-date"
    doc["spec"]["products"][0]["releases"][0]["released"] = "last tuesday"
    result = kubectl.apply(doc, check=False, server_validation_only=True)
    assert result.returncode != 0
    assert "spec.products.releases.released" in result.stderr, result.stderr


@pytest.mark.cluster
def test_explain_shows_field_descriptions(kubectl: Kubectl) -> None:
    import time

    for _ in range(20):  # discovery of new CRDs can lag a moment
        result = kubectl.run("explain", "supportengagement.spec.upgradeHorizonDays", check=False)
        if result.returncode == 0:
            break
        time.sleep(0.5)
    assert "Premium only" in result.stdout, result.stderr

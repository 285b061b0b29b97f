"""core/policy against the policy text it encodes (/work/shared/reference, copied facts below)."""

from __future__ import annotations

from typing import Any

import pytest

from eligibility_operator.api.models import Party, SupportEngagementSpec
from eligibility_operator.core.verdict.policy import (
    MAINTAINING_VERSIONS,
    response_targets,
    responsibilities,
    scope,
    stakater_maintains_versions,
)

# Service Scope & Responsibilities, section 3 (customer list) and the support plans' first-response table.
CUSTOMER_ITEMS = {
    "Accurate severity classification",
    "Providing timely and complete information during investigation",
    MAINTAINING_VERSIONS,
    "Secure configuration of customer workloads",
    "Application-level debugging and validation",
    "Compliance with licensing obligations for third-party software",
    "Acting on recommendations provided by Stakater",
}
FIRST_RESPONSE = {
    "Standard": {
        "P1": "8 business hours",
        "P2": "12 business hours",
        "P3": "24 business hours",
        "P4": "24 business hours",
    },
    "Premium": {"P1": "1 hour", "P2": "2 hours", "P3": "4 hours", "P4": "1 business day"},
}


def spec(**fields: Any) -> SupportEngagementSpec:
    body: dict[str, Any] = {"customer": "acme", "type": "ProductSupport", "plan": "Standard"}
    body.update(fields)
    return SupportEngagementSpec.model_validate(body)


def owners(s: SupportEngagementSpec) -> dict[str, Party]:
    return {r.item: Party(r.owner) for r in responsibilities(s)}


def test_customer_responsibilities_follow_section_3() -> None:
    table = owners(spec())
    assert {item for item, owner in table.items() if owner == Party.CUSTOMER} >= CUSTOMER_ITEMS
    assert table["Third-party and upstream vendor issues"] == Party.SHARED
    assert table["Implementing fixes for product defects"] == Party.STAKATER


def test_versions_are_the_customers_unless_a_managed_service_agreement_says_otherwise() -> None:
    assert not stakater_maintains_versions(spec())
    assert not stakater_maintains_versions(spec(type="ManagedService"))
    managed = spec(type="ManagedService", versionManagement="Stakater")
    assert stakater_maintains_versions(managed)
    assert owners(managed)[MAINTAINING_VERSIONS] == Party.STAKATER
    assert owners(spec(type="ManagedService"))[MAINTAINING_VERSIONS] == Party.CUSTOMER


def test_infrastructure_management_is_stakaters_only_for_managed_services() -> None:
    item = "Management of supported infrastructure components"
    assert owners(spec())[item] == Party.CUSTOMER
    assert owners(spec(type="ManagedService"))[item] == Party.STAKATER


def test_scope_boundaries_follow_section_4_and_lifecycle_guidance_the_plan() -> None:
    product = scope(spec(), ["Argo CD"])
    assert "Documented integration: Argo CD" in product.included
    assert "Full infrastructure management (unless explicitly contracted)" in product.excluded
    assert "Upgrade and lifecycle guidance (reactive, on request)" in product.included
    managed = scope(spec(type="ManagedService", plan="Premium"), [])
    assert "Platform-level monitoring and remediation" in managed.included
    assert "Upgrade and lifecycle guidance (proactive)" in managed.included
    assert "Custom feature development" in managed.excluded


@pytest.mark.parametrize("plan", ["Standard", "Premium"])
def test_first_response_targets_are_the_published_ones(plan: str) -> None:
    targets = {t.severity: t.first_response for t in response_targets(spec(plan=plan))}
    assert targets == FIRST_RESPONSE[plan]


def test_a_contracted_target_overrides_the_published_one() -> None:
    s = spec(plan="Premium", responseTargets=[{"severity": "P1", "firstResponse": "30 minutes"}])
    targets = {t.severity: t.first_response for t in response_targets(s)}
    assert targets["P1"] == "30 minutes" and targets["P2"] == "2 hours"

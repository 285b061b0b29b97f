"""core.scope_rules: each rule on its own (decides its case, passes on others), and their order."""

from __future__ import annotations

from typing import Any

import pytest

from eligibility_operator.api.models import SupportEngagementSpec
from eligibility_operator.api.requests import Route, Scope, SupportRequestSpec
from eligibility_operator.core.requests import scope_rules as rules
from eligibility_operator.core.requests.inputs import Affected, EngagementView, TriageInput

from ..builders import default_compiled, engagement


def case(
    category: str,
    *,
    products: tuple[str, ...] = (),
    apps: tuple[str, ...] = (),
    contracted: tuple[str, ...] = (),
    managed: bool = False,
    **request: Any,
) -> rules.ScopeCase:
    spec = engagement("shop", covers=["shop"], type="ManagedService" if managed else "ProductSupport")["spec"]
    if managed:
        spec["versionManagement"] = "Stakater"
    view = EngagementView("shop", "contract", SupportEngagementSpec.model_validate(spec), None, frozenset(contracted))
    req = SupportRequestSpec.model_validate({"category": category, "title": "t", **request})
    inp = TriageInput(req, "shop", view, None, default_compiled(), {})
    return rules.ScopeCase(inp, view, Affected([], set(products), list(apps)))


def test_the_rules_are_tried_in_the_policys_order() -> None:
    assert [r.__name__ for r in rules.SCOPE_RULES] == [
        "not_covered",
        "vendor_incident",
        "customer_application",
        "product_support",
        "third_party",
        "infrastructure",
        "change_or_feature",
        "exclusion",
    ]


def test_not_covered_names_the_namespace_or_the_product() -> None:
    assert rules.not_covered(case("Incident", workloads=["shop/Deployment/a"])) is None
    outside = rules.not_covered(case("Incident", workloads=["tools/Deployment/a"]))
    assert outside is not None and outside[:2] == (Scope.NOT_COVERED, Route.COMMERCIAL_APPROVAL)
    assert "namespace 'tools' of tools/Deployment/a is not covered" in outside[2]


def test_vendor_incident_only_for_incidents_naming_a_vendor() -> None:
    assert rules.vendor_incident(case("Incident")) is None
    assert rules.vendor_incident(case("Question", vendor="cert-manager")) is None
    decided = rules.vendor_incident(case("Incident", vendor="cert-manager"))
    assert decided is not None and decided[:2] == (Scope.THIRD_PARTY, Route.SHARED)


def test_customer_application_is_excluded_unless_contracted() -> None:
    assert rules.customer_application(case("Incident", products=("reloader",), apps=("shop/Deployment/x",))) is None
    assert rules.customer_application(case("Incident", apps=("x",), managed=True)) is None
    excluded = rules.customer_application(case("Incident", apps=("shop/Deployment/x",)))
    assert excluded is not None and excluded[0] == Scope.EXCLUDED and "runs no Stakater product" in excluded[2]
    contracted = rules.customer_application(case("Incident", apps=("x",), contracted=("ApplicationCode",)))
    assert contracted is not None and contracted[0] == Scope.IN_SCOPE
    assert contracted[2].endswith("spec.contractedServices (ApplicationCode)")


@pytest.mark.parametrize("category", ["Incident", "Question", "UpgradeGuidance"])
def test_product_support_is_in_scope(category: str) -> None:
    decided = rules.product_support(case(category))
    assert decided is not None and decided[:2] == (Scope.IN_SCOPE, Route.SUPPORT) and "section 1" in decided[2]
    assert rules.product_support(case("SecurityAssessment")) is None


def test_third_party_needs_a_supported_component() -> None:
    assert rules.third_party(case("Incident")) is None
    alone = rules.third_party(case("ThirdParty"))
    assert alone is not None and alone[0] == Scope.EXCLUDED
    related = rules.third_party(case("ThirdParty", products=("reloader",)))
    assert related is not None and related[0] == Scope.THIRD_PARTY and "related to reloader" in related[2]


def test_infrastructure_is_covered_by_a_managed_service_or_a_contract() -> None:
    assert rules.infrastructure(case("Incident")) is None
    assert rules.infrastructure(case("Infrastructure"))[0] == Scope.EXCLUDED  # type: ignore[index]
    assert rules.infrastructure(case("Infrastructure", managed=True))[0] == Scope.IN_SCOPE  # type: ignore[index]
    contracted = rules.infrastructure(case("Infrastructure", contracted=("InfrastructureManagement",)))
    assert contracted is not None and contracted[0] == Scope.IN_SCOPE


def test_changes_and_features_are_scoped_when_contracted_else_need_approval() -> None:
    assert rules.change_or_feature(case("Question")) is None
    assert rules.change_or_feature(case("FeatureRequest"))[1] == Route.COMMERCIAL_APPROVAL  # type: ignore[index]
    scoped = rules.change_or_feature(case("ChangeRequest", managed=True))
    assert scoped is not None and scoped[1] == Route.SCOPED_ENGAGEMENT and "managed-service agreement" in scoped[2]


def test_exclusions_come_back_into_scope_only_when_contracted() -> None:
    assert rules.exclusion(case("Incident")) is None
    excluded = rules.exclusion(case("SecurityAssessment"))
    assert excluded is not None and excluded[:2] == (Scope.EXCLUDED, Route.PROFESSIONAL_SERVICES)
    contracted = rules.exclusion(case("SecurityAssessment", contracted=("SecurityAssessment",)))
    assert contracted is not None and contracted[0] == Scope.IN_SCOPE


def test_every_category_is_decided_by_some_rule() -> None:
    from eligibility_operator.api.requests import RequestCategory

    for category in RequestCategory:
        scope, _, reason = rules.decide_scope(*_parts(case(category.value)))
        assert scope in Scope and reason


def _parts(c: rules.ScopeCase) -> tuple[TriageInput, EngagementView, Affected]:
    return c.inp, c.view, c.affected

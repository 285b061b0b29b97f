"""Engagement evaluation against a small hand-built matrix with dates relative to a fixed day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from eligibility_operator.api.models import (
    Condition,
    ConditionStatus,
    Edition,
    Eligibility,
    Lifecycle,
    Party,
    ProductStatus,
    SupportEngagementSpec,
)
from eligibility_operator.core.compat.matrix import CompiledMatrix, load_matrix
from eligibility_operator.core.compat.versions import parse_version
from eligibility_operator.core.products.detection import Detection
from eligibility_operator.core.verdict.evaluation import (
    CONDITION_TYPES,
    Evaluation,
    Platform,
    evaluate,
    horizon_days,
    judge,
    not_ready,
)

from ..builders import TODAY, days, engagement_spec, listing_platforms, small_matrix_spec

MATRIX = load_matrix("test", 3, small_matrix_spec())
# The same, listing Kubernetes 1.19-1.34 and OpenShift 4.12-4.19: reloader's range (up to 1.33) and
# konfigurator's (up to 4.18) stop short of lines the matrix knows, a documented incompatibility.
LISTING = load_matrix("test", 3, listing_platforms(small_matrix_spec()))
KUBE = Platform(kubernetes="v1.30.2")
WL = "team-a/Deployment/reloader"


def det(product: str, version: str | None, edition: Edition | None = Edition.COMMUNITY, reason: str = "") -> Detection:
    return Detection(product, edition, parse_version(version) if version else None, "image", reason)


def spec(**overrides: Any) -> SupportEngagementSpec:
    return SupportEngagementSpec.model_validate(engagement_spec(**overrides))


def run(
    engagement: SupportEngagementSpec,
    found: list[tuple[str, Detection]],
    platform: Platform = KUBE,
    today: dt.date = TODAY,
    matrix: CompiledMatrix = MATRIX,
) -> Evaluation:
    return evaluate(engagement, matrix, found, platform, today, generation=7)


def conditions(result: Evaluation) -> dict[str, Condition]:
    return {c.type: c for c in result.status.conditions}


def product(result: Evaluation, name: str) -> ProductStatus:
    matches = [p for p in result.status.products if p.product == name]
    assert len(matches) == 1, result.status.products
    return matches[0]


def date(n: int) -> dt.date:
    return dt.date.fromisoformat(days(n))


# -------------------------------------------------------------------- eligible


FC = ("tools/Deployment/forecastle", det("forecastle", "v2.0.1"))  # an eligible product beside the one under test


def test_all_supported_is_eligible() -> None:
    result = run(spec(), [(WL, det("reloader", "1.4.21")), FC])
    status = result.status
    assert status.eligibility == Eligibility.ELIGIBLE
    assert status.reason == "all covered product versions are eligible"
    assert result.reasons == ()
    assert (status.products_out_of_support, status.products_not_eligible) == (0, 0)
    assert status.observed_generation == 7
    assert status.matrix == "test"
    assert [(p.product, p.version, p.lifecycle, p.eligibility) for p in status.products] == [
        ("forecastle", "2.0.1", Lifecycle.SUPPORTED, Eligibility.ELIGIBLE),
        ("reloader", "1.4.21", Lifecycle.SUPPORTED, Eligibility.ELIGIBLE),
    ]
    reloader = product(result, "reloader")
    assert reloader.end_of_support is None
    assert reloader.recommended_version == "1.4.21"
    assert reloader.action_owner is None
    assert reloader.workloads == [WL]
    assert reloader.workload_count == 1
    assert reloader.reason == "release line 1.4 is supported"

    conds = conditions(result)
    assert list(conds) == list(CONDITION_TYPES)
    assert {t: (c.status, c.reason) for t, c in conds.items()} == {
        "Ready": (ConditionStatus.TRUE, "Evaluated"),
        "Eligible": (ConditionStatus.TRUE, "Eligible"),
        "AgreementInForce": (ConditionStatus.TRUE, "InForce"),
        "VersionsSupported": (ConditionStatus.TRUE, "AllVersionsSupported"),
        "PlatformCompatible": (ConditionStatus.TRUE, "Compatible"),
        "UpgradeRecommended": (ConditionStatus.FALSE, "NoUpgradeNeeded"),
    }
    assert all(c.observed_generation == 7 for c in conds.values())
    assert conds["Ready"].message == "evaluated against CompatibilityMatrix 'test'"


def test_nothing_found_is_eligible_with_explanation() -> None:
    result = run(spec(), [])
    assert result.status.eligibility == Eligibility.ELIGIBLE
    assert result.status.reason == "no covered Stakater product found"
    assert conditions(result)["Eligible"].message == "no covered Stakater product found in the covered namespaces"
    assert result.status.products == []


# ------------------------------------------------------ per-product eligibility


def test_end_of_life_beside_a_supported_product_is_limited_support() -> None:
    result = run(
        spec(), [(WL, det("reloader", "v1.1.0")), ("team-b/Deployment/reloader", det("reloader", "1.1.0")), FC]
    )
    status = result.status
    assert status.eligibility == Eligibility.LIMITED
    assert status.reason == "Limited Support: reloader 1.1.0 (customer action)"
    assert len(result.reasons) == 1
    reason = result.reasons[0]
    assert reason.startswith("customer action: upgrade reloader 1.1.0 to 1.4.21 (release line 1.1 reached end of ")
    assert reason.endswith("in team-a/Deployment/reloader, team-b/Deployment/reloader")

    p = product(result, "reloader")
    assert (p.lifecycle, p.eligibility, p.action_owner) == (
        Lifecycle.END_OF_LIFE,
        Eligibility.INELIGIBLE,
        Party.CUSTOMER,
    )
    assert p.end_of_support == date(-30)
    assert p.reason == f"release line 1.1 reached end of support on {days(-30)}; upgrade to 1.4.21"
    assert p.workload_count == 2
    assert product(result, "forecastle").eligibility == Eligibility.ELIGIBLE
    assert (status.products_out_of_support, status.products_not_eligible) == (1, 1)

    conds = conditions(result)
    assert (conds["Eligible"].status, conds["Eligible"].reason) == (ConditionStatus.FALSE, "Limited")
    message = conds["Eligible"].message
    assert message.startswith("Limited Support: support cannot be confirmed or does not apply for 1 of 2 ")
    assert "customer action: upgrade reloader 1.1.0 to 1.4.21" in message
    assert message.endswith("Still fully supported: forecastle 2.0.1")
    assert (conds["VersionsSupported"].status, conds["VersionsSupported"].reason) == (
        ConditionStatus.FALSE,
        "EndOfLifeVersions",
    )
    assert (conds["UpgradeRecommended"].status, conds["UpgradeRecommended"].reason) == (
        ConditionStatus.TRUE,
        "EndOfLife",
    )


def test_only_end_of_life_versions_is_ineligible() -> None:
    result = run(spec(), [(WL, det("reloader", "1.1.0"))])
    assert result.status.eligibility == Eligibility.INELIGIBLE
    assert result.status.reason == "no covered product version is eligible: reloader 1.1.0 (customer action)"
    assert conditions(result)["Eligible"].message.startswith(
        "no covered product version is eligible: customer action: upgrade reloader 1.1.0 to 1.4.21"
    )


def test_version_older_than_oldest_line_is_end_of_life() -> None:
    result = run(spec(), [(WL, det("reloader", "1.0.5"))])
    p = product(result, "reloader")
    assert p.lifecycle == Lifecycle.END_OF_LIFE
    assert p.end_of_support is None
    assert p.reason == "1.0.5 is older than the oldest release line in the matrix (1.1); upgrade to 1.4.21"
    assert p.eligibility == Eligibility.INELIGIBLE


def test_day_after_end_of_support_is_end_of_life_and_the_day_itself_is_not() -> None:
    found = [(WL, det("reloader", "1.2.0"))]
    assert product(run(spec(), found, today=date(46)), "reloader").lifecycle == Lifecycle.END_OF_LIFE
    assert product(run(spec(), found, today=date(45)), "reloader").lifecycle != Lifecycle.END_OF_LIFE


def test_several_affected_products_are_each_named_with_their_owner() -> None:
    found = [(WL, det("reloader", "1.1.0")), ("x/Deployment/f", det("forecastle", "1.0.0")), FC]
    result = run(spec(), found)
    assert result.status.eligibility == Eligibility.LIMITED
    assert len(result.reasons) == 2
    assert result.status.reason == (
        "Limited Support: forecastle 1.0.0 (customer action), reloader 1.1.0 (customer action)"
    )
    assert (result.status.products_out_of_support, result.status.products_not_eligible) == (2, 2)


# ------------------------------------------------------------ upgrade horizon


def test_premium_within_horizon_is_deprecated_eligible_and_recommends_upgrade() -> None:
    result = run(spec(plan="Premium"), [(WL, det("reloader", "1.2.0"))])
    p = product(result, "reloader")
    assert (p.lifecycle, p.eligibility) == (Lifecycle.DEPRECATED, Eligibility.ELIGIBLE)
    assert p.end_of_support == date(45)
    assert p.action_owner == Party.CUSTOMER
    assert "in 45 days (within the 90-day upgrade horizon)" in p.reason
    assert result.status.eligibility == Eligibility.ELIGIBLE
    assert result.status.products_out_of_support == 0
    upgrade = conditions(result)["UpgradeRecommended"]
    assert (upgrade.status, upgrade.reason) == (ConditionStatus.TRUE, "EndOfSupportApproaching")
    assert upgrade.message.startswith("customer action: upgrade reloader 1.2.0 to 1.4.21 in team-a/Deployment/reloader")
    assert conditions(result)["VersionsSupported"].status == ConditionStatus.TRUE


def test_standard_same_version_is_supported_without_upgrade_recommendation() -> None:
    result = run(spec(plan="Standard"), [(WL, det("reloader", "1.2.0"))])
    p = product(result, "reloader")
    assert p.lifecycle == Lifecycle.SUPPORTED
    assert p.end_of_support == date(45)
    assert p.action_owner is None
    assert p.reason == f"release line 1.2 is supported until {days(45)}"
    upgrade = conditions(result)["UpgradeRecommended"]
    assert (upgrade.status, upgrade.reason, upgrade.message) == (
        ConditionStatus.FALSE,
        "NoUpgradeNeeded",
        "no upgrade needed",
    )


def test_standard_says_that_the_upgrade_horizon_is_ignored() -> None:
    result = run(spec(plan="Standard", upgradeHorizonDays=120), [(WL, det("reloader", "1.2.0"))])
    assert product(result, "reloader").lifecycle == Lifecycle.SUPPORTED
    message = conditions(result)["UpgradeRecommended"].message
    assert message == (
        "no upgrade needed; spec.upgradeHorizonDays (120) is ignored under the Standard plan: "
        "upgrade guidance is reactive (on request), so there is no advance warning"
    )


@pytest.mark.parametrize(("horizon", "lifecycle"), [(44, Lifecycle.SUPPORTED), (45, Lifecycle.DEPRECATED)])
def test_premium_horizon_boundary(horizon: int, lifecycle: Lifecycle) -> None:
    result = run(spec(plan="Premium", upgradeHorizonDays=horizon), [(WL, det("reloader", "1.2.0"))])
    assert product(result, "reloader").lifecycle == lifecycle


def test_horizon_days_only_for_premium() -> None:
    assert horizon_days(spec(plan="Premium", upgradeHorizonDays=30)) == 30
    assert horizon_days(spec(plan="Premium")) == 90
    assert horizon_days(spec(plan="Standard", upgradeHorizonDays=30)) == 0


# ------------------------------------------------------------ managed service


def test_managed_service_with_stakater_versions_keeps_eligibility() -> None:
    engagement = spec(type="ManagedService", versionManagement="Stakater")
    found = [(WL, det("reloader", "1.1.0")), ("t/D/f", det("forecastle", None, reason="image tag 'latest'"))]
    result = run(engagement, found)
    status = result.status
    assert status.eligibility == Eligibility.ELIGIBLE
    assert result.reasons == ()
    p = product(result, "reloader")
    assert (p.lifecycle, p.eligibility, p.action_owner) == (Lifecycle.END_OF_LIFE, Eligibility.ELIGIBLE, Party.STAKATER)
    assert status.products_out_of_support == 2
    # the defect: it said "all covered product versions are supported" while 2 were out of support
    assert status.reason == "all covered product versions are eligible; 2 Stakater action item(s)"
    conds = conditions(result)
    assert conds["Eligible"].status == ConditionStatus.TRUE
    assert "2 Stakater action item(s), not counted against eligibility: " in conds["Eligible"].message
    assert "Stakater action item: upgrade reloader 1.1.0 to 1.4.21" in conds["Eligible"].message
    assert "supported" not in conds["Eligible"].message.split(";")[0]
    assert conds["VersionsSupported"].status == ConditionStatus.FALSE
    assert conds["VersionsSupported"].message.endswith(
        "(version maintenance is Stakater's under this managed-service agreement)"
    )
    owners = {r.item: r.owner for r in status.responsibilities}
    assert owners["Maintaining supported versions"] == Party.STAKATER
    assert owners["Management of supported infrastructure components"] == Party.STAKATER
    note = next(r.note for r in status.responsibilities if r.item == "Maintaining supported versions")
    assert "managed-service agreement" in note


def test_managed_service_with_customer_versions_is_ineligible_on_end_of_life() -> None:
    result = run(spec(type="ManagedService", versionManagement="Customer"), [(WL, det("reloader", "1.1.0"))])
    assert result.status.eligibility == Eligibility.INELIGIBLE
    assert product(result, "reloader").action_owner == Party.CUSTOMER
    owners = {r.item: r.owner for r in result.status.responsibilities}
    assert owners["Maintaining supported versions"] == Party.CUSTOMER
    assert owners["Management of supported infrastructure components"] == Party.STAKATER


def test_product_support_responsibilities() -> None:
    result = run(spec(type="ProductSupport"), [(WL, det("reloader", "1.4.21"))])
    table = {r.item: (r.owner, r.note) for r in result.status.responsibilities}
    assert table["Maintaining supported versions"] == (Party.CUSTOMER, "")
    owner, note = table["Management of supported infrastructure components"]
    assert owner == Party.CUSTOMER
    assert "unless contracted" in note
    assert table["Implementing fixes for product defects"] == (Party.STAKATER, "")
    assert table["Third-party and upstream vendor issues"] == (Party.SHARED, "")
    assert len(table) == 13


def test_scope_lists_integrations_of_judged_products_only() -> None:
    result = run(
        spec(products=[{"name": "reloader"}]), [(WL, det("reloader", "1.4.21")), ("x/D/f", det("forecastle", "2.0.1"))]
    )
    scope = result.status.scope
    assert scope is not None
    assert "Documented integration: Argo CD" in scope.included
    assert "Documented integration: Ingress" not in scope.included
    assert "Upgrade and lifecycle guidance (reactive, on request)" in scope.included
    assert "Full infrastructure management (unless explicitly contracted)" in scope.excluded

    premium_managed = run(spec(type="ManagedService", plan="Premium"), []).status.scope
    assert premium_managed is not None
    assert "Upgrade and lifecycle guidance (proactive)" in premium_managed.included
    assert "Managed infrastructure components" in premium_managed.included
    assert "Customer application code (unless separately agreed)" in premium_managed.excluded


# -------------------------------------------------------- contracted services


def test_contracted_services_move_scope_and_responsibilities_citing_the_agreement() -> None:
    engagement = spec(
        agreement={"orderForm": "OF-7"},
        contractedServices=["InfrastructureManagement", "SecurityAssessment", "CustomDevelopment"],
    )
    status = run(engagement, []).status
    assert status.scope is not None
    included, excluded, separate = status.scope.included, status.scope.excluded, status.scope.separate_agreement
    assert "Full infrastructure management (contracted: InfrastructureManagement in the agreement OF-7)" in included
    assert "Security assessments or audits (contracted: SecurityAssessment in the agreement OF-7)" in included
    assert "Custom feature development (contracted: CustomDevelopment in the agreement OF-7)" in included
    assert "New capabilities (contracted: CustomDevelopment in the agreement OF-7)" in included
    assert not [i for i in excluded if i.startswith(("Full infrastructure", "Security assessments", "Custom feature"))]
    assert "New capabilities" not in separate and "Custom automation" not in separate
    assert "Structural design changes" in separate  # ArchitectureDesign is not contracted
    assert "Major architectural redesign projects" in excluded
    table = {r.item: (r.owner, r.note) for r in status.responsibilities}
    assert table["Management of supported infrastructure components"] == (
        Party.STAKATER,
        "InfrastructureManagement is contracted in the agreement OF-7",
    )
    assert table["Secure configuration of customer workloads"][0] == Party.SHARED


# The README's "Contracted services" table, row by row: what moves to scope.included (under ProductSupport,
# whose published scope excludes all of it) and which responsibility row changes owner.
CONTRACTED = {
    "InfrastructureManagement": (
        ["Full infrastructure management"],
        ("Management of supported infrastructure components", Party.STAKATER),
    ),
    "ApplicationCode": (
        ["Customer application debugging"],
        ("Application-level debugging and validation", Party.STAKATER),
    ),
    "SecurityAssessment": (
        ["Security assessments or audits"],
        ("Secure configuration of customer workloads", Party.SHARED),
    ),
    "PerformanceTuning": (["Performance tuning of customer workloads"], None),
    "ArchitectureDesign": (["Major architectural redesign projects", "Structural design changes"], None),
    "EnvironmentDesign": (["New environment design or migration projects", "Platform expansion"], None),
    "CustomDevelopment": (["Custom feature development", "New capabilities", "Custom automation"], None),
}


@pytest.mark.parametrize("service", sorted(CONTRACTED))
def test_each_contracted_service_of_the_readme_table(service: str) -> None:
    moved, responsibility = CONTRACTED[service]
    before = run(spec(), []).status
    after = run(spec(agreement={"orderForm": "OF-7"}, contractedServices=[service]), []).status
    assert before.scope is not None and after.scope is not None
    cited = f"(contracted: {service} in the agreement OF-7)"
    for item in moved:
        was = before.scope.excluded + before.scope.separate_agreement
        assert any(i.startswith(item) for i in was), (item, was)
        assert any(i.startswith(item) and i.endswith(cited) for i in after.scope.included), after.scope.included
        assert not any(i.startswith(item) for i in after.scope.excluded + after.scope.separate_agreement)
    changed = {
        r.item: r.owner
        for r, b in zip(after.responsibilities, before.responsibilities, strict=True)
        if (r.item, r.owner) != (b.item, b.owner)
    }
    assert changed == (dict([responsibility]) if responsibility else {})


def test_application_code_under_a_managed_service() -> None:
    status = run(spec(type="ManagedService", contractedServices=["ApplicationCode"]), []).status
    assert status.scope is not None
    assert not [i for i in status.scope.excluded if "application" in i.lower()]
    assert any(i.startswith("Customer application code (contracted") for i in status.scope.included)
    owners = {r.item: r.owner for r in status.responsibilities}
    assert owners["Application-level debugging and validation"] == Party.STAKATER


def test_contracted_services_are_a_closed_list() -> None:
    with pytest.raises(ValueError, match="contractedServices"):
        spec(contractedServices=["Catering"])


# ------------------------------------------------------------- agreement term


@pytest.mark.parametrize(
    ("term", "in_force", "reason"),
    [
        ({}, True, "InForce"),
        ({"effectiveFrom": days(-10)}, True, "InForce"),
        ({"effectiveFrom": days(0), "expiresOn": days(0)}, True, "InForce"),
        ({"expiresOn": days(-1)}, False, "Expired"),
        ({"effectiveFrom": days(1)}, False, "NotYetEffective"),
    ],
)
def test_agreement_term(term: dict[str, str], in_force: bool, reason: str) -> None:
    result = run(spec(agreement={"orderForm": "OF-1", **term}), [(WL, det("reloader", "1.4.21"))])
    assert result.status.eligibility == (Eligibility.ELIGIBLE if in_force else Eligibility.INELIGIBLE)
    agreement = result.status.agreement
    assert agreement is not None
    assert (agreement.in_force, agreement.reference) == (in_force, "OF-1")
    assert agreement.action_owner == (None if in_force else Party.CUSTOMER)
    cond = conditions(result)["AgreementInForce"]
    assert (cond.status == ConditionStatus.TRUE, cond.reason) == (in_force, reason)


def test_expired_agreement_is_ineligible_with_that_reason() -> None:
    result = run(spec(agreement={"orderForm": "OF-1", "expiresOn": days(-1)}), [(WL, det("reloader", "1.4.21"))])
    assert result.status.reason == f"the agreement OF-1 expired on {days(-1)}"
    eligible = conditions(result)["Eligible"]
    assert (eligible.status, eligible.reason) == (ConditionStatus.FALSE, "Ineligible")
    assert eligible.message == f"the agreement OF-1 expired on {days(-1)}; customer action: renew it with Stakater"
    assert product(result, "reloader").eligibility == Eligibility.ELIGIBLE  # the version itself is fine


def test_premium_is_warned_before_the_agreement_expires() -> None:
    premium = run(spec(plan="Premium", agreement={"expiresOn": days(30)}), []).status
    cond = next(c for c in premium.conditions if c.type == "AgreementInForce")
    assert (cond.status, cond.reason) == (ConditionStatus.TRUE, "ExpiresSoon")
    assert cond.message == f"the agreement expires on {days(30)}, in 30 days; customer action: renew it with Stakater"
    standard = run(spec(plan="Standard", agreement={"expiresOn": days(30)}), []).status
    assert next(c for c in standard.conditions if c.type == "AgreementInForce").reason == "InForce"


# -------------------------------------------------------------- service credits


@pytest.mark.parametrize(
    ("credits", "found", "applicable", "reason"),
    [
        ({"definedInAgreement": False}, ["1.4.21"], False, "the commercial agreement does not define service credits"),
        ({"definedInAgreement": False}, ["1.1.0"], False, "the commercial agreement does not define service credits"),
        ({"definedInAgreement": True}, ["1.1.0"], False, "service credits do not apply while Ineligible"),
        ({"definedInAgreement": True, "reference": "S3"}, ["1.4.21"], True, "defined in S3"),
        ({"definedInAgreement": True}, ["1.4.21", "1.1.0"], False, "denied under Limited Support"),
        (
            {"definedInAgreement": True, "applyUnderLimitedSupport": True},
            ["1.4.21", "1.1.0"],
            True,
            "the agreement grants them under Limited Support too",
        ),
    ],
)
def test_service_credits(credits: dict[str, Any], found: list[str], applicable: bool, reason: str) -> None:
    detections = [(f"ns{i}/Deployment/r", det("reloader", v)) for i, v in enumerate(found)]
    result = run(spec(serviceCredits=credits), detections)
    status = result.status.service_credits
    assert status is not None
    assert status.applicable == applicable
    assert status.reason.startswith(reason)


# ---------------------------------------------------------------- coverage


def test_engagement_listing_products_reports_others_as_uncovered() -> None:
    result = run(
        spec(products=[{"name": "reloader"}]),
        [
            (WL, det("reloader", "1.4.21")),
            ("tools/Deployment/forecastle", det("forecastle", "1.0.0")),  # would be end of life
            ("tools/Deployment/konfigurator", det("konfigurator", "0.1.39")),
        ],
    )
    assert result.status.eligibility == Eligibility.ELIGIBLE
    assert [p.product for p in result.status.products] == ["reloader"]
    uncovered = {p.product: p for p in result.status.uncovered_products}
    assert set(uncovered) == {"forecastle", "konfigurator"}
    assert uncovered["forecastle"].lifecycle is None
    assert uncovered["forecastle"].eligibility is None
    assert uncovered["forecastle"].version == "1.0.0"
    assert uncovered["forecastle"].reason == "not covered by this engagement"
    assert uncovered["forecastle"].workloads == ["tools/Deployment/forecastle"]
    assert result.status.products_out_of_support == 0


def test_product_not_in_matrix_is_uncovered_even_without_product_list() -> None:
    annotated = Detection("tronador", None, None, "annotation", "product 'tronador' is not in matrix 'test'")
    result = run(spec(), [("ci/Deployment/tronador", annotated)])
    assert result.status.products == []
    assert [(p.product, p.version, p.reason, p.lifecycle) for p in result.status.uncovered_products] == [
        ("tronador", "Unknown", "not in the matrix", None)
    ]
    assert result.status.eligibility == Eligibility.ELIGIBLE


# --------------------------------------------------------- unknown versions


def test_version_newer_than_newest_line_is_eligible_with_a_stakater_item_and_never_told_to_downgrade() -> None:
    """Issue 22: upgrading must never be punished. Before, reloader 1.5.0 made the version Limited and, as the
    only product, the engagement Ineligible ("no covered product version is eligible: ... (customer action)")."""
    result = run(spec(), [(WL, det("reloader", "1.5.0")), FC])
    p = product(result, "reloader")
    assert (p.lifecycle, p.eligibility, p.action_owner, p.matrix_behind) == (
        Lifecycle.UNKNOWN,
        Eligibility.ELIGIBLE,
        Party.STAKATER,
        True,
    )
    assert p.reason == "matrix behind: reloader 1.5.0 is not listed yet (newest listed release line: 1.4)"
    assert p.recommended_version is None
    assert product(result, "forecastle").matrix_behind is None
    assert result.status.eligibility == Eligibility.ELIGIBLE
    assert "1.4.21" not in " ".join(c.message for c in result.status.conditions)
    assert result.reasons == ()
    assert result.status.products_out_of_support == 0
    assert result.status.products_not_eligible == 0
    conds = conditions(result)
    assert (conds["VersionsSupported"].status, conds["VersionsSupported"].reason) == (
        ConditionStatus.TRUE,
        "MatrixBehind",
    )
    assert "matrix behind: reloader 1.5.0 is not listed yet" in conds["VersionsSupported"].message
    assert "[Stakater action item]" in conds["VersionsSupported"].message
    assert conds["UpgradeRecommended"].status == ConditionStatus.FALSE
    assert (conds["Eligible"].status, conds["Eligible"].reason) == (ConditionStatus.TRUE, "Eligible")
    assert result.status.reason == "all covered product versions are eligible; 1 Stakater action item(s)"
    assert (
        "Stakater action item: list reloader 1.5.0 in the CompatibilityMatrix (matrix behind: reloader 1.5.0 is "
        "not listed yet (newest listed release line: 1.4)) in team-a/Deployment/reloader"
    ) in conds["Eligible"].message
    assert "customer action" not in conds["Eligible"].message


def test_only_product_newer_than_the_matrix_keeps_the_engagement_eligible() -> None:
    for version in ("1.5.0", "2.0.0", "1.10.3"):
        result = run(spec(), [("shop/Deployment/reloader", det("reloader", version))])
        assert result.status.eligibility == Eligibility.ELIGIBLE, version
        assert product(result, "reloader").action_owner == Party.STAKATER


def test_older_than_the_oldest_line_stays_end_of_life() -> None:
    result = run(spec(), [("shop/Deployment/reloader", det("reloader", "1.0.3"))])
    p = product(result, "reloader")
    assert (p.lifecycle, p.eligibility, p.action_owner, p.matrix_behind) == (
        Lifecycle.END_OF_LIFE,
        Eligibility.INELIGIBLE,
        Party.CUSTOMER,
        None,
    )
    assert result.status.eligibility == Eligibility.INELIGIBLE


def test_unparseable_version_keeps_limited_for_the_customer() -> None:
    latest = Detection("reloader", Edition.COMMUNITY, None, "image", "image tag 'latest' is not a version")
    result = run(spec(), [("shop/Deployment/reloader", latest), FC])
    p = product(result, "reloader")
    assert (p.lifecycle, p.eligibility, p.action_owner, p.matrix_behind) == (
        Lifecycle.UNKNOWN,
        Eligibility.LIMITED,
        Party.CUSTOMER,
        None,
    )
    assert result.status.eligibility == Eligibility.LIMITED


def test_newer_version_under_an_enterprise_contract_is_still_limited_for_the_edition() -> None:
    contract = spec(products=[{"name": "reloader", "edition": "Enterprise"}, {"name": "forecastle"}])
    result = run(contract, [(WL, det("reloader", "1.5.0")), FC])
    p = product(result, "reloader")
    assert (p.eligibility, p.action_owner, p.matrix_behind) == (Eligibility.LIMITED, Party.CUSTOMER, True)
    message = conditions(result)["Eligible"].message
    assert "customer action: run the Enterprise image of reloader" in message
    assert "Stakater action item: list reloader 1.5.0 in the CompatibilityMatrix" in message


def test_newer_version_under_stakater_version_management_is_stakaters_item_once() -> None:
    managed = spec(type="ManagedService", versionManagement="Stakater")
    result = run(managed, [("shop/Deployment/reloader", det("reloader", "1.5.0"))])
    assert result.status.eligibility == Eligibility.ELIGIBLE
    message = conditions(result)["Eligible"].message
    assert message.count("list reloader 1.5.0 in the CompatibilityMatrix") == 1


def test_undetermined_version_carries_the_detection_reason() -> None:
    result = run(spec(), [(WL, det("reloader", None, reason="image tag 'latest' is not a version")), FC])
    p = product(result, "reloader")
    assert (p.version, p.lifecycle, p.eligibility) == ("Unknown", Lifecycle.UNKNOWN, Eligibility.LIMITED)
    assert p.reason == "image tag 'latest' is not a version"
    assert result.status.eligibility == Eligibility.LIMITED
    assert result.reasons[0] == (
        "customer action: run a version of reloader the matrix lists (recommended: 1.4.21) "
        "(image tag 'latest' is not a version) in team-a/Deployment/reloader"
    )


def test_a_single_unknown_version_is_ineligible_since_no_version_is_eligible() -> None:
    result = run(spec(), [(WL, det("reloader", None, reason="image tag 'latest' is not a version"))])
    assert product(result, "reloader").eligibility == Eligibility.LIMITED
    assert result.status.eligibility == Eligibility.INELIGIBLE


# ------------------------------------------------------------------ platform


def test_kubernetes_below_minimum_makes_the_product_ineligible() -> None:
    result = run(spec(), [(WL, det("reloader", "1.4.21")), FC], platform=Platform(kubernetes="v1.18.5"))
    assert result.status.eligibility == Eligibility.LIMITED
    assert product(result, "reloader").eligibility == Eligibility.INELIGIBLE
    platform = result.status.platform
    assert platform is not None
    assert platform.compatible is False
    assert platform.kubernetes_version == "v1.18.5"
    assert platform.message == "reloader supports Kubernetes 1.19..1.33, the cluster runs Kubernetes 1.18.5"
    assert result.reasons == (
        "customer action: reloader supports Kubernetes 1.19..1.33, the cluster runs Kubernetes 1.18.5: "
        "upgrade reloader or the platform in team-a/Deployment/reloader",
    )
    cond = conditions(result)["PlatformCompatible"]
    assert (cond.status, cond.reason) == (ConditionStatus.FALSE, "Incompatible")


@pytest.mark.parametrize(
    ("kubernetes", "compatible"),
    [("1.19.0", True), ("v1.33.9-eks-7f9249a", True), ("1.34.0", False), ("1.18", False), ("v1.30.5-gke.1", True)],
)
def test_kubernetes_range_is_inclusive_at_the_given_precision(kubernetes: str, compatible: bool) -> None:
    result = run(spec(), [(WL, det("reloader", "1.4.21"))], platform=Platform(kubernetes=kubernetes), matrix=LISTING)
    assert result.status.platform is not None
    assert result.status.platform.compatible is compatible
    assert result.status.eligibility == (Eligibility.ELIGIBLE if compatible else Eligibility.INELIGIBLE)


def test_openshift_range() -> None:
    found = [("ops/Deployment/konfigurator", det("konfigurator", "0.1.39")), FC]
    bad = run(spec(), found, platform=Platform(kubernetes="1.32.3", openshift="4.19.2"), matrix=LISTING)
    assert bad.status.eligibility == Eligibility.LIMITED
    assert product(bad, "konfigurator").eligibility == Eligibility.INELIGIBLE
    assert "konfigurator supports OpenShift 4.12..4.18, the cluster runs OpenShift 4.19.2" in bad.reasons[0]
    good = run(spec(), found, platform=Platform(kubernetes="1.31.1", openshift="4.18.3"), matrix=LISTING)
    assert good.status.eligibility == Eligibility.ELIGIBLE


def test_openshift_incompatibility_without_kubernetes_version_is_reported_as_incompatible() -> None:
    found = [("ops/Deployment/konfigurator", det("konfigurator", "0.1.39"))]
    result = run(spec(), found, platform=Platform(kubernetes=None, openshift="4.19.2"), matrix=LISTING)
    assert result.status.eligibility == Eligibility.INELIGIBLE
    assert result.status.platform is not None
    assert result.status.platform.compatible is False
    cond = conditions(result)["PlatformCompatible"]
    assert (cond.status, cond.reason) == (ConditionStatus.FALSE, "Incompatible")


@pytest.mark.parametrize(
    ("matrix", "platform"),
    [
        (MATRIX, Platform(kubernetes="v1.34.0")),  # the matrix lists no Kubernetes line
        (LISTING, Platform(kubernetes="v1.35.2")),  # newer than its newest line, 1.34
        (LISTING, Platform(kubernetes="1.29.1", openshift="4.20.1")),  # konfigurator: OpenShift newer than 4.19
    ],
)
def test_a_platform_newer_than_the_matrix_lists_never_costs_support(matrix: CompiledMatrix, platform: Platform) -> None:
    """Upgrading the platform past a product's documented range, to a line the matrix does not list yet, is
    the matrix behind (Stakater's item to document it), never the customer's finding."""
    product_name = "konfigurator" if platform.openshift else "reloader"
    version = "0.1.39" if platform.openshift else "1.4.21"
    result = run(spec(), [(WL, det(product_name, version))], platform=platform, matrix=matrix)
    assert result.status.eligibility == Eligibility.ELIGIBLE
    p = product(result, product_name)
    assert (p.eligibility, p.action_owner) == (Eligibility.ELIGIBLE, Party.STAKATER)
    assert "newer than the matrix lists" in p.reason
    cond = conditions(result)["PlatformCompatible"]
    assert (cond.status, cond.reason) == (ConditionStatus.TRUE, "MatrixBehind")
    assert "newer than the matrix lists" in cond.message
    eligible = conditions(result)["Eligible"]
    assert (
        f"Stakater action item: document {product_name}'s compatibility in the CompatibilityMatrix" in eligible.message
    )
    assert result.reasons == ()  # nothing reduced eligibility


def test_past_the_maximum_on_a_line_the_matrix_knows_is_a_documented_incompatibility() -> None:
    """Known: listed in spec.platforms (even past a gap in the list), or another product's stated maximum."""
    gap = listing_platforms(small_matrix_spec())
    gap["platforms"]["openshift"] = [{"version": v, "released": days(-30)} for v in ("4.16", "4.18", "4.19")]
    gap["products"][2]["compatibility"] = {"openshift": {"min": "4.12", "max": "4.16"}}
    found = [("ops/Deployment/konfigurator", det("konfigurator", "0.1.39"))]
    result = run(spec(), found, platform=Platform(openshift="4.17.3"), matrix=load_matrix("gap", 1, gap))
    assert product(result, "konfigurator").eligibility == Eligibility.INELIGIBLE  # 4.17 is older than 4.18
    stated = small_matrix_spec()  # no platform lines; forecastle documents Kubernetes up to 1.36
    stated["products"][1]["compatibility"] = {"kubernetes": {"max": "1.36"}}
    result = run(
        spec(), [(WL, det("reloader", "1.4.21"))], Platform(kubernetes="1.35.0"), matrix=load_matrix("s", 1, stated)
    )
    assert product(result, "reloader").eligibility == Eligibility.INELIGIBLE
    assert conditions(result)["PlatformCompatible"].reason == "Incompatible"


def test_a_platform_older_than_the_documented_range_stays_the_customers_finding() -> None:
    result = run(spec(), [(WL, det("reloader", "1.4.21"))], platform=Platform(kubernetes="1.18.3"))
    assert product(result, "reloader").eligibility == Eligibility.INELIGIBLE
    assert conditions(result)["PlatformCompatible"].reason == "Incompatible"


def test_platform_limits_of_products_not_found_do_not_matter() -> None:
    # konfigurator would reject OpenShift 4.19, but only forecastle runs
    result = run(
        spec(), [("t/D/f", det("forecastle", "2.0.1"))], platform=Platform(kubernetes="1.32.3", openshift="4.19.2")
    )
    assert result.status.eligibility == Eligibility.ELIGIBLE
    assert result.status.platform is not None
    assert result.status.platform.compatible is True


def test_platform_of_uncovered_product_is_not_checked() -> None:
    result = run(
        spec(products=[{"name": "forecastle"}]),
        [(WL, det("reloader", "1.4.21")), ("t/D/f", det("forecastle", "2.0.1"))],
        platform=Platform(kubernetes="1.18.0"),
    )
    assert result.status.eligibility == Eligibility.ELIGIBLE


@pytest.mark.parametrize("kubernetes", [None, "", "unknown"])
def test_unknown_platform(kubernetes: str | None) -> None:
    result = run(spec(), [(WL, det("reloader", "1.4.21"))], platform=Platform(kubernetes=kubernetes))
    assert result.status.eligibility == Eligibility.ELIGIBLE
    assert result.status.platform is not None
    assert result.status.platform.compatible is None
    assert result.status.platform.message == "platform version unknown"
    cond = conditions(result)["PlatformCompatible"]
    assert (cond.status, cond.reason, cond.message) == (
        ConditionStatus.UNKNOWN,
        "PlatformUnknown",
        "platform version unknown",
    )


def test_an_unreadable_openshift_version_is_visible_never_plain_kubernetes() -> None:
    problem = "OpenShift version unreadable: ClusterVersion 'version': HTTP 403 Forbidden: no"
    platform = Platform(kubernetes="1.31.4", openshift_problem=problem)
    result = run(spec(), [(WL, det("reloader", "1.4.21"))], platform=platform)
    assert result.status.platform is not None and result.status.platform.compatible is None
    assert result.status.platform.message == problem
    cond = conditions(result)["PlatformCompatible"]
    assert (cond.status, cond.reason, cond.message) == (ConditionStatus.UNKNOWN, "OpenShiftVersionUnreadable", problem)


PLATFORM_MATRIX = load_matrix(
    "lifecycles",
    1,
    {
        **small_matrix_spec(),
        "platforms": {
            "kubernetes": [
                {"version": "1.29", "released": days(-800), "endOfMaintenance": days(-100)},
                {"version": "1.30", "released": days(-500), "endOfMaintenance": days(60)},
                {"version": "1.31", "released": days(-300), "endOfMaintenance": days(300)},
            ],
            "openshift": [{"version": "4.16", "released": days(-600), "endOfMaintenance": days(-10)}],
        },
    },
)


@pytest.mark.parametrize(
    ("engagement", "platform", "lifecycle", "owner"),
    [
        ({}, Platform(kubernetes="v1.29.4"), Lifecycle.END_OF_LIFE, Party.CUSTOMER),
        ({"type": "ManagedService"}, Platform(kubernetes="v1.29.4"), Lifecycle.END_OF_LIFE, Party.STAKATER),
        (
            {"contractedServices": ["InfrastructureManagement"]},
            Platform(kubernetes="1.29"),
            Lifecycle.END_OF_LIFE,
            Party.STAKATER,
        ),
        ({}, Platform(kubernetes="v1.30.1"), Lifecycle.SUPPORTED, None),
        ({"plan": "Premium"}, Platform(kubernetes="v1.30.1"), Lifecycle.DEPRECATED, Party.CUSTOMER),
        ({}, Platform(kubernetes="v1.28.0"), Lifecycle.END_OF_LIFE, Party.CUSTOMER),
        ({}, Platform(kubernetes="v1.35.0"), Lifecycle.UNKNOWN, None),
        ({}, Platform(kubernetes="v1.29.4", openshift="4.16.3"), Lifecycle.END_OF_LIFE, Party.CUSTOMER),
    ],
)
def test_platform_lifecycle_is_a_finding_with_its_owner(
    engagement: dict[str, Any], platform: Platform, lifecycle: Lifecycle, owner: Party | None
) -> None:
    result = evaluate(spec(**engagement), PLATFORM_MATRIX, [FC], platform, TODAY)
    status = result.status.platform
    assert status is not None
    assert (status.lifecycle, status.action_owner) == (lifecycle, owner)
    assert result.status.eligibility == Eligibility.ELIGIBLE  # guidance: it does not change eligibility
    upgrade = next(c for c in result.status.conditions if c.type == "UpgradeRecommended")
    if owner is None:
        assert upgrade.status == ConditionStatus.FALSE
    else:
        words = "Stakater action item" if owner == Party.STAKATER else "customer action"
        assert upgrade.message.startswith(f"{words}: upgrade the platform from ")
        assert upgrade.reason == (
            "PlatformEndOfMaintenance" if lifecycle == Lifecycle.END_OF_LIFE else "EndOfSupportApproaching"
        )


def test_openshift_line_is_judged_on_openshift() -> None:
    result = evaluate(spec(), PLATFORM_MATRIX, [], Platform(kubernetes="v1.31.0", openshift="4.16.3"), TODAY)
    assert result.status.platform is not None
    assert result.status.platform.release == "OpenShift 4.16"
    assert result.status.platform.end_of_maintenance == date(-10)


# ------------------------------------------------------------------ editions


def test_enterprise_contract_with_community_image_is_limited() -> None:
    engagement = spec(products=[{"name": "reloader", "edition": "Enterprise"}, {"name": "forecastle"}])
    result = run(engagement, [(WL, det("reloader", "1.4.21", Edition.COMMUNITY)), FC])
    assert result.status.eligibility == Eligibility.LIMITED
    assert result.reasons == (
        "customer action: run the Enterprise image of reloader (stakater/reloader-enterprise) "
        "(the contract covers Enterprise, the cluster runs the Community image) in team-a/Deployment/reloader",
    )
    p = product(result, "reloader")
    assert (p.lifecycle, p.eligibility) == (Lifecycle.SUPPORTED, Eligibility.LIMITED)


@pytest.mark.parametrize(
    ("contract", "edition"),
    [("Enterprise", Edition.ENTERPRISE), ("Enterprise", None), ("Community", Edition.ENTERPRISE)],
)
def test_edition_combinations_that_are_fine(contract: str, edition: Edition | None) -> None:
    engagement = spec(products=[{"name": "reloader", "edition": contract}])
    result = run(engagement, [(WL, det("reloader", "1.4.21", edition))])
    assert result.status.eligibility == Eligibility.ELIGIBLE


def test_same_version_in_both_editions_are_two_rows_told_apart_by_edition() -> None:
    found = [
        (WL, det("reloader", "1.4.21", Edition.COMMUNITY)),
        ("b/D/r", det("reloader", "1.4.21", Edition.ENTERPRISE)),
    ]
    products = run(spec(), found).status.products
    assert [(p.version, p.edition) for p in products] == [("1.4.21", "Community"), ("1.4.21", "Enterprise")]


# -------------------------------------------------------------- support terms


def test_support_terms_per_plan() -> None:
    standard = run(spec(plan="Standard"), []).status.support_terms
    premium = run(spec(plan="Premium"), []).status.support_terms
    assert standard is not None and premium is not None
    assert standard.coverage_hours.startswith("8x5 business hours")
    assert standard.channels == ["Support portal"]
    assert premium.coverage_hours == "24x7x365"
    assert "Slack or phone for P1, where agreed" in premium.channels
    assert "Named technical contact" in premium.benefits


# ---------------------------------------------------------- response targets


def targets(engagement: SupportEngagementSpec) -> list[tuple[str, str]]:
    return [(t.severity, t.first_response) for t in run(engagement, []).status.response_targets]


def test_response_targets_standard() -> None:
    assert targets(spec(plan="Standard")) == [
        ("P1", "8 business hours"),
        ("P2", "12 business hours"),
        ("P3", "24 business hours"),
        ("P4", "24 business hours"),
    ]


def test_response_targets_premium() -> None:
    assert targets(spec(plan="Premium")) == [
        ("P1", "1 hour"),
        ("P2", "2 hours"),
        ("P3", "4 hours"),
        ("P4", "1 business day"),
    ]


def test_response_target_overrides() -> None:
    engagement = spec(
        plan="Premium",
        responseTargets=[{"severity": "P1", "firstResponse": "30 minutes"}, {"severity": "P4", "firstResponse": "2d"}],
    )
    assert targets(engagement) == [("P1", "30 minutes"), ("P2", "2 hours"), ("P3", "4 hours"), ("P4", "2d")]


# ------------------------------------------------------------------ grouping


def test_workloads_of_the_same_version_are_grouped_and_listed_sorted() -> None:
    found = [
        ("b/Deployment/r", det("reloader", "v1.4.21-ubi")),
        ("a/Deployment/r", det("reloader", "1.4.21")),
        ("c/Deployment/r", det("reloader", "1.4.19")),
    ]
    result = run(spec(), found)
    assert [(p.version, p.workloads, p.workload_count) for p in result.status.products] == [
        ("1.4.19", ["c/Deployment/r"], 1),
        ("1.4.21", ["a/Deployment/r", "b/Deployment/r"], 2),
    ]


def test_long_workload_lists_are_truncated() -> None:
    found = [(f"ns{i:02d}/Deployment/reloader", det("reloader", "1.1.0")) for i in range(25)]
    result = run(spec(), [*found, FC])
    p = product(result, "reloader")
    assert p.workload_count == 25
    assert len(p.workloads) == 20
    assert p.workloads[0] == "ns00/Deployment/reloader"
    assert (
        "in ns00/Deployment/reloader, ns01/Deployment/reloader, ns02/Deployment/reloader and 22 more"
        in (result.reasons[0])
    )


# --------------------------------------------------------------------- judge


def test_judge_directly() -> None:
    entry = MATRIX.products["reloader"]
    v = parse_version
    assert judge(entry, v("1.3.7"), TODAY, 0).lifecycle == Lifecycle.SUPPORTED
    assert judge(entry, v("1.3.7"), TODAY, 365).lifecycle == Lifecycle.DEPRECATED
    unknown = judge(entry, None, TODAY, 0, "image 'x' is pinned by digest only")
    assert (unknown.lifecycle, unknown.reason, unknown.recommended) == (
        Lifecycle.UNKNOWN,
        "image 'x' is pinned by digest only",
        "1.4.21",
    )
    assert judge(entry, None, TODAY, 0).reason == "version could not be determined"
    newer = judge(entry, v("1.5.0"), TODAY, 0)
    assert (newer.lifecycle, newer.recommended) == (Lifecycle.UNKNOWN, None)
    assert judge(entry, v("1.4.3"), TODAY, 0).recommended == "1.4.21"


def test_judge_gap_between_lines_and_product_without_releases() -> None:
    raw = small_matrix_spec()
    reloader = raw["products"][0]
    reloader["releases"] = [r for r in reloader["releases"] if r["version"] != "1.2"]
    raw["products"][1]["releases"] = []
    matrix = load_matrix("gaps", 1, raw)
    gap = judge(matrix.products["reloader"], parse_version("1.2.0"), TODAY, 0)
    assert (gap.lifecycle, gap.reason) == (Lifecycle.UNKNOWN, "1.2.0 is not a release listed in the matrix")
    assert not gap.matrix_behind  # a gap is not an upgrade: the customer runs a version nobody released
    empty = judge(matrix.products["forecastle"], parse_version("2.0.1"), TODAY, 0)
    assert (empty.lifecycle, empty.reason, empty.recommended, empty.matrix_behind) == (
        Lifecycle.UNKNOWN,
        "matrix behind: forecastle 2.0.1 is not listed yet (the matrix lists no releases of forecastle)",
        None,
        True,
    )


def test_recommended_version_prefers_the_matrix_setting() -> None:
    assert MATRIX.products["konfigurator"].recommended == "0.1.39"
    assert MATRIX.products["reloader"].recommended == "1.4.21"


# ----------------------------------------------------------------- not ready


def test_not_ready_without_previous_status() -> None:
    status = not_ready("MatrixNotFound", "CompatibilityMatrix 'x' not found", 4, None)
    assert status.eligibility == Eligibility.UNKNOWN
    assert status.observed_generation == 4
    assert [(c.type, c.status, c.reason) for c in status.conditions] == [
        ("Ready", ConditionStatus.FALSE, "MatrixNotFound"),
        ("Eligible", ConditionStatus.UNKNOWN, "MatrixNotFound"),
    ]
    assert status.conditions[1].message == "not evaluated yet: CompatibilityMatrix 'x' not found"


def test_not_ready_keeps_previous_evaluation() -> None:
    previous = run(spec(), [(WL, det("reloader", "1.1.0"))]).status
    status = not_ready("InvalidSpec", "spec.products[0].name: bad", 8, previous)
    assert status.eligibility == Eligibility.INELIGIBLE
    assert status.products == previous.products
    assert status.observed_generation == 8
    assert [c.type for c in status.conditions] == list(CONDITION_TYPES)
    ready = status.conditions[0]
    assert (ready.status, ready.reason, ready.message) == (
        ConditionStatus.FALSE,
        "InvalidSpec",
        "spec.products[0].name: bad",
    )
    assert status.conditions[1] == previous.conditions[1]


@pytest.mark.parametrize(
    ("platform", "lifecycle", "end"),
    [
        (Platform(kubernetes="v1.20.2"), Lifecycle.END_OF_LIFE, None),  # the local control plane
        (Platform(kubernetes="v1.31.4"), Lifecycle.END_OF_LIFE, dt.date(2025, 11, 11)),
        (Platform(kubernetes="v1.36.1"), Lifecycle.SUPPORTED, dt.date(2027, 6, 28)),
        (Platform(kubernetes="v1.31.4", openshift="4.18.9"), Lifecycle.SUPPORTED, dt.date(2026, 8, 25)),
        (Platform(openshift="4.17.3"), Lifecycle.UNKNOWN, None),  # no data: not judged as unmaintained
    ],
)
def test_default_matrix_platform_lines(platform: Platform, lifecycle: Lifecycle, end: dt.date | None) -> None:
    from ..builders import default_compiled

    status = evaluate(spec(), default_compiled(), [], platform, TODAY).status.platform
    assert status is not None
    assert (status.lifecycle, status.end_of_maintenance) == (lifecycle, end)


def test_capped_product_list_keeps_the_versions_that_are_not_eligible() -> None:
    from eligibility_operator.api.models import MAX_STATUS_PRODUCTS

    supported = [(f"ns{i}/Deployment/f", det("forecastle", f"2.0.{i}")) for i in range(MAX_STATUS_PRODUCTS)]
    enterprise = spec(products=[{"name": "forecastle"}, {"name": "reloader", "edition": "Enterprise"}])
    found = [*supported, (WL, det("reloader", "1.4.21", Edition.COMMUNITY))]  # Limited, lifecycle Supported, last
    status = run(enterprise, found).status
    assert status.products_total == MAX_STATUS_PRODUCTS + 1
    assert len(status.products) == MAX_STATUS_PRODUCTS
    assert ("reloader", Eligibility.LIMITED) in [(p.product, p.eligibility) for p in status.products]

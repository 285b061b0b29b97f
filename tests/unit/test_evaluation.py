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
from eligibility_operator.core.detection import Detection
from eligibility_operator.core.evaluation import (
    CONDITION_TYPES,
    Evaluation,
    Platform,
    evaluate,
    horizon_days,
    judge,
    not_ready,
)
from eligibility_operator.core.matrix import load_matrix
from eligibility_operator.core.versions import parse_version

from ..builders import TODAY, days, engagement_spec, small_matrix_spec

MATRIX = load_matrix("test", 3, small_matrix_spec())
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
) -> Evaluation:
    return evaluate(engagement, MATRIX, found, platform, today, generation=7)


def conditions(result: Evaluation) -> dict[str, Condition]:
    return {c.type: c for c in result.status.conditions}


def product(result: Evaluation, name: str) -> ProductStatus:
    matches = [p for p in result.status.products if p.product == name]
    assert len(matches) == 1, result.status.products
    return matches[0]


def date(n: int) -> dt.date:
    return dt.date.fromisoformat(days(n))


# -------------------------------------------------------------------- eligible


def test_all_supported_is_eligible() -> None:
    result = run(
        spec(),
        [(WL, det("reloader", "1.4.21")), ("tools/Deployment/forecastle", det("forecastle", "v2.0.1"))],
    )
    status = result.status
    assert status.eligibility == Eligibility.ELIGIBLE
    assert status.reason == "all covered product versions are supported"
    assert result.reasons == ()
    assert status.products_out_of_support == 0
    assert status.observed_generation == 7
    assert status.matrix == "test"
    assert [(p.product, p.version, p.lifecycle) for p in status.products] == [
        ("forecastle", "2.0.1", Lifecycle.SUPPORTED),
        ("reloader", "1.4.21", Lifecycle.SUPPORTED),
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


# ----------------------------------------------------------------- end of life


def test_end_of_life_is_ineligible_and_names_product_version_and_workload() -> None:
    result = run(spec(), [(WL, det("reloader", "v1.1.0")), ("team-b/Deployment/reloader", det("reloader", "1.1.0"))])
    status = result.status
    assert status.eligibility == Eligibility.INELIGIBLE
    assert status.reason == "reloader 1.1.0 is end of life"
    assert len(result.reasons) == 1
    reason = result.reasons[0]
    assert reason.startswith("reloader 1.1.0 is end of life (release line 1.1 reached end of support on ")
    assert days(-30) in reason
    assert "in team-a/Deployment/reloader, team-b/Deployment/reloader" in reason
    assert reason.endswith("; upgrade to 1.4.21")

    p = product(result, "reloader")
    assert p.lifecycle == Lifecycle.END_OF_LIFE
    assert p.end_of_support == date(-30)
    assert p.action_owner == Party.CUSTOMER
    assert p.workload_count == 2
    assert status.products_out_of_support == 1

    conds = conditions(result)
    assert conds["Eligible"].status == ConditionStatus.FALSE
    assert conds["Eligible"].reason == "Ineligible"
    assert WL in conds["Eligible"].message
    assert (conds["VersionsSupported"].status, conds["VersionsSupported"].reason) == (
        ConditionStatus.FALSE,
        "EndOfLifeVersions",
    )
    assert (conds["UpgradeRecommended"].status, conds["UpgradeRecommended"].reason) == (
        ConditionStatus.TRUE,
        "EndOfLife",
    )


def test_version_older_than_oldest_line_is_end_of_life() -> None:
    result = run(spec(), [(WL, det("reloader", "1.0.5"))])
    p = product(result, "reloader")
    assert p.lifecycle == Lifecycle.END_OF_LIFE
    assert p.end_of_support is None
    assert p.reason == "1.0.5 is older than the oldest release line in the matrix (1.1)"
    assert result.status.eligibility == Eligibility.INELIGIBLE


def test_day_after_end_of_support_is_end_of_life_and_the_day_itself_is_not() -> None:
    found = [(WL, det("reloader", "1.2.0"))]
    assert product(run(spec(), found, today=date(46)), "reloader").lifecycle == Lifecycle.END_OF_LIFE
    assert product(run(spec(), found, today=date(45)), "reloader").lifecycle != Lifecycle.END_OF_LIFE


def test_several_reasons_are_counted_in_the_short_reason() -> None:
    result = run(spec(), [(WL, det("reloader", "1.1.0")), ("x/Deployment/f", det("forecastle", "1.0.0"))])
    assert result.status.eligibility == Eligibility.INELIGIBLE
    assert len(result.reasons) == 2
    assert result.status.reason == "forecastle 1.0.0 is end of life (+1 more)"
    assert result.status.products_out_of_support == 2


# ------------------------------------------------------------ upgrade horizon


def test_premium_within_horizon_is_deprecated_and_recommends_upgrade() -> None:
    result = run(spec(plan="Premium"), [(WL, det("reloader", "1.2.0"))])
    p = product(result, "reloader")
    assert p.lifecycle == Lifecycle.DEPRECATED
    assert p.end_of_support == date(45)
    assert p.action_owner == Party.CUSTOMER
    assert "in 45 days (within the 90-day upgrade horizon)" in p.reason
    assert result.status.eligibility == Eligibility.ELIGIBLE
    assert result.status.products_out_of_support == 0
    upgrade = conditions(result)["UpgradeRecommended"]
    assert (upgrade.status, upgrade.reason) == (ConditionStatus.TRUE, "EndOfSupportApproaching")
    assert upgrade.message.startswith("reloader 1.2.0: release line 1.2 ends support on ")
    assert upgrade.message.endswith("; upgrade to 1.4.21")
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
    result = run(engagement, [(WL, det("reloader", "1.1.0"))])
    status = result.status
    assert status.eligibility == Eligibility.ELIGIBLE
    assert result.reasons == ()
    p = product(result, "reloader")
    assert p.lifecycle == Lifecycle.END_OF_LIFE
    assert p.action_owner == Party.STAKATER
    assert status.products_out_of_support == 1
    conds = conditions(result)
    assert conds["Eligible"].status == ConditionStatus.TRUE
    assert "Stakater's action items: reloader 1.1.0 is end of life" in conds["Eligible"].message
    assert conds["VersionsSupported"].status == ConditionStatus.FALSE
    assert conds["VersionsSupported"].message.endswith(
        "(version maintenance is Stakater's under this managed-service agreement)"
    )
    owners = {r.item: r.owner for r in status.responsibilities}
    assert owners["Maintaining supported versions"] == Party.STAKATER
    assert owners["Management of supported infrastructure components"] == Party.STAKATER
    note = next(r.note for r in status.responsibilities if r.item == "Maintaining supported versions")
    assert "managed-service agreement" in note


def test_managed_service_stakater_items_are_listed_apart_from_other_reasons() -> None:
    engagement = spec(
        type="ManagedService", versionManagement="Stakater", products=[{"name": "reloader", "edition": "Enterprise"}]
    )
    result = run(engagement, [(WL, det("reloader", "1.1.0"))])
    assert result.status.eligibility == Eligibility.LIMITED
    message = conditions(result)["Eligible"].message
    assert message.startswith("reloader 1.1.0 runs the Community edition")
    assert "Stakater's action items (not counted against eligibility): reloader 1.1.0 is end of life" in message


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


# -------------------------------------------------------------- service credits


@pytest.mark.parametrize(
    ("defined", "version", "applicable", "reason"),
    [
        (False, "1.4.21", False, "the commercial agreement does not define service credits"),
        (False, "1.1.0", False, "the commercial agreement does not define service credits"),
        (True, "1.1.0", False, "service credits do not apply while the engagement is ineligible"),
        (True, "1.4.21", True, "defined in the commercial agreement"),
        (True, "9.0.0", True, "defined in the commercial agreement"),  # Limited
    ],
)
def test_service_credits(defined: bool, version: str, applicable: bool, reason: str) -> None:
    result = run(spec(serviceCredits={"definedInAgreement": defined}), [(WL, det("reloader", version))])
    credits = result.status.service_credits
    assert credits is not None
    assert (credits.applicable, credits.reason) == (applicable, reason)


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


def test_version_newer_than_newest_line_is_unknown_and_limited() -> None:
    result = run(spec(), [(WL, det("reloader", "2.0.0"))])
    p = product(result, "reloader")
    assert p.lifecycle == Lifecycle.UNKNOWN
    assert p.reason == "2.0.0 is newer than any release listed in the matrix"
    assert p.action_owner == Party.CUSTOMER
    assert result.status.eligibility == Eligibility.LIMITED
    assert result.status.reason.startswith("reloader 2.0.0 has an unknown lifecycle")
    assert result.status.products_out_of_support == 1
    conds = conditions(result)
    assert (conds["VersionsSupported"].status, conds["VersionsSupported"].reason) == (
        ConditionStatus.FALSE,
        "UnknownVersions",
    )
    assert conds["UpgradeRecommended"].status == ConditionStatus.FALSE
    assert conds["Eligible"].reason == "Limited"


def test_undetermined_version_carries_the_detection_reason() -> None:
    result = run(spec(), [(WL, det("reloader", None, reason="image tag 'latest' is not a version"))])
    p = product(result, "reloader")
    assert (p.version, p.lifecycle, p.reason) == ("Unknown", Lifecycle.UNKNOWN, "image tag 'latest' is not a version")
    assert result.status.eligibility == Eligibility.LIMITED
    assert "reloader Unknown has an unknown lifecycle (image tag 'latest' is not a version)" in result.reasons[0]


# ------------------------------------------------------------------ platform


def test_kubernetes_below_minimum_is_limited_and_incompatible() -> None:
    result = run(spec(), [(WL, det("reloader", "1.4.21"))], platform=Platform(kubernetes="v1.18.5"))
    assert result.status.eligibility == Eligibility.LIMITED
    platform = result.status.platform
    assert platform is not None
    assert platform.compatible is False
    assert platform.kubernetes_version == "v1.18.5"
    assert platform.message == "reloader supports Kubernetes 1.19..1.33, the cluster runs Kubernetes 1.18.5"
    assert result.reasons == ("platform: reloader supports Kubernetes 1.19..1.33, the cluster runs Kubernetes 1.18.5",)
    cond = conditions(result)["PlatformCompatible"]
    assert (cond.status, cond.reason) == (ConditionStatus.FALSE, "Incompatible")


@pytest.mark.parametrize(
    ("kubernetes", "compatible"),
    [("1.19.0", True), ("v1.33.9-eks-7f9249a", True), ("1.34.0", False), ("1.18", False), ("v1.30.5-gke.1", True)],
)
def test_kubernetes_range_is_inclusive_at_the_given_precision(kubernetes: str, compatible: bool) -> None:
    result = run(spec(), [(WL, det("reloader", "1.4.21"))], platform=Platform(kubernetes=kubernetes))
    assert result.status.platform is not None
    assert result.status.platform.compatible is compatible
    assert result.status.eligibility == (Eligibility.ELIGIBLE if compatible else Eligibility.LIMITED)


def test_openshift_range() -> None:
    found = [("ops/Deployment/konfigurator", det("konfigurator", "0.1.39"))]
    bad = run(spec(), found, platform=Platform(kubernetes="1.32.3", openshift="4.19.2"))
    assert bad.status.eligibility == Eligibility.LIMITED
    assert bad.reasons == ("platform: konfigurator supports OpenShift 4.12..4.18, the cluster runs OpenShift 4.19.2",)
    good = run(spec(), found, platform=Platform(kubernetes="1.31.1", openshift="4.18.3"))
    assert good.status.eligibility == Eligibility.ELIGIBLE


def test_openshift_incompatibility_without_kubernetes_version_is_reported_as_incompatible() -> None:
    found = [("ops/Deployment/konfigurator", det("konfigurator", "0.1.39"))]
    result = run(spec(), found, platform=Platform(kubernetes=None, openshift="4.19.2"))
    assert result.status.eligibility == Eligibility.LIMITED  # holds today
    assert result.status.platform is not None
    assert result.status.platform.compatible is False
    cond = conditions(result)["PlatformCompatible"]
    assert (cond.status, cond.reason) == (ConditionStatus.FALSE, "Incompatible")


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


# ------------------------------------------------------------------ editions


def test_enterprise_contract_with_community_image_is_limited() -> None:
    engagement = spec(products=[{"name": "reloader", "edition": "Enterprise"}])
    result = run(engagement, [(WL, det("reloader", "1.4.21", Edition.COMMUNITY))])
    assert result.status.eligibility == Eligibility.LIMITED
    assert result.reasons == (
        "reloader 1.4.21 runs the Community edition but the contract covers Enterprise, in team-a/Deployment/reloader",
    )
    assert product(result, "reloader").lifecycle == Lifecycle.SUPPORTED


@pytest.mark.parametrize(
    ("contract", "edition"),
    [("Enterprise", Edition.ENTERPRISE), ("Enterprise", None), ("Community", Edition.ENTERPRISE)],
)
def test_edition_combinations_that_are_fine(contract: str, edition: Edition | None) -> None:
    engagement = spec(products=[{"name": "reloader", "edition": contract}])
    result = run(engagement, [(WL, det("reloader", "1.4.21", edition))])
    assert result.status.eligibility == Eligibility.ELIGIBLE


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
    result = run(spec(), found)
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


def test_judge_gap_between_lines_and_product_without_releases() -> None:
    raw = small_matrix_spec()
    reloader = raw["products"][0]
    reloader["releases"] = [r for r in reloader["releases"] if r["version"] != "1.2"]
    raw["products"][1]["releases"] = []
    matrix = load_matrix("gaps", 1, raw)
    gap = judge(matrix.products["reloader"], parse_version("1.2.0"), TODAY, 0)
    assert (gap.lifecycle, gap.reason) == (Lifecycle.UNKNOWN, "1.2.0 is not a release listed in the matrix")
    empty = judge(matrix.products["forecastle"], parse_version("2.0.1"), TODAY, 0)
    assert (empty.lifecycle, empty.reason, empty.recommended) == (
        Lifecycle.UNKNOWN,
        "matrix lists no releases of forecastle",
        None,
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

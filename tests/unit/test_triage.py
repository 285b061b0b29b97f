"""SupportRequest triage: scope and route, severity, due time, completeness, responsibilities. Pure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from eligibility_operator.api.models import Eligibility, Lifecycle, Party, SupportEngagementSpec
from eligibility_operator.api.requests import (
    Impact,
    RequestCategory,
    Route,
    Scope,
    Severity,
    SupportRequestSpec,
    SupportRequestStatus,
    Workaround,
)
from eligibility_operator.core.compat.matrix import load_matrix
from eligibility_operator.core.compat.versions import parse_version
from eligibility_operator.core.products.detection import Detection
from eligibility_operator.core.requests.inputs import (
    EngagementView,
    TriageInput,
    contracted_services_of,
    resolve_engagement,
)
from eligibility_operator.core.requests.sla import suggest_severity
from eligibility_operator.core.requests.triage import COMPLETE, ELIGIBLE, IN_SCOPE, READY, triage

from ..builders import TODAY, engagement_spec, small_matrix_spec

MATRIX = load_matrix("test", 1, small_matrix_spec())
RELOADER = "team-a/Deployment/reloader"
APP = "team-a/Deployment/shop"
# Tuesday 2026-06-02 10:00 UTC
OPENED = dt.datetime(2026, 6, 2, 10, 0, tzinfo=dt.UTC)


def reloader(version: str) -> Detection:
    return Detection("reloader", None, parse_version(version), "image")


def view(contracted: tuple[str, ...] = (), **spec: Any) -> EngagementView:
    raw = engagement_spec(**spec)
    return EngagementView("platform", "acme", SupportEngagementSpec.model_validate(raw), None, frozenset(contracted))


def request(**spec: Any) -> SupportRequestSpec:
    body: dict[str, Any] = {"category": "Incident", "title": "reloader does not reload"}
    body.update(spec)
    return SupportRequestSpec.model_validate(body)


def run(
    req: SupportRequestSpec,
    engagement: EngagementView | None = None,
    workloads: dict[str, Any] | None = None,
    **kw: Any,
) -> SupportRequestStatus:
    return triage(
        TriageInput(
            request=req,
            namespace="team-a",
            engagement=engagement or view(),
            engagement_problem=kw.pop("engagement_problem", None),
            matrix=kw.pop("matrix", MATRIX),
            workloads=workloads if workloads is not None else {RELOADER: [reloader("1.4.21")], APP: []},
            opened_at=kw.pop("opened_at", OPENED),
            today=TODAY,
            generation=3,
            **kw,
        )
    )


def cond(status: SupportRequestStatus, type_: str) -> tuple[str, str, str]:
    c = next(c for c in status.conditions if c.type == type_)
    return str(c.status), c.reason, c.message


COMPLETE_INCIDENT = {
    "workloads": [RELOADER],
    "impact": "ProductionOutage",
    "workaround": "None",
    "severity": "P1",
    "reproduction": "change the ConfigMap; pods are not restarted",
    "ticket": {"reference": "SUP-1234"},
}


def test_in_scope_p1_incident_is_complete_and_due_in_8_business_hours() -> None:
    status = run(request(**COMPLETE_INCIDENT))
    assert (status.scope, status.route) == (Scope.IN_SCOPE, Route.SUPPORT)
    assert status.reason.startswith("section 1: incident investigation")
    assert cond(status, READY)[0] == "True"
    assert cond(status, IN_SCOPE)[:2] == ("True", "InScope")
    assert cond(status, COMPLETE)[:2] == ("True", "Complete")
    assert cond(status, ELIGIBLE)[:2] == ("True", "Eligible")
    assert status.severity is not None and status.severity.suggested == Severity.P1 and not status.severity.note
    assert status.first_response is not None
    # Standard P1: 8 business hours from Tuesday 10:00 UTC = Wednesday 10:00 UTC.
    assert status.first_response.target == "8 business hours"
    assert status.first_response.due == dt.datetime(2026, 6, 3, 10, 0, tzinfo=dt.UTC)
    assert status.first_response.business_hours
    assert status.products[0].product == "reloader" and status.products[0].eligibility == Eligibility.ELIGIBLE
    owners = {r.item: r.owner for r in status.responsibilities}
    assert owners["Incident response and mitigation within the supported scope"] == Party.STAKATER
    assert not any(r.item.startswith("Open a ticket") for r in status.responsibilities)
    assert all(c.observed_generation == 3 for c in status.conditions)


def test_premium_p1_is_one_hour_of_elapsed_time() -> None:
    saturday = dt.datetime(2026, 6, 6, 23, 30, tzinfo=dt.UTC)
    premium = run(request(**COMPLETE_INCIDENT), view(plan="Premium"), opened_at=saturday)
    standard = run(request(**COMPLETE_INCIDENT), view(plan="Standard"), opened_at=saturday)
    assert premium.first_response is not None and standard.first_response is not None
    assert premium.first_response.due == dt.datetime(2026, 6, 7, 0, 30, tzinfo=dt.UTC)
    assert not premium.first_response.business_hours
    # Standard: Monday 09:00 + 8 business hours = Monday 17:00.
    assert standard.first_response.due == dt.datetime(2026, 6, 8, 17, 0, tzinfo=dt.UTC)


def test_premium_p4_is_one_business_day_in_the_agreements_calendar() -> None:
    engagement = view(plan="Premium", agreement={"timeZone": "Europe/Berlin", "holidayCalendar": "DE"})
    friday = dt.datetime(2026, 5, 22, 14, 0, tzinfo=dt.UTC)  # 16:00 in Berlin; Monday 25th is Whit Monday
    status = run(request(category="Question", product="reloader", severity="P4"), engagement, opened_at=friday)
    assert status.first_response is not None
    assert status.first_response.target == "1 business day"
    # 1 h on Friday, 7 h on Tuesday 26th (09:00-16:00 CEST) = 14:00 UTC.
    assert status.first_response.due == dt.datetime(2026, 5, 26, 14, 0, tzinfo=dt.UTC)
    assert "Europe/Berlin" in status.first_response.calendar and "DE" in status.first_response.calendar


def test_agreement_override_is_used_for_the_due_time() -> None:
    engagement = view(plan="Premium", responseTargets=[{"severity": "P1", "firstResponse": "30 minutes"}])
    status = run(request(**COMPLETE_INCIDENT), engagement)
    assert status.first_response is not None
    assert status.first_response.due == OPENED + dt.timedelta(minutes=30)


def test_unparseable_override_gives_no_due_time_but_says_why() -> None:
    engagement = view(responseTargets=[{"severity": "P1", "firstResponse": "best effort"}])
    status = run(request(**COMPLETE_INCIDENT), engagement)
    assert status.first_response is not None and status.first_response.due is None
    assert "'best effort' is not a target" in status.first_response.note


@pytest.mark.parametrize(
    ("category", "contracted", "engagement_type", "scope", "route"),
    [
        ("SecurityAssessment", (), "ProductSupport", Scope.EXCLUDED, Route.PROFESSIONAL_SERVICES),
        ("SecurityAssessment", ("SecurityAssessment",), "ProductSupport", Scope.IN_SCOPE, Route.SUPPORT),
        ("PerformanceTuning", (), "ProductSupport", Scope.EXCLUDED, Route.PROFESSIONAL_SERVICES),
        ("ArchitectureDesign", (), "ManagedService", Scope.EXCLUDED, Route.PROFESSIONAL_SERVICES),
        ("ApplicationCode", (), "ManagedService", Scope.EXCLUDED, Route.PROFESSIONAL_SERVICES),
        ("ApplicationCode", ("ApplicationCode",), "ProductSupport", Scope.IN_SCOPE, Route.SUPPORT),
        ("Infrastructure", (), "ProductSupport", Scope.EXCLUDED, Route.PROFESSIONAL_SERVICES),
        ("Infrastructure", ("InfrastructureManagement",), "ProductSupport", Scope.IN_SCOPE, Route.SUPPORT),
        ("Infrastructure", (), "ManagedService", Scope.IN_SCOPE, Route.SUPPORT),
        ("ChangeRequest", (), "ProductSupport", Scope.CHANGE_REQUEST, Route.COMMERCIAL_APPROVAL),
        ("ChangeRequest", (), "ManagedService", Scope.CHANGE_REQUEST, Route.SCOPED_ENGAGEMENT),
        ("ChangeRequest", ("EnvironmentDesign",), "ProductSupport", Scope.CHANGE_REQUEST, Route.SCOPED_ENGAGEMENT),
        ("FeatureRequest", (), "ManagedService", Scope.CHANGE_REQUEST, Route.COMMERCIAL_APPROVAL),
        ("FeatureRequest", ("CustomDevelopment",), "ProductSupport", Scope.CHANGE_REQUEST, Route.SCOPED_ENGAGEMENT),
        ("ThirdParty", (), "ProductSupport", Scope.THIRD_PARTY, Route.SHARED),
        ("Question", (), "ProductSupport", Scope.IN_SCOPE, Route.SUPPORT),
        ("UpgradeGuidance", (), "ProductSupport", Scope.IN_SCOPE, Route.SUPPORT),
    ],
)
def test_scope_and_route_by_category_and_contract(
    category: str, contracted: tuple[str, ...], engagement_type: str, scope: Scope, route: Route
) -> None:
    status = run(request(category=category, workloads=[RELOADER]), view(contracted, type=engagement_type))
    assert (status.scope, status.route) == (scope, route), status.reason
    in_scope = cond(status, IN_SCOPE)[0]
    assert in_scope == ("True" if scope in (Scope.IN_SCOPE, Scope.THIRD_PARTY) else "False")
    assert (status.first_response is not None) == (scope in (Scope.IN_SCOPE, Scope.THIRD_PARTY))
    assert status.responsibilities, "every outcome says who acts next"


def test_third_party_says_what_stakater_cannot_guarantee() -> None:
    status = run(request(category="ThirdParty", workloads=[RELOADER], vendor="cert-manager"))
    assert status.scope == Scope.THIRD_PARTY
    assert "no guaranteed resolution time" in status.reason
    assert status.first_response is not None and "timelines depend on the vendor" in status.first_response.note
    owners = {r.item: r.owner for r in status.responsibilities}
    assert owners["Diagnosis and coordination with cert-manager"] == Party.STAKATER
    assert owners["Resolution by cert-manager"] == Party.SHARED


def test_incident_naming_a_vendor_is_third_party() -> None:
    status = run(request(**COMPLETE_INCIDENT, vendor="Flux"))
    assert (status.scope, status.route) == (Scope.THIRD_PARTY, Route.SHARED)


def test_third_party_without_a_supported_component_is_excluded() -> None:
    status = run(request(category="ThirdParty", vendor="Oracle"))
    assert (status.scope, status.route) == (Scope.EXCLUDED, Route.PROFESSIONAL_SERVICES)


def test_customer_application_incident_is_excluded_unless_contracted() -> None:
    status = run(request(workloads=[APP]))
    assert (status.scope, status.route) == (Scope.EXCLUDED, Route.PROFESSIONAL_SERVICES)
    assert "team-a/Deployment/shop runs no Stakater product" in status.reason
    contracted = run(request(workloads=[APP]), view(("ApplicationCode",)))
    assert contracted.scope == Scope.IN_SCOPE


def test_product_outside_the_engagement_is_not_covered() -> None:
    engagement = view(products=[{"name": "forecastle"}])
    status = run(request(workloads=[RELOADER]), engagement)
    assert (status.scope, status.route) == (Scope.NOT_COVERED, Route.COMMERCIAL_APPROVAL)
    assert "product 'reloader' is not in engagement platform/acme's spec.products" in status.reason
    assert cond(status, IN_SCOPE)[:2] == ("False", "NotCovered")
    assert status.first_response is None


def test_namespace_outside_the_coverage_is_not_covered() -> None:
    status = run(request(workloads=[RELOADER]), view(coverage={"namespaces": ["team-b"]}))
    assert status.scope == Scope.NOT_COVERED
    assert "namespace 'team-a'" in status.reason and "spec.coverage" in status.reason


def test_no_engagement_covering_the_namespace_is_not_covered_yet_triaged() -> None:
    status = triage(
        TriageInput(
            request=request(), namespace="team-z", engagement=None, engagement_problem=None, matrix=MATRIX, workloads={}
        )
    )
    assert (status.scope, status.route) == (Scope.NOT_COVERED, Route.COMMERCIAL_APPROVAL)
    assert cond(status, READY)[0] == "True"
    assert cond(status, IN_SCOPE)[:2] == ("False", "NotCovered")


def test_end_of_life_product_says_upgrade_first_and_who_acts() -> None:
    status = run(request(**COMPLETE_INCIDENT), workloads={RELOADER: [reloader("1.1.0")]})
    assert status.scope == Scope.IN_SCOPE  # still a support request; eligibility is what suffers
    product = status.products[0]
    assert (product.lifecycle, product.eligibility, product.action_owner) == (
        Lifecycle.END_OF_LIFE,
        Eligibility.INELIGIBLE,
        Party.CUSTOMER,
    )
    assert product.note.startswith("upgrade first: reloader 1.1.0 is end of life")
    assert "the customer must upgrade to 1.4.21" in product.note
    assert cond(status, ELIGIBLE)[:2] == ("False", "UpgradeFirst")
    first = status.responsibilities[0]
    assert (first.owner, first.item) == (Party.CUSTOMER, "Upgrade reloader 1.1.0 to 1.4.21 first")


@pytest.mark.parametrize("stated", [False, True])
def test_a_version_newer_than_the_matrix_is_never_told_to_upgrade_first(stated: bool) -> None:
    """Issue 22: a request about a newer version (running, or only stated) is eligible, Stakater's item."""
    if stated:
        req = request(**{**COMPLETE_INCIDENT, "workloads": [], "product": "reloader", "version": "1.5.0"})
        status = run(req, workloads={})
    else:
        status = run(request(**COMPLETE_INCIDENT), workloads={RELOADER: [reloader("1.5.0")]})
    assert status.scope == Scope.IN_SCOPE
    product = status.products[0]
    assert (product.version, product.lifecycle, product.eligibility, product.action_owner) == (
        "1.5.0",
        Lifecycle.UNKNOWN,
        Eligibility.ELIGIBLE,
        Party.STAKATER,
    )
    assert product.note.startswith("matrix behind: reloader 1.5.0 is not listed yet")
    assert "upgrade first" not in product.note
    ok, reason, message = cond(status, ELIGIBLE)
    assert (ok, reason) == ("True", "Eligible")
    assert message.startswith("eligible; Stakater's action items: matrix behind: reloader 1.5.0")
    assert all("Upgrade" not in r.item for r in status.responsibilities)


def test_end_of_life_under_stakater_version_management_is_stakaters_item() -> None:
    engagement = view(type="ManagedService", versionManagement="Stakater")
    status = run(request(**COMPLETE_INCIDENT), engagement, workloads={RELOADER: [reloader("1.1.0")]})
    assert status.products[0].action_owner == Party.STAKATER
    assert cond(status, ELIGIBLE)[0] == "True"
    assert status.responsibilities[0].owner == Party.STAKATER


def test_unknown_version_is_limited() -> None:
    status = run(
        request(**COMPLETE_INCIDENT),
        workloads={RELOADER: [Detection("reloader", None, None, "image", "tag 'latest' is not a version")]},
    )
    assert status.products[0].eligibility == Eligibility.LIMITED
    assert cond(status, ELIGIBLE)[:2] == ("False", "Limited")
    assert "versions of the affected products" in "; ".join(status.missing_information)


def test_product_only_request_uses_the_products_workloads_or_stated_version() -> None:
    found = [("team-b/Deployment/reloader", reloader("1.3.0"))]
    status = run(request(category="Question", product="reloader"), workloads={}, product_found=found)
    assert [(p.product, p.version, p.workloads) for p in status.products] == [
        ("reloader", "1.3.0", ["team-b/Deployment/reloader"])
    ]
    stated = run(request(category="Question", product="reloader", version="1.2.0"), workloads={})
    assert [(p.version, p.workloads) for p in stated.products] == [("1.2.0", [])]


@pytest.mark.parametrize(
    ("spec", "workloads", "field"),
    [
        (
            {"workloads": ["team-a/Deployment/gone"]},
            {},
            "spec.workloads[0]: workload team-a/Deployment/gone does not exist",
        ),
        ({"product": "relaoder"}, {}, "spec.product: 'relaoder' is not in CompatibilityMatrix 'test'"),
        (
            {"product": "forecastle", "workloads": [RELOADER]},
            {RELOADER: [reloader("1.4.21")]},
            "spec.workloads[0]: team-a/Deployment/reloader runs reloader, not spec.product 'forecastle'",
        ),
        (
            {"version": "1.2.0", "workloads": [RELOADER]},
            {RELOADER: [reloader("1.4.21")]},
            "spec.version: 1.2.0 contradicts team-a/Deployment/reloader, which runs reloader 1.4.21",
        ),
        ({"version": "latest", "product": "reloader"}, {}, "spec.version: 'latest' is not a version"),
        (
            {"workloads": [RELOADER, RELOADER]},
            {RELOADER: [reloader("1.4.21")]},
            "spec.workloads[1]: team-a/Deployment/reloader is listed twice",
        ),
    ],
)
def test_bad_requests_are_not_ready_naming_the_field(
    spec: dict[str, Any], workloads: dict[str, Any], field: str
) -> None:
    status = run(request(**spec), workloads=workloads)
    ready = cond(status, READY)
    assert ready[:2] == ("False", "InvalidSpec")
    assert field in ready[2]
    assert status.scope == Scope.UNKNOWN
    assert all(cond(status, t)[0] == "Unknown" for t in (IN_SCOPE, COMPLETE, ELIGIBLE))


def test_unknown_engagement_and_invalid_calendar_are_not_ready() -> None:
    status = run(request(), engagement_problem="spec.engagementRef: SupportEngagement x/y not found")
    # an explicit problem only matters when no engagement was resolved
    assert cond(status, READY)[0] == "True"
    missing = triage(
        TriageInput(
            request=request(),
            namespace="team-a",
            engagement=None,
            engagement_problem="spec.engagementRef: not found",
            matrix=MATRIX,
            workloads={},
        )
    )
    assert cond(missing, READY)[:2] == ("False", "EngagementNotFound")
    bad_zone = run(request(), view(agreement={"timeZone": "Mars/Olympus"}))
    assert cond(bad_zone, READY)[:2] == ("False", "EngagementInvalid")
    assert "spec.agreement.timeZone" in cond(bad_zone, READY)[2]
    no_matrix = run(request(), matrix=None)
    assert cond(no_matrix, READY)[:2] == ("False", "MatrixNotFound")


@pytest.mark.parametrize(
    ("category", "impact", "workaround", "suggested"),
    [
        ("Incident", "ProductionOutage", "None", Severity.P1),
        ("Incident", "ProductionOutage", None, Severity.P1),
        ("Incident", "ProductionOutage", "NotSustainable", Severity.P2),
        ("Incident", "MajorDegradation", "NotSustainable", Severity.P2),
        ("Incident", "MajorDegradation", "None", Severity.P2),
        ("Incident", "MajorDegradation", "Reasonable", Severity.P3),
        ("Incident", "Limited", "None", Severity.P3),
        ("Incident", "NoProductionImpact", None, Severity.P4),
        ("Question", None, None, Severity.P4),
        ("Incident", None, None, Severity.P3),
    ],
)
def test_severity_suggestion_follows_the_definitions(
    category: str, impact: str | None, workaround: str | None, suggested: Severity
) -> None:
    got, _ = suggest_severity(
        RequestCategory(category), Impact(impact) if impact else None, Workaround(workaround) if workaround else None
    )
    assert got == suggested


def test_overclassified_request_gets_a_note_and_a_customer_action() -> None:
    status = run(request(**{**COMPLETE_INCIDENT, "impact": "Limited", "workaround": "Reasonable"}))
    assert status.severity is not None
    assert (status.severity.proposed, status.severity.suggested) == (Severity.P1, Severity.P3)
    assert "Stakater may reclassify (section 3)" in status.severity.note
    assert any(r.item == "Accurate severity classification" for r in status.responsibilities)
    # the due time follows the proposed severity: Stakater reclassifies, the operator does not
    assert status.first_response is not None and status.first_response.target == "8 business hours"


def test_incomplete_incident_lists_what_is_missing() -> None:
    status = run(request(workloads=[RELOADER]))
    assert status.missing_information == [
        "impact (spec.impact)",
        "workaround (spec.workaround)",
        "steps to reproduce (spec.reproduction)",
    ]
    assert cond(status, COMPLETE)[:2] == ("False", "MissingInformation")
    assert any(r.item.startswith("Provide timely and complete information") for r in status.responsibilities)
    bare = run(request(), workloads={})
    assert "affected workloads (spec.workloads)" in bare.missing_information


def test_contracted_services_are_read_tolerantly() -> None:
    assert contracted_services_of({"contractedServices": ["SecurityAssessment", 3]}) == {"SecurityAssessment"}
    assert contracted_services_of({"contractedServices": "SecurityAssessment"}) == frozenset()
    assert contracted_services_of(None) == frozenset()


def test_engagement_resolution() -> None:
    a = EngagementView("platform", "a", SupportEngagementSpec.model_validate(engagement_spec()))
    b = EngagementView("team-a", "b", SupportEngagementSpec.model_validate(engagement_spec()))
    c = EngagementView(
        "other", "c", SupportEngagementSpec.model_validate(engagement_spec(coverage={"namespaces": ["team-c"]}))
    )
    assert resolve_engagement("a", "platform", "team-a", [a, b], {}) == (a, None)
    missing = resolve_engagement("zz", None, "team-a", [a, b], {})
    assert missing[0] is None and "SupportEngagement team-a/zz not found" in str(missing[1])
    assert resolve_engagement(None, None, "team-a", [a, b], {}) == (b, None)  # the local one of two
    assert resolve_engagement(None, None, "team-c", [c], {}) == (c, None)
    assert resolve_engagement(None, None, "team-x", [c], {}) == (None, None)
    ambiguous = resolve_engagement(None, None, "team-c", [a, c], {})
    assert ambiguous[0] is None and "2 engagements cover namespace 'team-c'" in str(ambiguous[1])


def test_a_product_installed_many_times_lists_every_version_whatever_the_order() -> None:
    from eligibility_operator.core.requests.inputs import one_per_version

    def found(version: str, i: int) -> tuple[str, Detection]:
        return f"ns/Deployment/w{i:02d}", Detection("reloader", None, parse_version(version), "image")

    # 30 installations: 1.4.21 and 1.10.0 first, the only 1.2.0 ones last (a workload cap of 20 dropped it)
    listed = [found("1.4.21", i) for i in range(15)] + [found("1.10.0", i) for i in range(15, 25)]
    listed += [found("1.2.0", i) for i in range(25, 30)]
    listed.append(("ns/Deployment/other", Detection("forecastle", None, parse_version("1.0.0"), "image")))
    forwards, backwards = one_per_version(listed, "reloader"), one_per_version(reversed(listed), "reloader")
    assert forwards == backwards
    assert [(ref, str(d.version)) for ref, d in forwards] == [
        ("ns/Deployment/w25", "1.2.0"),
        ("ns/Deployment/w00", "1.4.21"),
        ("ns/Deployment/w15", "1.10.0"),
    ]
    assert len(one_per_version([found(f"1.{i}.0", i) for i in range(40)], "reloader")) == 20

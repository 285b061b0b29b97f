"""A SupportRequest's scope and route under its engagement: small named rules, tried in order. Pure.

Each rule reads a :class:`ScopeCase` and either decides (scope, route, the reason citing the policy's
section) or passes (None) to the next. The order is the policy's: what the agreement does not cover at
all first, then the kinds of work, each with its exclusions and what a contract brings back into scope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...api.models import EngagementType
from ...api.requests import RequestCategory, Route, Scope
from ..products.coverage import covers

if TYPE_CHECKING:
    from .inputs import Affected, EngagementView, TriageInput

_C = RequestCategory
Decision = tuple[Scope, Route, str]

# The values of SupportEngagement spec.contractedServices that bring an otherwise excluded category into scope.
CONTRACTED_SERVICE = {
    _C.INFRASTRUCTURE: "InfrastructureManagement",
    _C.APPLICATION_CODE: "ApplicationCode",
    _C.SECURITY_ASSESSMENT: "SecurityAssessment",
    _C.PERFORMANCE_TUNING: "PerformanceTuning",
    _C.ARCHITECTURE_DESIGN: "ArchitectureDesign",
    _C.CHANGE_REQUEST: "EnvironmentDesign",
    _C.FEATURE_REQUEST: "CustomDevelopment",
}

# Section 2 lines, for the reason of an Excluded request.
EXCLUSION = {
    _C.APPLICATION_CODE: "customer application debugging (unless directly caused by Stakater platform issues)",
    _C.SECURITY_ASSESSMENT: "security assessments or audits (unless separately contracted)",
    _C.PERFORMANCE_TUNING: "performance tuning of customer workloads beyond platform-level guidance",
    _C.ARCHITECTURE_DESIGN: "major architectural redesign projects",
}
_SUPPORT = (_C.INCIDENT, _C.QUESTION, _C.UPGRADE_GUIDANCE)


@dataclass(frozen=True)
class ScopeCase:
    """One request under its resolved engagement, with what the rules ask of it."""

    inp: TriageInput
    view: EngagementView
    affected: Affected

    @property
    def category(self) -> RequestCategory:
        return RequestCategory(self.inp.request.category)

    @property
    def managed(self) -> bool:
        return self.view.spec is not None and self.view.spec.type == EngagementType.MANAGED_SERVICE

    @property
    def contracted(self) -> bool:
        """The engagement's spec.contractedServices brings this category into scope."""
        service = CONTRACTED_SERVICE.get(self.category)
        return service is not None and service in self.view.contracted_services

    def contract_note(self, service: str | None = None) -> str:
        """Why a contracted category is in scope, naming the spec.contractedServices value."""
        return (
            f"contracted in the engagement's spec.contractedServices ({service or CONTRACTED_SERVICE[self.category]})"
        )


def not_covered(case: ScopeCase) -> Decision | None:
    """Sections 1 and 4: a workload outside the engagement's namespaces, or a product not under contract."""
    spec, view = case.view.spec, case.view
    assert spec is not None
    why = None
    for ref in case.inp.request.workloads:
        namespace = ref.split("/", 1)[0]
        if not covers(spec.coverage, namespace, case.inp.namespace_labels.get(namespace)):
            why = f"namespace {namespace!r} of {ref} is not covered by engagement {view.ref} (spec.coverage)"
            break
    if why is None and spec.products:
        contracted = {p.name for p in spec.products}
        missing = [p for p in sorted(case.affected.products) if p not in contracted]
        if missing:
            why = f"product {missing[0]!r} is not in engagement {view.ref}'s spec.products"
    if why is None:
        return None
    return (
        Scope.NOT_COVERED,
        Route.COMMERCIAL_APPROVAL,
        why + "; extend the agreement (commercial approval) or file the request under the engagement that covers it",
    )


def vendor_incident(case: ScopeCase) -> Decision | None:
    """Section 5: an incident that names a vendor is shared work with no guaranteed resolution time."""
    vendor = case.inp.request.vendor
    if case.category != _C.INCIDENT or not vendor:
        return None
    return (
        Scope.THIRD_PARTY,
        Route.SHARED,
        f"section 5: an incident involving {vendor}: Stakater assists with diagnosis and coordination; "
        "timelines depend on the vendor; no guaranteed resolution time",
    )


def customer_application(case: ScopeCase) -> Decision | None:
    """Section 2: support about workloads that run no Stakater product is the customer's application."""
    affected = case.affected
    if case.category not in _SUPPORT or not affected.customer_apps or affected.products or case.managed:
        return None
    if "ApplicationCode" in case.view.contracted_services:
        return Scope.IN_SCOPE, Route.SUPPORT, "customer application support is " + case.contract_note("ApplicationCode")
    return (
        Scope.EXCLUDED,
        Route.PROFESSIONAL_SERVICES,
        f"section 2: {', '.join(affected.customer_apps[:3])} runs no Stakater product: customer application "
        "debugging is excluded unless directly caused by a Stakater platform issue (then set spec.product)",
    )


def product_support(case: ScopeCase) -> Decision | None:
    """Section 1: incidents, configuration questions and upgrade guidance."""
    if case.category not in _SUPPORT:
        return None
    what = {_C.INCIDENT: "incident investigation and remediation", _C.QUESTION: "configuration guidance"}
    return Scope.IN_SCOPE, Route.SUPPORT, "section 1: " + what.get(case.category, "upgrade and lifecycle guidance")


def third_party(case: ScopeCase) -> Decision | None:
    """Section 5: coordination with vendors, for supported components only."""
    if case.category != _C.THIRD_PARTY:
        return None
    affected, matrix, vendor = case.affected, case.inp.matrix, case.inp.request.vendor
    if not (affected.products or case.managed):
        return (
            Scope.EXCLUDED,
            Route.PROFESSIONAL_SERVICES,
            "section 5: Stakater coordinates with vendors only for supported components; name the affected "
            "product (spec.product or spec.workloads), or it falls under Professional Services",
        )
    related = ", ".join(sorted(affected.products)) or "the managed platform"
    deps = {
        dep
        for p in affected.products
        if matrix and p in matrix.products
        for dep in matrix.products[p].spec.third_party_dependencies
    }
    listed = f" ({vendor} is a documented dependency)" if vendor and vendor in deps else ""
    return (
        Scope.THIRD_PARTY,
        Route.SHARED,
        f"section 5: third-party issue related to {related}{listed}: diagnosis and coordination only; "
        "timelines depend on the vendor; no guaranteed resolution time",
    )


def infrastructure(case: ScopeCase) -> Decision | None:
    """Section 4: managed services cover their infrastructure; product support only when contracted."""
    if case.category != _C.INFRASTRUCTURE:
        return None
    if case.managed:
        return Scope.IN_SCOPE, Route.SUPPORT, "section 4: managed infrastructure components are covered"
    if case.contracted:
        return Scope.IN_SCOPE, Route.SUPPORT, "infrastructure management is " + case.contract_note()
    return (
        Scope.EXCLUDED,
        Route.PROFESSIONAL_SERVICES,
        "section 4: product support does not cover full infrastructure management unless explicitly contracted",
    )


def change_or_feature(case: ScopeCase) -> Decision | None:
    """Section 6: changes and features are evaluated separately: scoped when contracted, else approved."""
    if case.category not in (_C.CHANGE_REQUEST, _C.FEATURE_REQUEST):
        return None
    kind = "structural design change, custom automation or platform expansion"
    if case.category == _C.FEATURE_REQUEST:
        kind = "new capability (custom feature development)"
    if case.contracted or (case.category == _C.CHANGE_REQUEST and case.managed):
        basis = case.contract_note() if case.contracted else "the managed-service agreement"
        return (
            Scope.CHANGE_REQUEST,
            Route.SCOPED_ENGAGEMENT,
            f"section 6: a {kind} is evaluated separately, as a scoped engagement under {basis}",
        )
    return (
        Scope.CHANGE_REQUEST,
        Route.COMMERCIAL_APPROVAL,
        f"section 6: a {kind} is evaluated separately and needs commercial approval",
    )


def exclusion(case: ScopeCase) -> Decision | None:
    """Section 2: application code, security assessments, performance tuning, architecture design."""
    if case.category not in EXCLUSION:
        return None
    if case.contracted:
        return Scope.IN_SCOPE, Route.SUPPORT, EXCLUSION[case.category].split(" (", 1)[0] + " is " + case.contract_note()
    return (
        Scope.EXCLUDED,
        Route.PROFESSIONAL_SERVICES,
        f"section 2: {EXCLUSION[case.category]} is not included; it may be delivered under a Professional "
        "Services agreement",
    )


SCOPE_RULES: tuple[Callable[[ScopeCase], Decision | None], ...] = (
    not_covered,
    vendor_incident,
    customer_application,
    product_support,
    third_party,
    infrastructure,
    change_or_feature,
    exclusion,
)


def decide_scope(inp: TriageInput, view: EngagementView, affected: Affected) -> Decision:
    """The first rule of :data:`SCOPE_RULES` that decides."""
    case = ScopeCase(inp, view, affected)
    for rule in SCOPE_RULES:
        decision = rule(case)
        if decision is not None:
            return decision
    raise AssertionError(f"no scope rule decides category {case.category}")  # every category has a rule

"""SupportRequest triage by the policy: scope and route, eligibility snapshot, severity,
first-response due time, completeness and next responsibilities. Pure.

Section numbers refer to ``Service Scope & Responsibilities``. The operator, the
offline ``triage`` command and the tests call :func:`triage` with what their shell
found (the engagement, the detections of the affected workloads); nothing here
reads the cluster. The rules are tabled in the README ("SupportRequest").
"""

from __future__ import annotations

import datetime as dt

from ...api.models import (
    ConditionStatus,
    Eligibility,
    Lifecycle,
    Party,
    ProductStatus,
    ResponsibilityStatus,
)
from ...api.requests import (
    AffectedProduct,
    RequestCategory,
    RequestConditionType,
    Route,
    Scope,
    Severity,
    SupportRequestSpec,
    SupportRequestStatus,
)
from ..base.business_calendar import check_calendar
from ..base.conditions import condition
from ..compat.versions import Version, parse_version
from ..products.detection import Detection
from ..verdict.evaluation import evaluate
from .completeness import missing_information
from .inputs import Affected, TriageInput, one_per_version
from .scope_rules import decide_scope
from .sla import calendar_of, first_response, severity_status
from .steps import next_steps

_T = RequestConditionType
READY, IN_SCOPE, COMPLETE, ELIGIBLE = _T.READY, _T.IN_SCOPE, _T.COMPLETE, _T.ELIGIBLE
CONDITION_TYPES = tuple(RequestConditionType)
_C = RequestCategory

# ------------------------------------------------------------------- helpers


def not_ready(reason: str, message: str, generation: int | None, engagement: str | None = None) -> SupportRequestStatus:
    """A request that cannot be triaged: Ready=False naming the field; the other conditions Unknown."""
    conditions = [condition(READY, False, reason, message, generation)]
    conditions += [condition(t, None, reason, "not triaged: " + message, generation) for t in CONDITION_TYPES[1:]]
    return SupportRequestStatus(
        observed_generation=generation,
        engagement=engagement,
        scope=Scope.UNKNOWN,
        route=Route.UNKNOWN,
        reason=message[:512],
        conditions=conditions,
    )


def _product_eligibility(p: ProductStatus) -> Eligibility:
    """A product's eligibility: the evaluation's own when it has one, else derived from lifecycle and owner."""
    own = getattr(p, "eligibility", None)
    if own:
        try:
            return Eligibility(str(own))
        except ValueError:
            pass
    if p.lifecycle in (Lifecycle.END_OF_LIFE, Lifecycle.UNKNOWN) and p.action_owner != Party.STAKATER:
        return Eligibility.INELIGIBLE if p.lifecycle == Lifecycle.END_OF_LIFE else Eligibility.LIMITED
    return Eligibility.ELIGIBLE


def _snapshot(p: ProductStatus) -> AffectedProduct:
    eligibility = _product_eligibility(p)
    owner = p.action_owner
    note = p.reason
    if p.lifecycle == Lifecycle.END_OF_LIFE:
        who = "Stakater (managed-service agreement)" if owner == Party.STAKATER else "the customer"
        target = f" to {p.recommended_version}" if p.recommended_version else ""
        reason = p.reason.split("; upgrade to ", 1)[0]  # the target is named once, below
        note = f"upgrade first: {p.product} {p.version} is end of life ({reason}); {who} must upgrade{target}"
    elif p.matrix_behind:
        note = f"{p.reason}; eligibility is not lowered: Stakater lists the version in the matrix"
    elif p.lifecycle == Lifecycle.UNKNOWN:
        note = f"support cannot be confirmed: {p.reason}"
    return AffectedProduct(
        product=p.product,
        version=p.version[:64],
        lifecycle=p.lifecycle,
        eligibility=eligibility,
        action_owner=owner,
        recommended_version=p.recommended_version[:64] if p.recommended_version else None,
        note=note[:1024],
        workloads=[w for w in p.workloads if w][:20],
    )


def _listed_workloads(inp: TriageInput, problems: list[str]) -> tuple[list[tuple[str, Detection]], list[str]]:
    """(workload ref, detection) of spec.workloads, and the listed workloads that run no product; what
    is wrong with the list goes to ``problems``."""
    req = inp.request
    found: list[tuple[str, Detection]] = []
    customer_apps: list[str] = []
    seen: set[str] = set()
    for i, ref in enumerate(req.workloads):
        detections = inp.workloads.get(ref)
        if ref in seen:
            problems.append(f"spec.workloads[{i}]: {ref} is listed twice")
        elif detections is None:
            problems.append(f"spec.workloads[{i}]: workload {ref} does not exist")
        elif not detections:
            customer_apps.append(ref)
        elif req.product and all(d.product != req.product for d in detections):
            runs = ", ".join(sorted({d.product for d in detections}))
            problems.append(f"spec.workloads[{i}]: {ref} runs {runs}, not spec.product {req.product!r}")
        else:
            found.extend((ref, d) for d in detections if not req.product or d.product == req.product)
        seen.add(ref)
    return found, customer_apps


def _stated_version(req: SupportRequestSpec, found: list[tuple[str, Detection]], problems: list[str]) -> Version | None:
    """spec.version, when it is a version and no listed workload contradicts it."""
    stated = parse_version(req.version) if req.version else None
    if req.version and stated is None:
        problems.append(f"spec.version: {req.version!r} is not a version")
    if stated is not None:
        for ref, d in found:
            if d.version is not None and d.version.core[: stated.parts] != stated.core[: stated.parts]:
                problems.append(f"spec.version: {req.version} contradicts {ref}, which runs {d.product} {d.version}")
                break
    return stated


def _affected(inp: TriageInput) -> tuple[Affected | None, list[str]]:
    """Detections of the affected workloads (and product), or the problems that stop triage."""
    req = inp.request
    problems: list[str] = []
    matrix = inp.matrix
    assert matrix is not None
    if req.product and req.product not in matrix.products:
        known = ", ".join(sorted(matrix.products))
        problems.append(f"spec.product: {req.product!r} is not in CompatibilityMatrix {matrix.name!r} (known: {known})")
    found, customer_apps = _listed_workloads(inp, problems)
    stated = _stated_version(req, found, problems)
    if problems:
        return None, problems
    products = {d.product for _, d in found}
    if req.product and req.product not in products:
        # Only the product is named: its detections in the covered namespaces, or the stated version.
        if stated is not None:
            found.append(("", Detection(req.product, None, stated, "request")))
        else:
            found.extend(one_per_version(inp.product_found, req.product))
        if not any(d.product == req.product for _, d in found):
            found.append(("", Detection(req.product, None, None, "request", "no workload or spec.version shows it")))
        products.add(req.product)
    return Affected(found, products, customer_apps), []


# --------------------------------------------------------------------- triage


def _without_engagement(inp: TriageInput) -> SupportRequestStatus:
    """A request no engagement covers (triaged: NotCovered), or whose named engagement is missing."""
    gen, req = inp.generation, inp.request
    if inp.engagement_problem:
        return not_ready("EngagementNotFound", inp.engagement_problem, gen)
    message = (
        f"no SupportEngagement covers namespace {inp.namespace!r}; set spec.engagementRef or file the "
        f"request under an engagement that covers it"
    )
    status = not_ready("NoEngagement", message, gen)
    conditions = [condition(READY, True, "Triaged", "triaged: no engagement covers the request", gen)]
    conditions += [
        condition(IN_SCOPE, False, "NotCovered", message, gen),
        condition(COMPLETE, None, "NotCovered", "not assessed: the request is not covered", gen),
        condition(ELIGIBLE, None, "NotCovered", "not assessed: the request is not covered", gen),
    ]
    return status.model_copy(
        update={
            "scope": Scope.NOT_COVERED,
            "route": Route.COMMERCIAL_APPROVAL,
            "conditions": conditions,
            "severity": severity_status(req),
            "responsibilities": [
                ResponsibilityStatus(
                    item="Put the namespace under a SupportEngagement (commercial approval), or name one",
                    owner=Party.CUSTOMER,
                    note=message[:512],
                )
            ],
        }
    )


def triage(inp: TriageInput) -> SupportRequestStatus:
    """The status a SupportRequest should have, given what the shell found."""
    gen = inp.generation
    req = inp.request
    view = inp.engagement
    if view is None:
        return _without_engagement(inp)
    if view.spec is None:
        return not_ready(
            "EngagementInvalid",
            f"engagement {view.ref} has an invalid spec ({view.spec_error}); fix the engagement",
            gen,
            view.ref,
        )
    spec = view.spec
    calendar_problems = check_calendar(calendar_of(spec).time_zone, calendar_of(spec).holiday_code)
    if calendar_problems:
        return not_ready("EngagementInvalid", f"engagement {view.ref}: " + "; ".join(calendar_problems), gen, view.ref)
    if inp.matrix is None:
        return not_ready(
            "MatrixNotFound",
            f"CompatibilityMatrix {spec.matrix_name!r} of engagement {view.ref} not found",
            gen,
            view.ref,
        )
    affected, problems = _affected(inp)
    if affected is None:
        return not_ready("InvalidSpec", "; ".join(problems), gen, view.ref)
    scope, route, reason = decide_scope(inp, view, affected)

    today = inp.today or inp.opened_at.astimezone(dt.UTC).date()
    # The engagement's own evaluation, through the one entry point: an engagement the operator cannot
    # evaluate (a product the matrix does not know, ...) cannot triage a request either.
    evaluation = evaluate(spec, inp.matrix, affected.found, inp.platform, today, gen).status
    ready = next((c for c in evaluation.conditions if c.type == READY), None)
    if ready is not None and ready.status == ConditionStatus.FALSE:
        return not_ready("EngagementInvalid", f"engagement {view.ref}: {ready.message}", gen, view.ref)
    products = [
        _snapshot(p) for p in [*evaluation.products, *evaluation.uncovered_products] if p.product in affected.products
    ]
    severity = severity_status(req)
    response = None
    if scope in (Scope.IN_SCOPE, Scope.THIRD_PARTY):
        response = first_response(spec, Severity(req.severity), inp.opened_at, scope)
    missing = missing_information(req, products)
    responsibilities = next_steps(req, scope, route, reason, severity, response, products, missing, spec)

    in_scope = scope in (Scope.IN_SCOPE, Scope.THIRD_PARTY)
    eligibilities = [p.eligibility for p in products]
    if not products:
        eligible = condition(ELIGIBLE, None, "NoProductAffected", "no Stakater product is named or affected", gen)
    elif Eligibility.INELIGIBLE in eligibilities:
        notes = "; ".join(p.note for p in products if p.eligibility == Eligibility.INELIGIBLE)
        eligible = condition(ELIGIBLE, False, "UpgradeFirst", notes, gen)
    elif Eligibility.LIMITED in eligibilities:
        notes = "; ".join(p.note for p in products if p.eligibility == Eligibility.LIMITED)
        eligible = condition(ELIGIBLE, False, "Limited", notes, gen)
    else:
        stakater = "; ".join(
            p.note
            for p in products
            if p.lifecycle == Lifecycle.END_OF_LIFE
            or (p.lifecycle == Lifecycle.UNKNOWN and p.action_owner == Party.STAKATER)
        )
        message = "every affected product version is supported"
        if stakater:
            message = "eligible; Stakater's action items: " + stakater
        eligible = condition(ELIGIBLE, True, "Eligible", message, gen)
    conditions = [
        condition(READY, True, "Triaged", f"triaged under engagement {view.ref} ({spec.type}, {spec.plan})", gen),
        condition(IN_SCOPE, in_scope, str(scope), f"{scope} -> {route}: {reason}", gen),
        condition(
            COMPLETE,
            not missing,
            "Complete" if not missing else "MissingInformation",
            "missing: " + "; ".join(missing) if missing else "the request carries what the policy asks for",
            gen,
        ),
        eligible,
    ]
    return SupportRequestStatus(
        observed_generation=gen,
        engagement=view.ref,
        plan=str(spec.plan),
        scope=scope,
        route=route,
        reason=reason[:512],
        severity=severity,
        first_response=response,
        products=products[:20],
        missing_information=missing,
        responsibilities=responsibilities[:20],
        diagnostics=inp.diagnostics,
        conditions=conditions,
    )

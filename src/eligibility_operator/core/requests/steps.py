"""Who does what next for a triaged SupportRequest (the status's responsibilities), in the order it should
happen: the policy's shared responsibilities (section 3) for this request. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from ...api.models import EngagementType, Lifecycle, Party, ResponsibilityStatus, SupportEngagementSpec
from ...api.requests import (
    AffectedProduct,
    FirstResponse,
    RequestCategory,
    Route,
    Scope,
    SeverityStatus,
    SupportRequestSpec,
)

_C = RequestCategory
_VENDOR_TIMELINES = "timelines depend on the vendor; no guaranteed resolution time"


def _step(owner: Party, item: str, note: str = "") -> ResponsibilityStatus:
    return ResponsibilityStatus(item=item[:256], owner=owner, note=note[:512])


def _upgrades_first(products: Sequence[AffectedProduct]) -> list[ResponsibilityStatus]:
    """Section 7: an end-of-life version is upgraded first, by whoever owns versions."""
    return [
        _step(
            Party(p.action_owner or Party.CUSTOMER),
            f"Upgrade {p.product} {p.version}"
            + (f" to {p.recommended_version}" if p.recommended_version else "")
            + " first",
            "section 7: end-of-life versions may limit support eligibility; Stakater may require the upgrade "
            "before full assistance",
        )
        for p in products
        if p.lifecycle == Lifecycle.END_OF_LIFE
    ]


def _other_route_steps(scope: Scope, route: Route, reason: str) -> list[ResponsibilityStatus]:
    """Next steps of a request that support does not take: the route it goes instead."""
    if route == Route.PROFESSIONAL_SERVICES:
        return [_step(Party.CUSTOMER, "Request a Professional Services agreement for this activity", reason)]
    if route == Route.SCOPED_ENGAGEMENT:
        return [
            _step(Party.CUSTOMER, "Ask Stakater to scope the change", reason),
            _step(Party.STAKATER, "Evaluate the request separately and propose a scoped engagement", "section 6"),
        ]
    if route == Route.COMMERCIAL_APPROVAL and scope == Scope.CHANGE_REQUEST:
        return [
            _step(Party.CUSTOMER, "Seek commercial approval from Stakater for the change", reason),
            _step(Party.STAKATER, "Evaluate the request separately", "section 6"),
        ]
    item = "Extend the engagement to cover it, or file the request under the one that does"  # NotCovered
    return [_step(Party.CUSTOMER, item, reason)]


def next_steps(
    req: SupportRequestSpec,
    scope: Scope,
    route: Route,
    reason: str,
    severity: SeverityStatus,
    response: FirstResponse | None,
    products: Sequence[AffectedProduct],
    missing: Sequence[str],
    spec: SupportEngagementSpec,
) -> list[ResponsibilityStatus]:
    """Who does what next for this request, in the order it should happen: support's steps when it is
    in scope (or a third party's), else the route it takes instead."""
    if scope not in (Scope.IN_SCOPE, Scope.THIRD_PARTY):
        return _other_route_steps(scope, route, reason)
    out = _upgrades_first(products)
    if not req.ticket.reference:
        item = f"Open a ticket in Stakater's support portal as {severity.proposed} and set spec.ticket.reference"
        out.append(_step(Party.CUSTOMER, item, "the operator neither opens tickets nor tracks replies"))
    if severity.note:
        out.append(_step(Party.CUSTOMER, "Accurate severity classification", severity.note))
    if missing:
        item = "Provide timely and complete information: " + "; ".join(missing)
        out.append(
            _step(
                Party.CUSTOMER,
                item,
                "section 3: delays in providing required information may impact resolution timelines",
            )
        )
    if response is not None:
        due = f", due {response.due:%Y-%m-%d %H:%M} UTC" if response.due else ""
        out.append(_step(Party.STAKATER, f"First response within {response.target}{due}", response.note))
    if scope == Scope.THIRD_PARTY:
        vendor = req.vendor or "the vendor"
        out += [
            _step(Party.STAKATER, f"Diagnosis and coordination with {vendor}", "section 5"),
            _step(
                Party.SHARED, f"Resolution by {vendor}", "timelines depend on the vendor; no guaranteed resolution time"
            ),
            _step(Party.CUSTOMER, "Compliance with licensing obligations for third-party software", "section 3"),
        ]
    elif RequestCategory(req.category) == _C.INCIDENT:
        out.append(_step(Party.STAKATER, "Incident response and mitigation within the supported scope", "section 3"))
        if spec.type != EngagementType.MANAGED_SERVICE:
            out.append(_step(Party.CUSTOMER, "Application-level debugging and validation", "section 3"))
    return out

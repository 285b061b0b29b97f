"""A SupportRequest's severity (proposed and suggested) and its first-response target and due time, from
the engagement's response targets and business calendar. Pure."""

from __future__ import annotations

import datetime as dt

from ...api.models import SupportEngagementSpec
from ...api.requests import (
    FirstResponse,
    Impact,
    RequestCategory,
    Scope,
    Severity,
    SeverityStatus,
    SupportRequestSpec,
    Workaround,
)
from ..base.business_calendar import BusinessCalendar, CalendarError, parse_target
from ..verdict import policy

_C = RequestCategory

# --------------------------------------------------------------- severity


def suggest_severity(
    category: RequestCategory, impact: Impact | None, workaround: Workaround | None
) -> tuple[Severity, str]:
    """The policy's definitions: P1 production outage, no workaround; P2 major degradation, workaround not
    sustainable; P3 limited, reasonable workaround; P4 guidance, no production impact. Default P3."""
    if impact is None:
        if category in (_C.QUESTION, _C.UPGRADE_GUIDANCE):
            return Severity.P4, "guidance with no stated production impact"
        return Severity.P3, "the policy's default when the impact is not stated"
    if impact == Impact.NO_PRODUCTION_IMPACT:
        return Severity.P4, "no production impact"
    if impact == Impact.LIMITED:
        return Severity.P3, "limited, non-critical impact"
    if workaround == Workaround.REASONABLE:
        return Severity.P3, f"{impact} with a reasonable workaround"
    if impact == Impact.PRODUCTION_OUTAGE and workaround in (Workaround.NONE, None):
        return Severity.P1, "production outage with no workaround"
    return Severity.P2, f"{impact}" + (" with a workaround that is not sustainable" if workaround else "")


def severity_status(request: SupportRequestSpec) -> SeverityStatus:
    suggested, basis = suggest_severity(RequestCategory(request.category), request.impact, request.workaround)
    proposed = Severity(request.severity)
    note = ""
    if suggested != proposed:
        note = (
            f"proposed {proposed}, the policy's definitions suggest {suggested} ({basis}); accurate severity "
            f"classification is the customer's duty and Stakater may reclassify (section 3)"
        )
    return SeverityStatus(proposed=proposed, suggested=suggested, note=note)


# -------------------------------------------------------------- first response


def calendar_of(spec: SupportEngagementSpec) -> BusinessCalendar:
    agreement = spec.agreement
    return BusinessCalendar(
        getattr(agreement, "time_zone", "UTC") or "UTC", getattr(agreement, "holiday_calendar", None)
    )


def first_response(
    spec: SupportEngagementSpec, severity: Severity, opened_at: dt.datetime, scope: Scope
) -> FirstResponse:
    """The first-response target for ``severity`` under the engagement's plan, and when it is due."""
    targets = {t.severity: t.first_response for t in policy.response_targets(spec)}
    text = targets[str(severity)]
    calendar = calendar_of(spec)
    note = "a first response (initial engagement), not a resolution time; the operator does not track replies"
    if scope == Scope.THIRD_PARTY:
        note = "diagnosis and coordination only; timelines depend on the vendor; no guaranteed resolution time"
    try:
        target = parse_target(text)
        due: dt.datetime | None = calendar.due(opened_at, target)
    except CalendarError as exc:
        return FirstResponse(target=text[:64], due=None, calendar=calendar.describe()[:128], note=str(exc)[:1024])
    return FirstResponse(
        target=text[:64],
        due=due,
        business_hours=target.business,
        calendar=(calendar.describe() if target.business else "elapsed time")[:128],
        note=note,
    )

"""One way to build a status condition, for every kind (engagements, SupportRequests, matrices)."""

from __future__ import annotations

from ...api.models import Condition, ConditionStatus

MESSAGE_LIMIT = 1024  # a condition's message is clipped to this many characters


def condition(type_: str, ok: bool | None, reason: str, message: str = "", generation: int | None = None) -> Condition:
    """Condition ``type_``: True or False as ``ok`` says, Unknown for None; ``message`` clipped to
    :data:`MESSAGE_LIMIT` (callers that can say it better, "and 3 more", shorten it first)."""
    status = ConditionStatus.UNKNOWN if ok is None else (ConditionStatus.TRUE if ok else ConditionStatus.FALSE)
    return Condition(
        type=type_, status=status, reason=reason, message=message[:MESSAGE_LIMIT], observed_generation=generation
    )

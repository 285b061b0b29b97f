"""What the operator keeps of a SupportRequest, and when its status needs writing. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..api.requests import SupportRequestSpec, SupportRequestStatus
from .engagements import to_wire
from .matrix import describe_validation_error

RequestKey = tuple[str, str]  # namespace, name
_VOLATILE = ("lastTriageTime",)


@dataclass
class RequestRecord:
    namespace: str
    name: str
    uid: str
    generation: int | None
    created: dt.datetime | None
    spec: SupportRequestSpec | None
    spec_error: str | None
    written: dict[str, Any] | None  # status as last seen on or written to the server
    engagement: tuple[str, str] | None = None  # resolved at the last triage
    diagnosed_generation: int | None = None  # generation the diagnostics were collected for
    diagnosed_at: float = 0.0  # monotonic time of the last collection

    @property
    def key(self) -> RequestKey:
        return (self.namespace, self.name)

    @property
    def opened_at(self) -> dt.datetime:
        """When the first-response clock starts: spec.ticket.openedAt, else the creation time."""
        opened = (self.spec.ticket.opened_at if self.spec else None) or self.created or dt.datetime.now(dt.UTC)
        return opened if opened.tzinfo else opened.replace(tzinfo=dt.UTC)


def _timestamp(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def record_from_body(body: Mapping[str, Any]) -> RequestRecord:
    meta = body.get("metadata") or {}
    spec, error = None, None
    try:
        spec = SupportRequestSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        error = describe_validation_error(exc)
    status = body.get("status")
    return RequestRecord(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        generation=meta.get("generation"),
        # The API server always sets it; a fixed fallback keeps the due time from moving at each triage.
        created=_timestamp(meta.get("creationTimestamp")) or dt.datetime.now(dt.UTC),
        spec=spec,
        spec_error=error,
        written=dict(status) if isinstance(status, Mapping) else None,
    )


def _comparable(wire: Mapping[str, Any] | None) -> dict[str, Any]:
    if not wire:
        return {}
    out = {k: v for k, v in wire.items() if k not in _VOLATILE}
    out["conditions"] = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in wire.get("conditions") or []
    ]
    return out


def status_differs(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    return _comparable(a) != _comparable(b)


def status_to_write(
    new: SupportRequestStatus, written: Mapping[str, Any] | None, now: dt.datetime
) -> dict[str, Any] | None:
    """The status to write, or None when ``written`` says the same; conditions keep their transition times."""
    wire = to_wire(new)
    if _comparable(wire) == _comparable(written):
        return None
    before = {c.get("type"): c for c in (written or {}).get("conditions") or []}
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for condition in wire.get("conditions", []):
        old = before.get(condition["type"])
        keep = old is not None and old.get("status") == condition["status"] and old.get("lastTransitionTime")
        condition["lastTransitionTime"] = old["lastTransitionTime"] if keep and old else stamp
    wire["lastTriageTime"] = stamp
    return wire


def triage_summary(wire: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """What an Event announces: scope, route, eligibility, due time and Ready."""
    if not wire:
        return ()
    conditions = {c.get("type"): c.get("status") for c in wire.get("conditions") or []}
    return (
        wire.get("scope"),
        wire.get("route"),
        conditions.get("Ready"),
        conditions.get("Eligible"),
        (wire.get("firstResponse") or {}).get("due"),
    )

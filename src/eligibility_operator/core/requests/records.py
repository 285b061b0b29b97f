"""What the operator keeps of a SupportRequest, and when its status needs writing. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...api.requests import SupportRequestSpec, SupportRequestStatus
from ..base.specs import spec_of
from ..base.status_wire import differs, parse_rfc3339, to_write

RequestKey = tuple[str, str]  # namespace, name


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
    return parse_rfc3339(value) if isinstance(value, str) and value else None


def record_from_body(body: Mapping[str, Any]) -> RequestRecord:
    meta = body.get("metadata") or {}
    spec, error = spec_of(body, SupportRequestSpec)
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


def status_differs(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    return differs(a, b, stamp="lastTriageTime")


def status_to_write(
    new: SupportRequestStatus, written: Mapping[str, Any] | None, now: dt.datetime
) -> dict[str, Any] | None:
    """The status to write, or None when ``written`` says the same; conditions keep their transition times."""
    return to_write(new, written, now, stamp="lastTriageTime")


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

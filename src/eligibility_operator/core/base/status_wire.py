"""Statuses as the operator writes them: their JSON form, what counts as a change, and the times the
operator stamps (each condition's lastTransitionTime, the kind's last-pass time). Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel


def _without_empty_strings(value: Any) -> Any:
    """Kubernetes 1.20 rejects '' in status written by JSON patch (it reads it as null); omit them."""
    if isinstance(value, dict):
        return {k: _without_empty_strings(v) for k, v in value.items() if v != ""}
    if isinstance(value, list):
        return [_without_empty_strings(v) for v in value]
    return value


def rfc3339(when: dt.datetime) -> str:
    """A time as the operator writes it (RFC 3339, UTC, whole seconds)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> dt.datetime | None:
    """A time as Kubernetes writes it ("...Z"); None when it is not one."""
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def to_wire(status: BaseModel) -> dict[str, Any]:
    wire: dict[str, Any] = _without_empty_strings(status.model_dump(mode="json", by_alias=True, exclude_none=True))
    return wire


def _comparable(wire: Mapping[str, Any] | None, stamp: str | None) -> dict[str, Any]:
    if not wire:
        return {}
    out = {k: v for k, v in wire.items() if k != stamp}
    out["conditions"] = [
        {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in wire.get("conditions") or []
    ]
    return out


def differs(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, stamp: str | None) -> bool:
    """Whether two statuses differ in content, the times the operator stamps aside."""
    return _comparable(a, stamp) != _comparable(b, stamp)


def to_write(
    new: BaseModel, written: Mapping[str, Any] | None, now: dt.datetime, stamp: str | None
) -> dict[str, Any] | None:
    """The status to write, or None when ``written`` already says the same.

    A condition keeps its lastTransitionTime while its status stays the same; the field ``stamp``
    (lastEvaluationTime, lastTriageTime; None: the kind has none) is set to ``now`` on every write.
    """
    wire = to_wire(new)
    if not differs(wire, written, stamp):
        return None
    before = {c.get("type"): c for c in (written or {}).get("conditions") or []}
    when = rfc3339(now)
    for condition in wire.get("conditions", []):
        old = before.get(condition["type"])
        keep = old is not None and old.get("status") == condition["status"] and old.get("lastTransitionTime")
        condition["lastTransitionTime"] = old["lastTransitionTime"] if keep and old else when
    if stamp is not None:
        wire[stamp] = when
    return wire

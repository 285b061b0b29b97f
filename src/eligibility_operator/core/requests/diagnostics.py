"""A bounded diagnostics summary of a SupportRequest's workloads, to attach to the ticket. Pure.

Built only from a workload's ``status`` (conditions, replica counts), ``spec.replicas``
and the Events about it: never from the pod template (environment values), Secrets or
logs, which the shell does not read in the first place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ...api.requests import Diagnostics, WorkloadDiagnostics
from ..verdict.evaluation import Platform

MAX_CONDITIONS = 10
MAX_EVENTS = 5
MAX_TEXT = 200


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _replicas(kind: str, status: Mapping[str, Any], desired: Any) -> str:
    if kind == "DaemonSet":
        return f"{status.get('numberReady', 0)}/{status.get('desiredNumberScheduled', 0)} ready"
    if kind in ("Deployment", "StatefulSet"):
        want = desired if isinstance(desired, int) else 1
        return f"{status.get('readyReplicas', 0)}/{want} ready"
    return _text(status.get("phase"), 64)


def _event_time(event: Mapping[str, Any]) -> str:
    meta = event.get("metadata") or {}
    return str(event.get("lastTimestamp") or event.get("eventTime") or meta.get("creationTimestamp") or "")


def workload_diagnostics(
    ref: str, status: Mapping[str, Any] | None, desired_replicas: Any, events: Iterable[Mapping[str, Any]]
) -> WorkloadDiagnostics:
    """``status`` is the workload's ``.status`` (None: the workload was not found)."""
    kind = ref.split("/")[1] if ref.count("/") == 2 else ""
    if status is None:
        return WorkloadDiagnostics(workload=ref[:400], found=False)
    conditions = [
        _text(f"{c.get('type')}={c.get('status')} {c.get('reason') or ''}: {c.get('message') or ''}")
        for c in (status.get("conditions") or [])[:MAX_CONDITIONS]
        if isinstance(c, Mapping)
    ]
    newest = sorted((e for e in events if isinstance(e, Mapping)), key=_event_time, reverse=True)[:MAX_EVENTS]
    lines = [
        _text(
            f"{_event_time(e)} {e.get('type') or ''} {e.get('reason') or ''}"
            + (f" (x{e.get('count')})" if isinstance(e.get("count"), int) and e["count"] > 1 else "")
            + f": {e.get('message') or ''}"
        )
        for e in newest
    ]
    return WorkloadDiagnostics(
        workload=ref[:400],
        found=True,
        replicas=_replicas(kind, status, desired_replicas)[:64],
        conditions=conditions,
        events=lines,
    )


def summary(platform: Platform, products: Iterable[str], workloads: Iterable[WorkloadDiagnostics]) -> Diagnostics:
    parts = [f"Kubernetes {platform.kubernetes}" if platform.kubernetes else "", ""]
    if platform.openshift:
        parts[1] = f"OpenShift {platform.openshift}"
    return Diagnostics(
        platform=", ".join(p for p in parts if p)[:256] or "unknown",
        products=[_text(p, 256) for p in products][:20],
        workloads=list(workloads)[:20],
    )

"""The one writer of the operator's own objects: status of engagements, SupportRequests and matrices,
and the Events about them. One policy for all kinds:

* a status is written only when its content differs from what the server holds (one replace of the
  whole status subresource);
* a write fenced by leadership (:class:`~.leadership.NotLeading`) is :attr:`Outcome.NOT_LEADING`: the
  caller holds the key until this replica may write again, it is never treated as done;
* any other failure is :attr:`Outcome.FAILED` (counted, logged; the caller retries with backoff). When
  the API server *answered* and refused (too large, invalid), a minimal status is written in its place:
  ``observedGeneration`` and the one condition ``Ready=False/StatusWriteFailed`` saying so, nothing
  quoted from the spec, so that it always lands (``kubectl wait`` gets an answer);
* Events follow transitions only (eligibility, the triage summary, Premium's horizon notices).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...api.models import Condition, ConditionType, Eligibility, SupportEngagementStatus
from ...api.requests import SupportRequestStatus
from ...core.base.conditions import condition
from ...core.base.status_wire import differs, rfc3339, to_wire
from ...core.products.inventory import MatrixRecord
from ...core.requests import records as rr
from ...core.verdict import engagements as eng
from ..kube.api import KubeApi, describe_error
from ..leadership import NotLeading
from ..metrics import OperatorMetrics
from .queue import Outcome

log = logging.getLogger("eligibility_operator")
ENGAGEMENTS, REQUESTS, MATRICES = "supportengagements", "supportrequests", "compatibilitymatrices"
# (new status, status on the server, now) -> what to write, or None when the server says the same
ToWrite = Callable[[Any, Mapping[str, Any] | None, dt.datetime], dict[str, Any] | None]


def matrix_ready(record: MatrixRecord, error: str | None) -> Condition:
    """A CompatibilityMatrix's Ready condition: False with the problem while it is invalid or has no
    verified copy of its spec.source yet."""
    if error:
        reason = "WaitingForSource" if record.waiting_for_source else "Invalid"
        return condition(ConditionType.READY, False, reason, error, record.generation)
    return condition(ConditionType.READY, True, "Valid", "matrix is valid", record.generation)


def _answered(exc: BaseException) -> bool:
    """The API server answered and refused (as opposed to: unreachable, conflict, throttled, gone)."""
    status = getattr(exc, "status", None)
    return isinstance(status, int) and status >= 400 and status not in (404, 409, 429)


def write_failed(exc: BaseException, generation: int | None) -> Condition:
    """``Ready=False/StatusWriteFailed``: the evaluated status was refused, a reduced one stands in."""
    message = (
        f"the evaluated status could not be written ({describe_error(exc)}); "
        "it is retried with exponential backoff, and the lists are left out until it can be"
    )
    return condition(ConditionType.READY, False, "StatusWriteFailed", message, generation)


@dataclass(frozen=True)
class _Written:
    outcome: Outcome
    exists: bool = True  # False: the object was deleted meanwhile (nothing to retry)
    error: BaseException | None = None


class StatusWriter:
    def __init__(self, kube: KubeApi, metrics: OperatorMetrics, concurrency: int = 8) -> None:
        self.kube = kube
        self.metrics = metrics
        self._writes = asyncio.Semaphore(concurrency)

    async def _replace(self, plural: str, namespace: str | None, name: str, wire: dict[str, Any]) -> _Written:
        """Replace one status; never raises."""
        try:
            async with self._writes:
                exists = await asyncio.to_thread(self.kube.replace_status, plural, namespace, name, wire)
        except NotLeading as exc:
            log.debug("%s", exc)
            return _Written(Outcome.NOT_LEADING)
        except Exception as exc:
            self.metrics.errors.labels("status_patch").inc()
            log.warning(
                "status write of %s %s/%s failed, will retry: %s", plural, namespace or "", name, describe_error(exc)
            )
            return _Written(Outcome.FAILED, error=exc)
        if exists:
            self.metrics.status_patches.labels(plural).inc()
        return _Written(Outcome.DONE, exists=exists)

    async def _write(
        self, plural: str, record: Any, status: Any, to_write: ToWrite
    ) -> tuple[Outcome, dict[str, Any] | None]:
        """Write ``status`` if it changed: (outcome, what was written, or None when nothing was). A status
        the server refused is replaced by a minimal one that says so (:func:`minimal_status`)."""
        wire = to_write(status, record.written, _now())
        if wire is None:
            return Outcome.DONE, None
        result = await self._replace(plural, record.namespace, record.name, wire)
        if result.outcome is Outcome.FAILED:
            if result.error is not None and _answered(result.error):
                await self._fallback(plural, record, minimal_status(write_failed(result.error, record.generation)))
            return Outcome.FAILED, None
        if result.outcome is Outcome.NOT_LEADING or not result.exists:
            return result.outcome, None
        record.written = wire
        return Outcome.DONE, wire

    async def _fallback(self, plural: str, record: Any, wire: dict[str, Any]) -> None:
        """Write the minimal status that says the real one was refused (best effort; the caller retries)."""
        if not differs(wire, record.written, None):  # already says so: the same refusal again
            return
        result = await self._replace(plural, record.namespace, record.name, wire)
        if result.outcome is Outcome.DONE and result.exists:
            record.written = wire

    async def engagement(self, record: eng.EngagementRecord, status: SupportEngagementStatus) -> Outcome:
        """Write ``status`` if it changed, and announce an eligibility transition."""
        before = record.announced
        notices = eng.horizon_notices(record.written, status)  # Premium: entering the horizon, once
        outcome, wire = await self._write(ENGAGEMENTS, record, status, eng.status_to_write)
        if wire is None:
            return outcome
        after = Eligibility(status.eligibility)
        if after not in (before, Eligibility.UNKNOWN):
            record.announced = after
            conditions = wire.get("conditions", [])
            message = next((c.get("message", "") for c in conditions if c.get("type") == ConditionType.ELIGIBLE), "")
            prefix = f"eligibility changed from {before} to {after}" if before else f"eligibility is {after}"
            warning = after != Eligibility.ELIGIBLE
            codes = eng.finding_codes_text(status)
            await self.event(record, "SupportEngagement", f"Eligibility{after}", f"{prefix}: {message}{codes}", warning)
        for notice in notices:
            await self.event(record, "SupportEngagement", notice.reason, notice.message, notice.warning)
        return Outcome.DONE

    async def request(self, record: rr.RequestRecord, status: SupportRequestStatus) -> tuple[Outcome, bool]:
        """Write a SupportRequest's ``status`` if it changed; also whether its triage summary changed (the
        caller announces it: the Event's text is the triage's)."""
        before = rr.triage_summary(record.written)
        outcome, wire = await self._write(REQUESTS, record, status, rr.status_to_write)
        return outcome, wire is not None and rr.triage_summary(wire) != before

    # ----------------------------------------------------------------- matrices

    async def matrix(
        self, record: MatrixRecord, extra: tuple[list[Condition], dict[str, Any]] | None = None
    ) -> Outcome:
        """Write a CompatibilityMatrix's status if it changed (``extra``: the conditions and fields of its
        spec.source, :meth:`~.matrices.MatrixRefresher.status_extra`)."""
        ready = matrix_ready(record, record.error)
        products = len(record.compiled.products) if record.compiled and not record.error else 0
        wire = eng.matrix_status_to_write(record.generation, products, ready, record.written, _now(), extra)
        if wire is None:
            return Outcome.DONE
        result = await self._replace(MATRICES, None, record.name, wire)
        if result.outcome is Outcome.DONE and result.exists:
            record.written = wire
        return result.outcome

    # ------------------------------------------------------------------- Events

    async def event(self, record: Any, kind: str, reason: str, message: str, warning: bool) -> None:
        """Post an Event about one of our objects. Not retried: the status says the same, and the next
        transition posts again."""
        try:
            await asyncio.to_thread(
                self.kube.emit_event,
                namespace=record.namespace,
                name=record.name,
                uid=record.uid,
                kind=kind,
                reason=reason,
                message=message,
                warning=warning,
            )
            self.metrics.events_posted.inc()
        except NotLeading as exc:
            log.debug("%s", exc)
        except Exception as exc:
            self.metrics.errors.labels("event").inc()
            log.warning("could not post an Event for %s/%s: %s", record.namespace, record.name, describe_error(exc))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def minimal_status(ready: Condition) -> dict[str, Any]:
    """A status of any kind with only ``observedGeneration`` and ``ready`` (its message is the API server's
    refusal, clipped by the status model): small and valid whatever the spec holds."""
    wire: dict[str, Any] = {"conditions": [{**to_wire(ready), "lastTransitionTime": rfc3339(_now())}]}
    if ready.observed_generation is not None:
        wire["observedGeneration"] = ready.observed_generation
    return wire

"""Writes to the operator's own objects: engagement and matrix status, Events about engagements.

A status is written only when its content differs from what the server holds (one JSON
patch of the whole status); an Event is posted only when an engagement's eligibility
changes, or (Premium) when a product version or the agreement enters the upgrade horizon.
Failures are counted and logged here; the caller decides when to try again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from .api.models import Condition, ConditionStatus, ConditionType, Eligibility, SupportEngagementStatus
from .core import engagements as eng
from .core.inventory import MatrixRecord
from .kubeapi import KubeApi, describe_error
from .leadership import NotLeading
from .metrics import OperatorMetrics

log = logging.getLogger("eligibility_operator")


def matrix_ready(record: MatrixRecord, error: str | None) -> Condition:
    """A CompatibilityMatrix's Ready condition: False with the problem while it is invalid."""
    if error:
        return Condition(
            type=ConditionType.READY,
            status=ConditionStatus.FALSE,
            reason="Invalid",
            message=error[:1024],
            observed_generation=record.generation,
        )
    return Condition(
        type=ConditionType.READY,
        status=ConditionStatus.TRUE,
        reason="Valid",
        message="matrix is valid",
        observed_generation=record.generation,
    )


def _answered(exc: BaseException) -> bool:
    """The API server answered and refused (as opposed to: unreachable, conflict, throttled, gone)."""
    status = getattr(exc, "status", None)
    return isinstance(status, int) and status >= 400 and status not in (404, 409, 429)


class StatusWriter:
    def __init__(self, kube: KubeApi, metrics: OperatorMetrics, concurrency: int = 8) -> None:
        self.kube = kube
        self.metrics = metrics
        self._writes = asyncio.Semaphore(concurrency)
        # Extra conditions and fields of a matrix with spec.source (matrix_refresher.MatrixRefresher.status_extra).
        self.matrix_extra: Callable[[str], tuple[list[Condition], dict[str, Any]] | None] = lambda name: None

    async def engagement(self, record: eng.EngagementRecord, status: SupportEngagementStatus) -> bool:
        """Write ``status`` if it changed, and announce an eligibility transition; False if the write failed."""
        wire = eng.status_to_write(status, record.written, dt.datetime.now(dt.UTC))
        if wire is None:
            return True
        before = record.announced
        notices = eng.horizon_notices(record.written, status)  # Premium: entering the horizon, once
        try:
            async with self._writes:
                exists = await asyncio.to_thread(
                    self.kube.replace_status, "supportengagements", record.namespace, record.name, wire
                )
        except NotLeading as exc:  # not retried: whoever leads next re-evaluates everything
            log.debug("%s", exc)
            return True
        except Exception as exc:
            self.metrics.errors.labels("status_patch").inc()
            log.warning(
                "status patch of SupportEngagement %s/%s failed, will retry: %s",
                record.namespace,
                record.name,
                describe_error(exc),
            )
            if _answered(exc):
                await self._write_failure(record, status, exc)
            return False
        if not exists:
            return True
        self.metrics.status_patches.labels("supportengagements").inc()
        record.written = wire
        after = Eligibility(status.eligibility)
        if after not in (before, Eligibility.UNKNOWN):
            record.announced = after
            await self._announce(record, before, after, wire)
        for notice in notices:
            await self._emit(record, notice.reason, notice.message, notice.warning)
        return True

    async def _write_failure(
        self, record: eng.EngagementRecord, status: SupportEngagementStatus, exc: BaseException
    ) -> None:
        """The server refused the status (too large, invalid): say so in a small one, without the product lists."""
        failed = Condition(
            type=ConditionType.READY,
            status=ConditionStatus.FALSE,
            reason="StatusWriteFailed",
            message=(
                f"the evaluated status could not be written ({describe_error(exc)}); "
                "it is retried with exponential backoff, and the product lists are left out until it can be"
            )[:1024],
            observed_generation=record.generation,
        )
        small = status.model_copy(
            update={
                "products": [],
                "uncovered_products": [],
                "conditions": [failed, *(c for c in status.conditions if c.type != ConditionType.READY)],
            }
        )
        wire = eng.status_to_write(small, record.written, dt.datetime.now(dt.UTC))
        if wire is None:
            return
        try:
            async with self._writes:
                if await asyncio.to_thread(
                    self.kube.replace_status, "supportengagements", record.namespace, record.name, wire
                ):
                    self.metrics.status_patches.labels("supportengagements").inc()
                    record.written = wire
        except Exception as again:
            self.metrics.errors.labels("status_patch").inc()
            log.warning("could not write the failure either: %s", describe_error(again))

    async def _announce(
        self, record: eng.EngagementRecord, before: Eligibility | None, after: Eligibility, wire: dict[str, Any]
    ) -> None:
        conditions = wire.get("conditions", [])
        message = next((c.get("message", "") for c in conditions if c.get("type") == ConditionType.ELIGIBLE), "")
        prefix = f"eligibility changed from {before} to {after}" if before else f"eligibility is {after}"
        await self._emit(record, f"Eligibility{after}", f"{prefix}: {message}", after != Eligibility.ELIGIBLE)

    async def _emit(self, record: eng.EngagementRecord, reason: str, message: str, warning: bool) -> None:
        try:
            await asyncio.to_thread(
                self.kube.emit_event,
                namespace=record.namespace,
                name=record.name,
                uid=record.uid,
                kind="SupportEngagement",
                reason=reason,
                message=message,
                warning=warning,
            )
            self.metrics.events_posted.inc()
        except NotLeading as exc:
            log.debug("%s", exc)
        except Exception as exc:  # not retried: the status says the same, and the next transition posts again
            self.metrics.errors.labels("event").inc()
            log.warning("could not post an Event for %s/%s: %s", record.namespace, record.name, describe_error(exc))

    async def matrix(self, record: MatrixRecord) -> bool:
        """Write a CompatibilityMatrix's status if it changed; False if the write failed."""
        ready = matrix_ready(record, record.error)
        products = len(record.compiled.products) if record.compiled and not record.error else 0
        extra = self.matrix_extra(record.name)
        wire = eng.matrix_status_to_write(
            record.generation, products, ready, record.written, dt.datetime.now(dt.UTC), extra
        )
        if wire is None:
            return True
        try:
            if await asyncio.to_thread(self.kube.replace_status, "compatibilitymatrices", None, record.name, wire):
                self.metrics.status_patches.labels("compatibilitymatrices").inc()
                record.written = wire
        except NotLeading as exc:
            log.debug("%s", exc)
        except Exception as exc:
            self.metrics.errors.labels("status_patch").inc()
            log.warning(
                "status patch of CompatibilityMatrix %s failed, will retry: %s", record.name, describe_error(exc)
            )
            return False
        return True

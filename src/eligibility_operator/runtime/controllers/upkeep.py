"""The events the operator makes itself, besides the watches': priming at start, the sweep of objects
deleted while a watch was interrupted, the hourly resync and the platform poll. Each is told to the
routes (:mod:`.routes`), which pass it to the controllers that react."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from ...core.verdict.evaluation import Platform
from ..kube.api import describe_error
from ..parts import Component, Parts
from ..tasks import Backoff, retry
from .priming import SeenKey, SeenObjects

log = logging.getLogger("eligibility_operator")


class Told(Protocol):
    """What upkeep tells (the routes)."""

    def gone(self, key: SeenKey) -> None: ...

    def platform_seen(self, platform: Platform) -> None: ...

    def resync(self) -> None: ...


class Upkeep(Component):
    def __init__(
        self,
        parts: Parts,
        seen: SeenObjects,
        told: Told,
        *,
        retry_seconds: float = 2.0,
        resync_seconds: float = 3600.0,
        platform_seconds: float = 300.0,
        sweep_seconds: float = 600.0,
    ) -> None:
        super().__init__(parts)
        self.seen = seen
        self.told = told
        self.retry_seconds = retry_seconds  # first delay before a failed sweep is tried again
        self.resync_seconds = resync_seconds
        self.platform_seconds = platform_seconds
        self.sweep_seconds = sweep_seconds
        self._sweep_pending = False
        self._sweep_backoff = Backoff(retry_seconds * 5, 300.0)

    def count_error(self, operation: str) -> None:
        self.metrics.errors.labels(operation).inc()

    # ------------------------------------------------------------- priming

    async def prime(self, recheck_seconds: float = 5.0, give_up_seconds: float = 300.0) -> None:
        """Set the state ready once the watches delivered every object that existed at start.

        Evaluating earlier would write statuses from a partial inventory (and post Events about them).
        """
        expected = await retry(
            self.seen.counts,
            operation="sweep",
            what="counting the objects at start",
            count_error=self.count_error,
            backoff=Backoff(self.retry_seconds, 30.0),
        )
        if not await self.seen.primed(expected, recheck_seconds, give_up_seconds):
            log.warning("not every object listed at start arrived through the watches; starting anyway")
        log.info(
            "initial listing complete: %d workloads, %d engagements",
            self.state.workload_count(),
            self.state.engagement_count(),
        )
        self.state.ready.set()

    # ------------------------------------------------------------ sweeping

    def relisted(self) -> None:
        """Kopf is (re)listing a resource: after a 410 Gone or a reconnect it lists again, and objects
        deleted meanwhile are never reported. Sweep them out soon (debounced)."""
        if self._sweep_pending or not self.state.is_ready():
            return
        self._schedule_sweep(self.retry_seconds)

    def _schedule_sweep(self, delay: float) -> None:
        self._sweep_pending = True
        self.tasks.call_later(delay, self.sweep, name="sweep-soon")

    async def sweep_forever(self) -> None:
        await self.state.ready.wait()
        while True:
            await asyncio.sleep(self.sweep_seconds)
            if not self._sweep_pending:  # a retry after a failure is already scheduled otherwise
                await self.sweep()

    async def sweep(self) -> None:
        """Forget objects that no longer exist, by comparing with a metadata-only LIST of each resource."""
        self._sweep_pending = False
        try:
            stale = await self.seen.stale()
        except Exception as exc:
            self.count_error("sweep")
            delay = self._sweep_backoff.delay()
            log.warning("sweep failed, retrying in %.0f s: %s", delay, describe_error(exc))
            self._schedule_sweep(delay)
            return
        self._sweep_backoff.reset()
        for key in stale:
            self.told.gone(key)
        if stale:
            log.info("sweep: forgot %d objects deleted while the watches were interrupted", len(stale))

    # ----------------------------------------------------- time and platform

    async def resync_forever(self) -> None:
        """Re-evaluate everything periodically: lifecycles move with the calendar, not only with objects."""
        while True:
            await asyncio.sleep(self.resync_seconds)
            self.told.resync()

    async def watch_platform_forever(self) -> None:
        while True:
            delay = self.platform_seconds
            try:
                platform = await asyncio.to_thread(self.kube.platform)
                if platform.openshift_problem:  # visible in status.platform and as a metric; retried sooner
                    self.count_error("platform")
                    log.warning("%s", platform.openshift_problem)
                    delay = min(delay, 30.0)
                self.told.platform_seen(platform)
            except Exception as exc:  # the API server may be briefly away; try again later
                self.count_error("platform")
                log.warning("could not read the platform version: %s", describe_error(exc))
            await asyncio.sleep(delay)

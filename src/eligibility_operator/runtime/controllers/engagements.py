"""The operator's engine: updates the state from watch events, decides what to re-evaluate, writes status.

Kopf handlers (see :mod:`..handlers`) only feed this object; it is given the state
(:mod:`..state`), the API client and the metrics it uses (:class:`~..parts.Parts`). All evaluation happens in
:meth:`Reconciler.run`, one coalesced batch at a time, and all writes through its
:class:`~.writer.StatusWriter`:

* a workload change marks only the engagements that cover its namespace, and only
  when the workload's detected products changed;
* changes within ``coalesce_seconds`` are evaluated together, so a burst of 1,000
  changes costs one evaluation and at most one status write per engagement;
* status is written only when its content differs from what is on the server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from ...api.models import SupportEngagementStatus
from ...core.compat.matrix import MatrixError, load_matrix
from ...core.products.coverage import ANY_NAMESPACE, confined
from ...core.products.inventory import Key
from ...core.products.objects import facts_of
from ...core.products.workloads import WorkloadFacts
from ...core.verdict import engagements as eng
from ...core.verdict.evaluation import Platform
from ..kube.api import describe_error
from ..parts import Component, Parts
from ..state import EngagementKey
from ..tasks import Backoff, retry
from .priming import SeenObjects, engagement_key, matrix_key, namespace_key, workload_key
from .queue import Outcome, WorkQueue, drain_forever, merge_seen
from .writer import StatusWriter

log = logging.getLogger("eligibility_operator")


class Reconciler(Component):
    def __init__(
        self,
        parts: Parts,
        *,
        coalesce_seconds: float = 0.05,
        resync_seconds: float = 3600.0,
        platform_seconds: float = 300.0,
        sweep_seconds: float = 600.0,
        retry_seconds: float = 2.0,
        cross_namespace: frozenset[str] = frozenset({ANY_NAMESPACE}),
    ) -> None:
        # Only the leader evaluates and writes; the others keep their state current (see leadership.py).
        super().__init__(parts)
        self.seen = SeenObjects(parts.kube, parts.state.namespaces)
        self.writer = StatusWriter(parts.kube, parts.metrics)
        self.coalesce_seconds = coalesce_seconds
        self.resync_seconds = resync_seconds
        self.platform_seconds = platform_seconds
        self.sweep_seconds = sweep_seconds
        self.retry_seconds = retry_seconds  # first delay before a failed write or sweep is tried again
        self.queue: WorkQueue[EngagementKey] = WorkQueue(
            self.tasks, coalesce_seconds=coalesce_seconds, retry_seconds=retry_seconds, name="engagement-status"
        )
        self.matrix_queue: WorkQueue[str] = WorkQueue(
            self.tasks, coalesce_seconds=coalesce_seconds, retry_seconds=retry_seconds, name="matrix-status"
        )
        self._sweep_pending = False
        self._sweep_backoff = Backoff(retry_seconds * 5, 300.0)
        self._confined: set[EngagementKey] = set()  # engagements whose coverage was cut to their namespace
        # evaluations shared by engagements with the same inputs, for one state of the inventory (_assess)
        self._assessed: dict[tuple[Any, ...], SupportEngagementStatus] = {}
        self._assessed_epoch: tuple[Any, ...] = ()
        self.cross_namespace = cross_namespace
        # Told which engagements are re-evaluated for a reason other than one workload (spec, matrix,
        # platform, namespace labels, resync, a new term): the SupportRequest triager re-triages their requests.
        self.on_marked: Callable[[list[EngagementKey]], None] | None = None
        # Told of one workload whose detections changed (its key and the products it ran before or after):
        # the triager re-triages only the requests that name it or one of those products.
        self.on_workload_changed: Callable[[Key, frozenset[str]], None] | None = None
        # Told of SupportRequests that a sweep found deleted while the watches were interrupted.
        self.on_request_gone: Callable[[str, str], None] | None = None
        # Offered each new matrix generation; True when it has spec.source, and then it compiles the fetched
        # document and calls matrix_changed (matrix_refresher.py).
        self.on_matrix_source: Callable[[str, Mapping[str, Any]], bool] | None = None
        self.on_matrix_gone: Callable[[str], None] | None = None  # the refresher drops what it kept of it

    def count_error(self, operation: str) -> None:
        self.metrics.errors.labels(operation).inc()

    # ------------------------------------------------------------ marking

    def _mark(self, keys: set[EngagementKey] | list[EngagementKey], requests: bool = True) -> None:
        """Re-evaluate these engagements (and, with ``requests``, re-triage every request under them)."""
        if keys:
            self.queue.add(keys)
            if requests and self.on_marked is not None:
                self.on_marked(list(keys))

    def _products(self, key: Key, namespace: str) -> set[str]:
        """The products workload ``key`` runs under any matrix (a few matrices: cheap)."""
        return {
            d.product
            for record in self.state.inventory.matrices.values()
            for d in record.detections.get(namespace, {}).get(key, ())
        }

    def _workload_changed(self, key: Key, namespace: str, before: set[str]) -> None:
        """A workload's detections changed: re-evaluate the engagements covering its namespace, and re-triage
        only the requests whose inputs it is (not every request under those engagements)."""
        self._mark(self.state.engagements_covering(namespace), requests=False)
        if self.on_workload_changed is not None:
            self.on_workload_changed(key, frozenset(before | self._products(key, namespace)))

    def mark_all(self) -> None:
        self._mark(list(self.state.engagements))

    def mark_namespace(self, namespace: str) -> None:
        self._mark(self.state.engagements_covering(namespace))

    def mark_matrix(self, name: str) -> None:
        self._mark(self.state.engagements_using_matrix(name))

    # ------------------------------------------------------------- feeding

    def workload_seen(self, kind: str, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        found = facts_of(body)
        self.workload_facts_seen(kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""), found)

    def workload_facts_seen(self, kind: str, namespace: str, name: str, found: WorkloadFacts | None) -> None:
        """A workload as the watches decoded it (``runtime.watches``): its facts, None if it has none."""
        self.seen.seen(workload_key(namespace, kind, name))
        self.metrics.watch_events.labels(kind).inc()
        if found is None:  # e.g. OLM's copies of a ClusterServiceVersion, an Application of no chart
            return
        old = self.state.inventory.workloads.get(found.key)
        before = self._products(found.key, old.namespace) if old is not None else set()
        if self.state.inventory.upsert(found):
            if old is not None and old.namespace != found.namespace:
                self._workload_changed(found.key, old.namespace, before)
            self._workload_changed(found.key, found.namespace, before)

    def workload_gone(self, namespace: str, kind: str, name: str) -> None:
        self.metrics.watch_events.labels(kind).inc()
        key: Key = (namespace, kind, name)
        self.seen.gone(workload_key(*key))
        old = self.state.inventory.workloads.get(key)
        where = old.namespace if old is not None else namespace  # a GitOps object's target namespace
        before = self._products(key, where)
        if self.state.inventory.remove(key):
            self._workload_changed(key, where, before)

    def namespace_seen(self, name: str, labels: Mapping[str, str]) -> None:
        self.metrics.watch_events.labels("Namespace").inc()
        self.seen.seen(namespace_key(name))
        if self.state.inventory.set_namespace(name, labels):
            selecting = self.state.engagements_with_selectors()
            if selecting:
                self.mark_namespace(name)
                self._mark(selecting)

    def namespace_gone(self, name: str) -> None:
        self.metrics.watch_events.labels("Namespace").inc()
        self.seen.gone(namespace_key(name))
        self.state.inventory.remove_namespace(name)

    def engagement_seen(self, body: Mapping[str, Any]) -> None:
        self.metrics.watch_events.labels("SupportEngagement").inc()
        fresh = eng.record_from_body(body)
        if fresh.spec is not None:  # only trusted namespaces' engagements cover other namespaces
            coverage = confined(fresh.spec.coverage, fresh.namespace, self.cross_namespace)
            if coverage != fresh.spec.coverage:
                self._confined.add(fresh.key)
            else:
                self._confined.discard(fresh.key)
            fresh.spec = fresh.spec.model_copy(update={"coverage": coverage})
        self.seen.seen(engagement_key(*fresh.key))
        current, new, changed = merge_seen(self.state.engagements, fresh)
        if new:
            self._mark([fresh.key])
            return
        if eng.status_differs(current.written, fresh.written):
            # The server holds another status than we think: someone edited it, a patch that timed out
            # was applied after all, or this is a late echo of an older write of ours. Believe the
            # server and re-evaluate: a wrong status gets rewritten, a stale echo costs one idempotent
            # write (Events follow `announced`, so they are not repeated).
            current.written = fresh.written
            changed = True
            if not self.leadership.may_write():
                # Another replica wrote it and announced its eligibility: after taking over, Events
                # follow what the server says, so none is repeated.
                current.announced = fresh.announced
        if changed:
            self._mark([fresh.key])

    def engagement_gone(self, namespace: str, name: str) -> None:
        self.metrics.watch_events.labels("SupportEngagement").inc()
        self.seen.gone(engagement_key(namespace, name))
        self.state.engagements.pop((namespace, name), None)
        self.queue.forget((namespace, name))
        self._confined.discard((namespace, name))
        if self.on_marked is not None:
            self.on_marked([(namespace, name)])

    def matrix_seen(self, body: Mapping[str, Any]) -> None:
        self.metrics.watch_events.labels("CompatibilityMatrix").inc()
        meta = body.get("metadata") or {}
        name, generation = str(meta.get("name")), meta.get("generation")
        self.seen.seen(matrix_key(name))
        uid = str(meta.get("uid") or "")
        record = self.state.inventory.matrix_record(name)
        status = body.get("status")
        if record.uid != uid:  # new, or deleted and created again while we were away
            record.uid, record.generation = uid, None
            record.written = dict(status) if isinstance(status, Mapping) else None
        elif isinstance(status, Mapping) and not self.leadership.may_write():
            record.written = dict(status)  # the leader's write: on taking over, compare with that
        if record.generation == generation:
            return
        record.generation = generation
        if self.on_matrix_source is not None and self.on_matrix_source(name, body):
            return
        try:
            compiled = load_matrix(name, generation or 0, body.get("spec"))
        except MatrixError as exc:
            log.warning("CompatibilityMatrix %s is invalid: %s", name, describe_error(exc))
            self.state.inventory.set_matrix_error(name, str(exc))
        else:
            self.state.inventory.set_matrix(compiled)
        self.matrix_changed(name)

    def matrix_changed(self, name: str, engagements: bool = True) -> None:
        """Write matrix ``name``'s status and (``engagements``) re-evaluate the engagements using it."""
        self.matrix_queue.add([name])  # the matrix's own status, even when no engagement uses it
        if engagements:
            self.mark_matrix(name)

    def matrix_gone(self, name: str) -> None:
        self.metrics.watch_events.labels("CompatibilityMatrix").inc()
        self.seen.gone(matrix_key(name))
        self.state.inventory.remove_matrix(name)
        self.matrix_queue.forget(name)
        self.mark_matrix(name)
        if self.on_matrix_gone is not None:
            self.on_matrix_gone(name)

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
            if key[0] == "w":
                self.workload_gone(key[1], key[2], key[3])
            elif key[0] == "e":
                self.engagement_gone(key[1], key[2])
            elif key[0] == "r":
                if self.on_request_gone is not None:
                    self.on_request_gone(key[1], key[2])
            elif key[0] == "m":
                self.matrix_gone(key[1])
            else:
                self.namespace_gone(key[1])
        if stale:
            log.info("sweep: forgot %d objects deleted while the watches were interrupted", len(stale))

    def set_platform(self, platform: Platform) -> None:
        if platform != self.state.platform:
            self.state.platform = platform
            self.mark_all()

    # ---------------------------------------------------------------- loop

    async def run(self) -> None:
        """Evaluate dirty engagements (and write matrix statuses) forever, one coalesced batch at a time."""
        ready, leadership = self.state.ready, self.leadership
        await asyncio.gather(
            drain_forever(self.matrix_queue, self._write_matrix_status, leadership, ready),
            drain_forever(self.queue, self._reconcile, leadership, ready, after_batch=self._count_failing),
        )

    def _count_failing(self) -> None:
        self.metrics.status_writes_failing.set(self.queue.failing)

    @property
    def idle(self) -> bool:
        """No batch pending (for tests and benchmarks)."""
        return self.queue.idle and self.matrix_queue.idle

    def leadership_changed(self, leading: bool) -> None:
        """A new term (this replica leads, after not being allowed to write): re-evaluate everything, as the
        old leader, or this replica before the lapse, may have left work unwritten. Only statuses that
        differ from the server's are written."""
        if leading:
            self.matrix_queue.add(self.state.inventory.matrices)
            self.mark_all()
            self.matrix_queue.wake()
            self.queue.wake()  # held keys, even when there is no engagement to mark

    async def resync_forever(self) -> None:
        """Re-evaluate everything periodically: lifecycles move with the calendar, not only with objects."""
        while True:
            await asyncio.sleep(self.resync_seconds)
            self.mark_all()

    async def watch_platform_forever(self) -> None:
        while True:
            delay = self.platform_seconds
            try:
                platform = await asyncio.to_thread(self.kube.platform)
                if platform.openshift_problem:  # visible in status.platform and as a metric; retried sooner
                    self.count_error("platform")
                    log.warning("%s", platform.openshift_problem)
                    delay = min(delay, 30.0)
                self.set_platform(platform)
            except Exception as exc:  # the API server may be briefly away; try again later
                self.count_error("platform")
                log.warning("could not read the platform version: %s", describe_error(exc))
            await asyncio.sleep(delay)

    async def _reconcile(self, key: EngagementKey) -> Outcome:
        record = self.state.engagements.get(key)
        if record is None:
            return Outcome.DONE
        started = time.perf_counter()
        status = self._assess(record)
        if key in self._confined:
            status = eng.with_ready_note(
                status,
                f"; only namespace {key[0]!r} is covered: engagements in this namespace may not cover others "
                "(operator setting --cross-namespace-engagements)",
            )
        self.metrics.evaluation_seconds.observe(time.perf_counter() - started)
        self.metrics.evaluations.inc()
        self.state.last_evaluation = time.time()
        return await self.writer.engagement(record, status)

    def _assess(self, record: eng.EngagementRecord) -> SupportEngagementStatus:
        """``eng.assess``, shared by engagements whose evaluation inputs are the same: 100 engagements with
        one spec over the same namespaces cost one evaluation per change, not 100 (issue 37). Only while
        their matrix is valid: otherwise the status keeps each engagement's own previous evaluation."""
        inventory, platform, today = self.state.inventory, self.state.platform, self.state.today()
        matrix = inventory.matrices.get(record.spec.matrix_name) if record.spec is not None else None
        if record.spec is None or matrix is None or matrix.compiled is None or matrix.error:
            return eng.assess(record, inventory, platform, today)
        epoch = (inventory.version, platform, today)
        if epoch != self._assessed_epoch:
            self._assessed_epoch, self._assessed = epoch, {}
        shared = (record.spec.model_dump_json(), record.generation, matrix.compiled.revision, matrix.generation)
        status = self._assessed.get(shared)
        if status is None:
            status = self._assessed[shared] = eng.assess(record, inventory, platform, today)
        return status

    async def _write_matrix_status(self, name: str) -> Outcome:
        record = self.state.matrix(name)
        if record is None:
            return Outcome.DONE
        return await self.writer.matrix(record)

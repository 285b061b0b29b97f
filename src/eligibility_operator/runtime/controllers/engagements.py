"""The SupportEngagement controller: decides which engagements to re-evaluate, evaluates them, writes status.

It is told what happened by the routes (:mod:`.routes`, the one table of what reacts to what), which also
keep the inventory of workloads and namespaces current; it is given the state (:mod:`..state`), the API
client and the metrics it uses (:class:`~..parts.Parts`) and the one status writer. All evaluation happens
in :meth:`Reconciler.run`, one coalesced batch at a time, and all writes through its
:class:`~.writer.StatusWriter`:

* a workload change marks only the engagements that cover its namespace, and only
  when the workload's detected products changed;
* changes within ``coalesce_seconds`` are evaluated together, so a burst of 1,000
  changes costs one evaluation and at most one status write per engagement;
* status is written only when its content differs from what is on the server.

Each method that marks engagements returns the keys it marked: the routes re-triage their SupportRequests.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from ...api.models import SupportEngagementStatus
from ...core.products.coverage import ANY_NAMESPACE, confined
from ...core.verdict import engagements as eng
from ..parts import Component, Parts
from ..state import EngagementKey
from .queue import Outcome, WorkQueue, drain_forever, merge_seen
from .writer import StatusWriter


class Reconciler(Component):
    """The SupportEngagement controller."""

    def __init__(
        self,
        parts: Parts,
        writer: StatusWriter,
        *,
        coalesce_seconds: float = 0.05,
        retry_seconds: float = 2.0,
        cross_namespace: frozenset[str] = frozenset({ANY_NAMESPACE}),
    ) -> None:
        # Only the leader evaluates and writes; the others keep their state current (see leadership.py).
        super().__init__(parts)
        self.writer = writer
        self.coalesce_seconds = coalesce_seconds
        self.queue: WorkQueue[EngagementKey] = WorkQueue(
            self.tasks, coalesce_seconds=coalesce_seconds, retry_seconds=retry_seconds, name="engagement-status"
        )
        self._confined: set[EngagementKey] = set()  # engagements whose coverage was cut to their namespace
        # evaluations shared by engagements with the same inputs, for one state of the inventory (_assess)
        self._assessed: dict[tuple[Any, ...], SupportEngagementStatus] = {}
        self._assessed_epoch: tuple[Any, ...] = ()
        self.cross_namespace = cross_namespace

    # ------------------------------------------------------------ marking

    def _mark(self, keys: Iterable[EngagementKey]) -> list[EngagementKey]:
        """Re-evaluate these engagements; the keys marked (the routes re-triage their requests)."""
        marked = list(keys)
        if marked:
            self.queue.add(marked)
        return marked

    def workload_changed(self, namespace: str) -> None:
        """A workload's detections changed: re-evaluate the engagements covering its namespace (the routes
        re-triage only the requests whose inputs it is, not every request under those engagements)."""
        self._mark(self.state.engagements_covering(namespace))

    def namespace_relabelled(self, name: str) -> list[EngagementKey]:
        """Namespace ``name``'s labels changed: re-evaluate the engagements covering it and every engagement
        that selects namespaces by label (it may select this one now, or no longer)."""
        selecting = self.state.engagements_with_selectors()
        if not selecting:
            return []
        return self._mark(self.state.engagements_covering(name)) + self._mark(selecting)

    def mark_all(self) -> list[EngagementKey]:
        return self._mark(self.state.engagements)

    def matrix_changed(self, name: str) -> list[EngagementKey]:
        """Matrix ``name`` changed content or was deleted: re-evaluate the engagements using it."""
        return self._mark(self.state.engagements_using_matrix(name))

    # ------------------------------------------------------------- feeding

    def engagement_seen(self, body: Mapping[str, Any]) -> list[EngagementKey]:
        """An engagement as a watch delivered it: re-evaluate it if it is new or changed."""
        fresh = eng.record_from_body(body)
        if fresh.spec is not None:  # only trusted namespaces' engagements cover other namespaces
            coverage = confined(fresh.spec.coverage, fresh.namespace, self.cross_namespace)
            if coverage != fresh.spec.coverage:
                self._confined.add(fresh.key)
            else:
                self._confined.discard(fresh.key)
            fresh.spec = fresh.spec.model_copy(update={"coverage": coverage})
        current, new, changed = merge_seen(self.state.engagements, fresh)
        if new:
            return self._mark([fresh.key])
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
        return self._mark([fresh.key]) if changed else []

    def engagement_gone(self, namespace: str, name: str) -> None:
        self.state.engagements.pop((namespace, name), None)
        self.queue.forget((namespace, name))
        self._confined.discard((namespace, name))

    # ---------------------------------------------------------------- loop

    async def run(self) -> None:
        """Evaluate dirty engagements forever, one coalesced batch at a time."""
        await drain_forever(
            self.queue, self._reconcile, self.leadership, self.state.ready, after_batch=self._count_failing
        )

    def _count_failing(self) -> None:
        self.metrics.status_writes_failing.set(self.queue.failing)

    @property
    def idle(self) -> bool:
        """No batch pending (for tests and benchmarks)."""
        return self.queue.idle

    def leadership_changed(self, leading: bool) -> list[EngagementKey]:
        """A new term (this replica leads, after not being allowed to write): re-evaluate everything, as the
        old leader, or this replica before the lapse, may have left work unwritten. Only statuses that
        differ from the server's are written."""
        if not leading:
            return []
        marked = self.mark_all()
        self.queue.wake()  # held keys, even when there is no engagement to mark
        return marked

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

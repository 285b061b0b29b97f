"""The SupportRequest controller: keeps the requests, re-triages them, writes their status.

The routes (:mod:`.routes`) tell it of each request seen or gone, of the engagements the engagement
controller re-evaluates (their spec, matrix, platform or namespace labels changed, a new leadership term,
and hourly: every request under those engagements is triaged again), and of a workload whose detections
changed (only the requests that name it or one of its products are). Triage runs in coalesced batches
like the engagements. The triage itself is pure
(:mod:`core.triage`); this module only gathers its inputs from the operator's state,
reads the affected workloads' status and Events for the diagnostics, writes the
request's status when it changed, and posts an Event when the triage changed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ...api.requests import Diagnostics, RequestConditionType, SupportRequestStatus
from ...core.requests import records as rr
from ...core.requests.diagnostics import summary, workload_diagnostics
from ...core.requests.inputs import EngagementView, InventorySource, gather
from ...core.requests.triage import not_ready, triage
from ..kube.api import describe_error
from ..parts import Component, Parts
from ..state import EngagementKey, OperatorState
from .queue import Outcome, WorkQueue, drain_forever, merge_seen
from .writer import StatusWriter

log = logging.getLogger("eligibility_operator")
PLURAL = "supportrequests"
KIND = "SupportRequest"


def engagement_view(state: OperatorState, key: EngagementKey) -> EngagementView | None:
    record = state.engagement(key)
    if record is None:
        return None
    contracted = getattr(record.spec, "contracted_services", None) or ()
    return EngagementView(
        namespace=record.namespace,
        name=record.name,
        spec=record.spec,
        spec_error=record.spec_error,
        contracted_services=frozenset(str(s) for s in contracted),
    )


class RequestTriager(Component):
    def __init__(
        self,
        parts: Parts,
        *,
        coalesce_seconds: float = 0.05,
        retry_seconds: float = 2.0,
        diagnostics_seconds: float = 600.0,
        writer: StatusWriter | None = None,
    ) -> None:
        # Only the leader triages and writes; on taking over, the routes mark every engagement, and
        # with them their requests (engagements_marked).
        super().__init__(parts)
        self.coalesce_seconds = coalesce_seconds
        self.retry_seconds = retry_seconds
        self.diagnostics_seconds = diagnostics_seconds  # diagnostics are refreshed at most this often
        self.queue: WorkQueue[rr.RequestKey] = WorkQueue(
            parts.tasks, coalesce_seconds=coalesce_seconds, retry_seconds=retry_seconds, name="request-status"
        )
        self.writer = writer or StatusWriter(parts.kube, parts.metrics, concurrency=4)
        self._reads = asyncio.Semaphore(4)
        # requests by the engagement they fell under at their last triage (None: none)
        self._by_engagement: dict[EngagementKey | None, set[rr.RequestKey]] = {}
        # requests by the workloads (namespace, Kind, name) and the product their spec names: a workload
        # change re-triages only these, not the thousands of other requests under the same engagement
        self._by_workload: dict[tuple[str, str, str], set[rr.RequestKey]] = {}
        self._by_product: dict[str, set[rr.RequestKey]] = {}
        self._inputs: dict[rr.RequestKey, tuple[list[tuple[str, str, str]], str | None]] = {}

    # ------------------------------------------------------------- feeding

    def _mark(self, keys: Iterable[rr.RequestKey]) -> None:
        self.queue.add(keys)

    def engagements_marked(self, keys: Iterable[EngagementKey]) -> None:
        """These engagements are re-evaluated: re-triage their requests (and the unplaced ones)."""
        keys = list(keys)
        if not self.state.requests:
            return
        for key in keys:
            self._mark(self._by_engagement.get(key, ()))
        self._mark(self._by_engagement.get(None, ()))

    def workload_changed(self, key: tuple[str, str, str], products: frozenset[str]) -> None:
        """A workload's detections changed: re-triage the requests that name it, or one of ``products``."""
        self._mark(self._by_workload.get(key, ()))
        for product in products:
            self._mark(self._by_product.get(product, ()))

    def _index_inputs(self, record: rr.RequestRecord | None, key: rr.RequestKey) -> None:
        """File ``key`` under the workloads and product of ``record``'s spec (None: forget it)."""
        old_refs, old_product = self._inputs.pop(key, ([], None))
        for ref in old_refs:
            self._by_workload.get(ref, set()).discard(key)
        if old_product is not None:
            self._by_product.get(old_product, set()).discard(key)
        if record is None or record.spec is None:
            return
        refs = [(parts[0], parts[1], parts[2]) for w in record.spec.workloads if len(parts := w.split("/", 2)) == 3]
        product = record.spec.product or None
        for ref in refs:
            self._by_workload.setdefault(ref, set()).add(key)
        if product is not None:
            self._by_product.setdefault(product, set()).add(key)
        self._inputs[key] = (refs, product)

    def request_seen(self, body: Mapping[str, Any]) -> None:
        fresh = rr.record_from_body(body)
        current, new, changed = merge_seen(self.state.requests, fresh)
        self._index_inputs(current, current.key)
        if new:
            self._index(fresh.key, None)
            self._mark([fresh.key])
            return
        current.created = fresh.created
        if rr.status_differs(current.written, fresh.written):
            current.written = fresh.written  # believe the server; a stale echo costs one idempotent write
            changed = True
        if changed:
            self._mark([fresh.key])

    def request_gone(self, namespace: str, name: str) -> None:
        record = self.state.requests.pop((namespace, name), None)
        self.queue.forget((namespace, name))
        self._index_inputs(None, (namespace, name))
        if record is not None:
            self._by_engagement.get(record.engagement, set()).discard(record.key)

    def _index(self, key: rr.RequestKey, engagement: EngagementKey | None) -> None:
        record = self.state.requests.get(key)
        if record is None:
            return
        self._by_engagement.get(record.engagement, set()).discard(key)
        record.engagement = engagement
        self._by_engagement.setdefault(engagement, set()).add(key)

    # ---------------------------------------------------------------- loop

    async def run(self) -> None:
        """Triage dirty requests forever, one coalesced batch at a time (after the initial listing)."""
        await drain_forever(self.queue, self._triage, self.leadership, self.state.ready, order=sorted)

    def leadership_changed(self, leading: bool) -> None:
        """A new term: requests held while this replica could not write go out now (the engagement
        controller's mark_all re-triages the others through engagements_marked)."""
        if leading:
            self.queue.wake()

    def assess(self, record: rr.RequestRecord, diagnostics: Diagnostics | None) -> SupportRequestStatus:
        """The status ``record`` should have now, from the operator's state. Indexes its engagement."""
        if record.spec is None:
            self._index(record.key, None)
            return not_ready("InvalidSpec", f"spec is invalid: {record.spec_error}", record.generation)
        state = self.state
        inputs = gather(
            record.spec,
            record.namespace,
            InventorySource(state.inventory, self._candidates),
            platform=state.platform,
            opened_at=record.opened_at,
            today=state.today(),
            generation=record.generation,
        )
        view = inputs.engagement
        self._index(record.key, (view.namespace, view.name) if view else None)
        return triage(dataclasses.replace(inputs, diagnostics=diagnostics))

    def _candidates(self, namespace: str, ref: tuple[str, str] | None) -> list[EngagementView]:
        keys = [ref] if ref is not None else self.state.engagements_covering(namespace)
        return [v for v in (engagement_view(self.state, k) for k in keys) if v is not None]

    async def _diagnostics(self, record: rr.RequestRecord, status: SupportRequestStatus) -> Diagnostics | None:
        """Fresh diagnostics when the spec changed or the last ones are old; else the ones written."""
        fresh = record.diagnosed_generation == record.generation
        if fresh and time.monotonic() - record.diagnosed_at < self.diagnostics_seconds:
            previous = (record.written or {}).get("diagnostics")
            try:
                return Diagnostics.model_validate(previous) if previous else None
            except ValueError:
                pass
        spec = record.spec
        refs = list(spec.workloads) if spec else []

        async def one(ref_text: str) -> Any:
            namespace, kind, name = ref_text.split("/", 2)
            async with self._reads:
                try:
                    found = await asyncio.to_thread(self.kube.workload_status, namespace, kind, name)
                    events = await asyncio.to_thread(self.kube.events_about, namespace, kind, name)
                except Exception as exc:
                    self.metrics.errors.labels("diagnostics").inc()
                    log.warning("diagnostics of %s: %s", ref_text, describe_error(exc))
                    return workload_diagnostics(ref_text, None, None, []).model_copy(
                        update={"events": [f"could not be read: {describe_error(exc)}"[:200]]}
                    )
            if found is None:
                return workload_diagnostics(ref_text, None, None, events)
            return workload_diagnostics(ref_text, found[0], found[1], events)

        parts = await asyncio.gather(*(one(r) for r in refs))
        record.diagnosed_generation, record.diagnosed_at = record.generation, time.monotonic()
        products = [f"{p.product} {p.version} ({p.lifecycle})" for p in status.products]
        return summary(self.state.platform, products, parts)

    async def _triage(self, key: rr.RequestKey) -> Outcome:
        record = self.state.requests.get(key)
        if record is None:
            return Outcome.DONE
        status = self.assess(record, None)
        if record.spec is not None and status.engagement is not None:
            diagnostics = await self._diagnostics(record, status)
            status = status.model_copy(update={"diagnostics": diagnostics})
        if self.state.requests.get(key) is not record:  # deleted or replaced while diagnostics were read
            return Outcome.DONE
        outcome, changed = await self.writer.request(record, status)
        if changed:
            await self._announce(record, status)
        return outcome

    async def _announce(self, record: rr.RequestRecord, status: SupportRequestStatus) -> None:
        eligible = next((c for c in status.conditions if c.type == RequestConditionType.ELIGIBLE), None)
        ready = next((c for c in status.conditions if c.type == RequestConditionType.READY), None)
        due = status.first_response.due if status.first_response else None
        parts = [f"{status.scope} -> {status.route}"]
        if due:
            parts.append(f"first response due {due:%Y-%m-%d %H:%M} UTC")
        if eligible is not None and eligible.status == "False":
            parts.append(eligible.message)
        if ready is not None and ready.status != "True":
            parts = [ready.message]
        warning = (ready is not None and ready.status != "True") or (
            eligible is not None and eligible.reason == "UpgradeFirst"
        )
        reason = "Triaged" if ready is None or ready.status == "True" else "TriageFailed"
        await self.writer.event(record, KIND, reason, "; ".join(parts), warning)

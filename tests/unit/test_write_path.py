"""The write path under lapsing leadership, against the in-memory API: nothing refused for lack of
leadership is dropped, a renewal that returns after its deadline starts a new term, and SupportRequests
share the engagements' backoff and small-status fallback (tests/faults/test_faults.py does the same against
the real API server)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from eligibility_operator.runtime.controllers.requests import RequestTriager
from eligibility_operator.runtime.leadership import FencedKubeApi, LeaderElector, LeaseRecord
from eligibility_operator.runtime.metrics import OperatorMetrics
from eligibility_operator.runtime.parts import Parts
from eligibility_operator.runtime.state import OperatorState
from eligibility_operator.runtime.tasks import BackgroundTasks

from ..fake_kube import FakeKubeApi
from .test_hostile_runtime import Refused
from .test_leadership import TIMING, Clock, MemoryLease
from .test_reconciler import Harness, controllers, eligibility, run, seen_workload, settle, until
from .test_request_triager import harness as triage_harness
from .test_request_triager import until as slow_until

EOL, OK = "stakater/reloader:v1.1.0", "stakater/reloader:v1.4.21"


class SlowLease(MemoryLease):
    """A Lease whose next update takes ``delay`` seconds of the test's clock (a frozen API server)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.delay = 0.0

    def update(self, record: LeaseRecord) -> LeaseRecord:
        self.clock.now += self.delay
        self.delay = 0.0
        return super().update(record)


def test_a_renewal_that_returns_after_its_deadline_starts_a_new_term() -> None:
    clock = Clock()
    lease = SlowLease(clock)
    elector = LeaderElector(lease, "a", TIMING, clock=clock)
    seen: list[bool] = []
    elector.on_change(seen.append)
    assert elector.try_acquire_or_renew() and elector.term == 1
    clock.now += 6.5  # the renewal starts 0.5 s before the renew deadline (7 s) ...
    lease.delay = 1.0  # ... and its answer arrives 0.5 s after it
    assert elector.try_acquire_or_renew() and elector.may_write()
    assert seen == [True, True] and elector.term == 2, "the gap in which writes were refused went unannounced"
    clock.now += 2  # an ordinary renewal in time is no new term
    assert elector.try_acquire_or_renew()
    assert seen == [True, True] and elector.term == 2


class Gap:
    """A Leadership that can refuse writes for a while *without* announcing anything (as the elector did
    while a renewal was in flight past its deadline)."""

    identity = "test"

    def __init__(self) -> None:
        self.allowed = True
        self.term = 1
        self.callbacks: list[Callable[[bool], None]] = []
        self.refuse_after: int | None = None  # allow this many more fence checks, then refuse
        self.checks = 0

    def may_write(self) -> bool:
        self.checks += 1
        if self.refuse_after is not None:
            if self.refuse_after <= 0:
                return False
            self.refuse_after -= 1
        return self.allowed

    def on_change(self, callback: Callable[[bool], None]) -> None:
        self.callbacks.append(callback)


async def _replica(gap: Gap) -> tuple[Harness, BackgroundTasks]:
    kube = FakeKubeApi()
    state = OperatorState()
    metrics = OperatorMetrics()
    tasks = BackgroundTasks(lambda op: metrics.errors.labels(op).inc())
    routes = controllers(
        Parts(state, FencedKubeApi(kube, gap), metrics, tasks, gap), coalesce_seconds=0.01, retry_seconds=0.02
    )
    gap.on_change(routes.leadership_changed)
    state.ready.set()
    return Harness(kube, state, metrics, routes, tasks), tasks


def _status_of(h: Harness, name: str) -> dict[str, Any]:
    return next(w.status for w in reversed(h.kube.writes_to("supportengagements")) if w.name == name)


def test_a_batch_that_comes_up_while_writes_are_refused_is_held_not_dropped() -> None:
    async def scenario() -> None:
        gap = Gap()
        h, tasks = await _replica(gap)
        try:
            h.add_matrix()
            h.add_engagement("team-a", "first")
            h.add_engagement("team-b", "second")
            await until(lambda: len(h.engagement_writes()) >= 2, what="both first writes")
            await settle(h)
            gap.allowed = False  # writes refused, nothing announced
            h.add_workload("team-a", "old", EOL)
            await asyncio.sleep(0.1)  # the batch with 'first' comes up and finds it may not write
            gap.allowed = True
            h.add_workload("team-b", "w", OK)  # any later batch: 'first' must be in it again
            await until(lambda: eligibility(_status_of(h, "first")) == "Ineligible", what="the held write")
        finally:
            await tasks.close()

    run(scenario)


def test_a_write_fenced_in_the_middle_of_a_batch_is_held_not_treated_as_done() -> None:
    async def scenario() -> None:
        gap = Gap()
        h, tasks = await _replica(gap)
        try:
            h.add_matrix()
            h.add_engagement("team-a", "first")
            await until(lambda: bool(h.engagement_writes()), what="the first write")
            await settle(h)
            writes = len(h.engagement_writes())
            gap.refuse_after = 1  # the batch may start (one check), the write itself is fenced
            h.add_workload("team-a", "old", EOL)
            await until(lambda: gap.refuse_after == 0 and gap.checks >= 2, what="the fenced write")
            await asyncio.sleep(0.05)
            assert len(h.engagement_writes()) == writes
            assert h.routes.engagements.queue.held == {("team-a", "first")}
            gap.refuse_after = None
            gap.term += 1
            for callback in gap.callbacks:  # the elector announces the new term
                callback(True)
            await until(lambda: eligibility(_status_of(h, "first")) == "Ineligible", what="the write after the gap")
            assert h.error_count("status_patch") == 0  # not leading is no error
        finally:
            await tasks.close()

    run(scenario)


def test_a_refused_support_request_status_backs_off_and_writes_a_small_one() -> None:
    async def scenario() -> None:
        async with triage_harness() as h:
            attempts: list[int] = []
            original = h.kube.replace_status
            refusing = True

            def replace_status(plural: str, namespace: str | None, name: str, status: dict[str, Any]) -> bool:
                if plural == "supportrequests" and status.get("products"):
                    attempts.append(1)
                    if refusing:
                        raise Refused("request entity too large")
                return original(plural, namespace, name, status)

            h.kube.replace_status = replace_status  # type: ignore[method-assign]
            h.kube.add("deployments", "team-a", "reloader")
            seen_workload(h.routes, "Deployment", _workload("team-a", "reloader", EOL))
            h.add_request("team-a", "big", workloads=["team-a/Deployment/reloader"])
            await slow_until(lambda: bool(h.writes("big")), what="the small status")
            ready = next(c for c in h.writes("big")[-1]["conditions"] if c["type"] == "Ready")
            assert (ready["status"], ready["reason"]) == ("False", "StatusWriteFailed")
            assert "request entity too large" in ready["message"] and not h.writes("big")[-1].get("products")
            await asyncio.sleep(0.6)
            # 0.02, 0.04, 0.08, 0.16, 0.32 s: about 6 attempts in 0.6 s, where a fixed delay gives 30
            assert 2 <= len(attempts) <= 8, len(attempts)
            refusing = False
            await slow_until(lambda: bool(h.writes("big")[-1].get("products")), what="the full status")

    run(scenario)


def _workload(namespace: str, name: str, image: str) -> dict[str, Any]:
    from ..builders import workload

    return workload(namespace, name, image)


def test_support_requests_held_while_not_leading_go_out_on_the_next_term() -> None:
    async def scenario() -> None:
        kube = FakeKubeApi()
        state = OperatorState()
        metrics = OperatorMetrics()
        tasks = BackgroundTasks(lambda op: metrics.errors.labels(op).inc())
        gap = Gap()
        fenced = FencedKubeApi(kube, gap)
        triager = RequestTriager(Parts(state, fenced, metrics, tasks, gap), coalesce_seconds=0.01)
        gap.on_change(triager.leadership_changed)
        state.ready.set()
        tasks.start(triager.run(), name="triager", forever=True)
        try:
            gap.allowed = False
            kube.add("supportrequests", "team-a", "r")
            triager.request_seen(
                {
                    "metadata": {"name": "r", "namespace": "team-a", "uid": "u", "generation": 1},
                    "spec": {"category": "Question", "title": "t"},
                }
            )
            await asyncio.sleep(0.1)
            assert kube.writes_to("supportrequests") == []
            gap.allowed = True
            for callback in gap.callbacks:
                callback(True)
            await until(lambda: bool(kube.writes_to("supportrequests")), what="the held request's status")
        finally:
            await tasks.close()

    run(scenario)

"""Writes gated on leadership, against the in-memory API: a follower writes nothing, a new leader writes
only what differs from the server, and a leader whose deadline passed refuses even a write it already
decided on (tests/faults/test_ha.py does the same with two processes and the real API server)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from eligibility_operator.runtime.leadership import FencedKubeApi, NotLeading
from eligibility_operator.runtime.metrics import OperatorMetrics
from eligibility_operator.runtime.parts import Parts
from eligibility_operator.runtime.state import OperatorState
from eligibility_operator.runtime.tasks import BackgroundTasks

from ..fake_kube import FakeKubeApi
from .test_reconciler import Harness, controllers, eligibility, run, settle, until


class Switch:
    """A Leadership whose answer the test sets."""

    identity = "test"

    def __init__(self, leading: bool) -> None:
        self.leading = leading
        self.term = int(leading)
        self.callbacks: list[Callable[[bool], None]] = []

    def may_write(self) -> bool:
        return self.leading

    def on_change(self, callback: Callable[[bool], None]) -> None:
        self.callbacks.append(callback)

    def set(self, leading: bool) -> None:
        self.leading = leading
        self.term += int(leading)
        for callback in self.callbacks:
            callback(leading)


@asynccontextmanager
async def replica(leadership: Switch, kube: FakeKubeApi | None = None) -> AsyncIterator[Harness]:
    kube = kube or FakeKubeApi()
    state = OperatorState()
    metrics = OperatorMetrics()
    tasks = BackgroundTasks(lambda op: metrics.errors.labels(op).inc())
    fenced = FencedKubeApi(kube, leadership)
    routes = controllers(Parts(state, fenced, metrics, tasks, leadership), coalesce_seconds=0.01, retry_seconds=0.02)
    leadership.on_change(routes.leadership_changed)
    state.ready.set()
    try:
        yield Harness(kube, state, metrics, routes, tasks)
    finally:
        await tasks.close()


def test_a_follower_writes_nothing_and_counts_no_error() -> None:
    async def scenario() -> None:
        async with replica(Switch(False)) as h:
            h.add_matrix()
            h.add_engagement("team-a")
            h.add_workload("team-a", "old", "stakater/reloader:v1.1.0")
            await settle(h)
            assert h.kube.status_writes == [] and h.kube.events == []
            assert h.error_count("status_patch") == 0 and h.error_count("event") == 0

    run(scenario)


def test_taking_over_writes_what_the_old_leader_left_undone() -> None:
    async def scenario() -> None:
        switch = Switch(False)
        async with replica(switch) as h:
            h.add_matrix()
            h.add_engagement("team-a")
            h.add_workload("team-a", "old", "stakater/reloader:v1.1.0")
            await settle(h)
            switch.set(True)
            await until(lambda: bool(h.engagement_writes()), what="the new leader's write")
            await settle(h)
            assert len(h.engagement_writes()) == 1 and eligibility(h.engagement_writes()[0]) == "Ineligible"
            assert len(h.kube.writes_to("compatibilitymatrices")) == 1
            assert [e.reason for e in h.kube.events] == ["EligibilityIneligible"]

    run(scenario)


def test_a_new_leader_repeats_neither_status_nor_event() -> None:
    async def scenario() -> None:
        kube = FakeKubeApi()
        old, new = Switch(True), Switch(False)
        async with replica(old, kube) as leader, replica(new, kube) as follower:
            for h in (leader, follower):  # both watch the same objects
                h.add_engagement("team-a")
                h.add_workload("team-a", "old", "stakater/reloader:v1.1.0")
            leader.add_matrix()
            matrix_body = follower.add_matrix()
            await until(lambda: bool(kube.events), what="the leader's Event")
            await settle(leader)
            # The follower's watches deliver what the leader wrote.
            record = follower.state.engagements[("team-a", "contract")]
            follower.routes.engagement_seen(_echo(record, kube.writes_to("supportengagements")[-1].status))
            matrix_body["status"] = copy.deepcopy(kube.writes_to("compatibilitymatrices")[-1].status)
            follower.routes.matrix_seen(matrix_body)
            writes, events = len(kube.status_writes), len(kube.events)
            old.set(False)  # the old leader dies or freezes
            new.set(True)
            await settle(follower)
            assert len(kube.status_writes) == writes, "the new leader rewrote an unchanged status"
            assert len(kube.events) == events, "the new leader repeated the Event"
            # A real change afterwards is written and announced once, by the new leader.
            follower.routes.workload_gone("team-a", "Deployment", "old")
            await until(lambda: len(kube.events) == events + 1, what="the new leader's Event")
            assert "changed from Ineligible to" in kube.events[-1].message
            await settle(follower)
            await settle(leader)
            assert len(kube.events) == events + 1

    run(scenario)


def _echo(record: Any, status: dict[str, Any]) -> dict[str, Any]:
    """The engagement as the watch delivers it after another replica wrote ``status``."""
    return {
        "apiVersion": "support.stakater.com/v1alpha1",
        "kind": "SupportEngagement",
        "metadata": {
            "name": record.name,
            "namespace": record.namespace,
            "uid": record.uid,
            "generation": record.generation,
        },
        "spec": record.spec.model_dump(by_alias=True, exclude_none=True) if record.spec else {},
        "status": status,
    }


def test_the_fence_refuses_a_write_decided_before_the_deadline_passed() -> None:
    kube = FakeKubeApi()
    kube.add("supportengagements", "team-a", "contract")
    switch = Switch(True)
    fenced = FencedKubeApi(kube, switch)
    assert fenced.replace_status("supportengagements", "team-a", "contract", {"eligibility": "Eligible"})
    switch.leading = False  # e.g. frozen past the renew deadline between deciding and sending
    with pytest.raises(NotLeading):
        fenced.replace_status("supportengagements", "team-a", "contract", {"eligibility": "Ineligible"})
    with pytest.raises(NotLeading):
        fenced.emit_event(
            namespace="team-a",
            name="contract",
            uid="u",
            kind="SupportEngagement",
            reason="r",
            message="m",
            warning=True,
        )
    assert len(kube.status_writes) == 1 and kube.events == []
    assert fenced.count("apps", "v1", "deployments") is not None  # reads pass


def test_fenced_calls_from_threads_see_the_current_answer() -> None:
    async def scenario() -> None:
        kube = FakeKubeApi()
        kube.add("supportengagements", "team-a", "contract")
        switch = Switch(False)
        fenced = FencedKubeApi(kube, switch)
        with pytest.raises(NotLeading):
            await asyncio.to_thread(fenced.replace_status, "supportengagements", "team-a", "contract", {})
        assert kube.calls == []

    run(scenario)

"""The SupportRequest triager against an in-memory API: triage, re-triage on upgrade, Events, diagnostics,
no-op writes and metrics. The same behaviour end to end: tests/cluster/test_support_requests.py."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from prometheus_client import generate_latest

from eligibility_operator.runtime.controllers.requests import RequestTriager
from eligibility_operator.runtime.controllers.routes import Routes
from eligibility_operator.runtime.metrics import OperatorMetrics, build_registry
from eligibility_operator.runtime.parts import Parts
from eligibility_operator.runtime.state import OperatorState
from eligibility_operator.runtime.tasks import BackgroundTasks

from ..builders import API, engagement, matrix, workload
from ..fake_kube import FakeKubeApi
from .test_reconciler import controllers, run, seen_workload
from .test_reconciler import until as _until

SR = "supportrequests"


async def until(predicate: Any, what: str = "condition") -> None:
    """As the reconciler tests wait, with room for a loaded machine (two cores shared by many runs)."""
    await _until(predicate, timeout=15.0, what=what)


EOL = "stakater/reloader:v1.1.0"
OK = "stakater/reloader:v1.4.21"


def meta(body: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    body["metadata"].setdefault("uid", str(uuid.uuid4()))
    body["metadata"]["generation"] = generation
    body["metadata"].setdefault("creationTimestamp", "2026-06-02T10:00:00Z")
    return body


def request(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "SupportRequest",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"category": "Incident", "title": "t", **spec},
    }


@dataclass
class H:
    kube: FakeKubeApi
    state: OperatorState
    metrics: OperatorMetrics
    routes: Routes
    triager: RequestTriager

    def writes(self, name: str) -> list[dict[str, Any]]:
        return [w.status for w in self.kube.writes_to(SR) if w.name == name]

    def add_request(self, namespace: str, name: str, generation: int = 1, **spec: Any) -> None:
        self.kube.add(SR, namespace, name)
        self.routes.request_seen(meta(request(namespace, name, **spec), generation))


@asynccontextmanager
async def harness() -> AsyncIterator[H]:
    kube = FakeKubeApi()
    state = OperatorState()
    metrics = OperatorMetrics()
    tasks = BackgroundTasks(lambda op: metrics.errors.labels(op).inc())
    parts = Parts(state, kube, metrics, tasks)
    routes = controllers(parts, coalesce_seconds=0.01, retry_seconds=0.02)
    state.ready.set()
    try:
        h = H(kube, state, metrics, routes, routes.requests)
        kube.add("compatibilitymatrices", "", "default")
        routes.matrix_seen(meta(matrix("default")))
        kube.add("supportengagements", "team-a", "contract")
        routes.engagement_seen(meta(engagement("team-a")))
        yield h
    finally:
        assert tasks.stopped() == []
        await tasks.close()


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == type_)


def test_upgrade_retriages_the_request_and_events_follow_changes() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.kube.add("deployments", "team-a", "reloader")
            seen_workload(h.routes, "Deployment", workload("team-a", "reloader", EOL))
            h.kube.workload_statuses[("team-a", "Deployment", "reloader")] = ({"readyReplicas": 0}, 1)
            h.kube.object_events[("team-a", "Deployment", "reloader")].append(
                {"type": "Warning", "reason": "BackOff", "message": "crash", "lastTimestamp": "2026-06-02T09:00:00Z"}
            )
            h.add_request("team-a", "p1", workloads=["team-a/Deployment/reloader"], severity="P1")
            await until(lambda: bool(h.writes("p1")), what="a triage")
            first = h.writes("p1")[-1]
            assert condition(first, "Eligible")["reason"] == "UpgradeFirst"
            assert first["diagnostics"]["workloads"][0]["replicas"] == "0/1 ready"
            assert first["diagnostics"]["workloads"][0]["events"][0].endswith("Warning BackOff: crash")
            scrape = generate_latest(build_registry(h.metrics, h.state)).decode()
            assert (
                'stakater_support_request_ineligible_products{namespace="team-a",owner="Customer",request="p1",'
                'request_severity="P1"} 1.0' in scrape
            )
            labels = 'engagement="contract",namespace="team-a",request_severity="P1",route="Support",scope="InScope"'
            assert f"stakater_support_requests{{{labels}}} 1.0" in scrape
            assert (
                'stakater_support_request_first_response_due_seconds{engagement="contract",namespace="team-a",'
                'request="p1",request_severity="P1"}' in scrape
            )

            seen_workload(h.routes, "Deployment", workload("team-a", "reloader", OK))
            await until(lambda: condition(h.writes("p1")[-1], "Eligible")["status"] == "True", what="re-triage")
            # the Event follows the status write
            await until(lambda: sum(e.kind == "SupportRequest" for e in h.kube.events) >= 2, what="two Events")
            assert [(e.kind, e.reason, e.warning) for e in h.kube.events if e.kind == "SupportRequest"] == [
                ("SupportRequest", "Triaged", True),
                ("SupportRequest", "Triaged", False),
            ]
            # a change elsewhere that does not change the triage writes nothing
            writes = len(h.writes("p1"))
            seen_workload(h.routes, "Deployment", workload("team-a", "other", "nginx:1"))
            h.routes.resync()
            await asyncio.sleep(0.1)
            assert len(h.writes("p1")) == writes

    run(scenario)


def test_request_without_engagement_is_triaged_when_one_appears() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.add_request("team-b", "q", category="Question", product="reloader")
            await until(lambda: bool(h.writes("q")), what="a triage")
            assert h.writes("q")[-1]["scope"] == "NotCovered"
            h.kube.add("supportengagements", "team-b", "b")
            h.routes.engagement_seen(meta(engagement("team-b", "b")))
            await until(lambda: h.writes("q")[-1]["scope"] == "InScope", what="re-triage under the new engagement")
            assert h.writes("q")[-1]["engagement"] == "team-b/b"

    run(scenario)


def test_spec_change_retriages_and_deleted_request_is_forgotten() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.add_request("team-a", "r", category="SecurityAssessment")
            await until(lambda: bool(h.writes("r")), what="a triage")
            assert h.writes("r")[-1]["route"] == "ProfessionalServices"
            h.add_request("team-a", "r", generation=2, category="ChangeRequest")
            await until(lambda: h.writes("r")[-1]["scope"] == "ChangeRequest", what="re-triage of the new spec")
            h.routes.request_gone("team-a", "r")
            assert ("team-a", "r") not in h.state.requests
            assert 'request="r"' not in generate_latest(build_registry(h.metrics, h.state)).decode()

    run(scenario)


def test_failed_status_write_is_retried() -> None:
    async def scenario() -> None:
        async with harness() as h:
            await until(lambda: bool(h.kube.writes_to("supportengagements")), what="the engagement's status")
            await asyncio.sleep(0.05)
            h.kube.fail("replace_status", times=1)
            h.add_request("team-a", "r", category="Question", product="reloader")
            await until(lambda: bool(h.writes("r")), what="a triage after a failed write")
            assert h.metrics.errors.labels("status_patch")._value.get() == 1

    run(scenario)


def test_request_deleted_while_the_watch_was_down_is_swept() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.add_request("team-a", "gone", category="Question", product="reloader")
            h.add_request("team-a", "kept", category="Question", product="reloader")
            await until(lambda: bool(h.writes("gone")) and bool(h.writes("kept")), what="both triaged")
            h.kube.delete(SR, "team-a", "gone")  # no DELETED event: the watch was interrupted
            await asyncio.sleep(0.01)
            await h.routes.upkeep.sweep()
            assert set(h.state.requests) == {("team-a", "kept")}
            assert 'request="gone"' not in generate_latest(build_registry(h.metrics, h.state)).decode()

    run(scenario)


# ------------------------------------------------------------------ churn (issue 37)


def _count_triages(h: H) -> list[tuple[str, str]]:
    triaged: list[tuple[str, str]] = []
    assess = h.triager.assess

    def counting(record: Any, diagnostics: Any) -> Any:
        triaged.append(record.key)
        return assess(record, diagnostics)

    h.triager.assess = counting  # type: ignore[method-assign]
    return triaged


def test_a_workload_change_retriages_only_the_requests_it_is_an_input_of() -> None:
    """Issue 37: one workload change re-triaged every request under the engagement (2,000 held the loop
    for 6.3 s). Now only the requests naming the workload, or a product it runs, are triaged again."""

    async def scenario() -> None:
        async with harness() as h:
            h.kube.add("deployments", "team-a", "reloader")
            seen_workload(h.routes, "Deployment", workload("team-a", "reloader", EOL))
            for i in range(200):
                h.add_request("team-a", f"other-{i}", workloads=[f"team-a/Deployment/app-{i}"])
            h.add_request("team-a", "named", workloads=["team-a/Deployment/reloader"])
            h.add_request("team-a", "product", product="reloader")
            await until(lambda: len(list(h.kube.writes_to(SR))) >= 202, what="the first triage")
            await until(lambda: h.triager.queue.idle)
            triaged = _count_triages(h)
            seen_workload(h.routes, "Deployment", workload("team-a", "reloader", OK))
            await until(lambda: len(triaged) >= 2, what="the re-triage")
            await asyncio.sleep(0.3)
            assert sorted(triaged) == [("team-a", "named"), ("team-a", "product")], triaged[:5]
            assert condition(h.writes("named")[-1], "Eligible")["status"] == "True"

    run(scenario)


def test_triaging_thousands_of_requests_never_holds_the_loop() -> None:
    """2,000 requests re-triaged (an engagement change): the loop runs between requests."""
    from .test_webhook_hostile import LoopLag

    async def scenario() -> None:
        async with harness() as h:
            for i in range(2000):
                refs = [f"team-a/Deployment/app-{i}-{j}" for j in range(10)]
                h.add_request("team-a", f"r-{i}", workloads=refs, product="reloader")
            # (a cheap predicate: it is polled every 5 ms while 2,000 triages run)
            await _until(lambda: len(h.kube.status_writes) > 2000, timeout=90, what="the first triage")
            await _until(lambda: h.triager.queue.idle, timeout=30)
            triaged = _count_triages(h)
            gc.collect()
            gc.freeze()  # the rest of the test run's heap is not this code's stall (a full collection of it)
            with LoopLag() as lag:
                h.routes.engagement_seen(meta(engagement("team-a", plan="Premium"), generation=2))
                await _until(lambda: len(triaged) >= 2000 and h.triager.queue.idle, timeout=90, what="the re-triage")
            print(
                f"\n2,000 requests re-triaged: longest event-loop stall {lag.worst_cpu * 1000:.0f} ms CPU "
                f"({lag.worst * 1000:.0f} ms wall)"
            )
            gc.unfreeze()
            assert lag.worst_cpu < 0.1, lag.worst_cpu  # the old code: 0.3 s here, seconds with real workloads

    run(scenario)

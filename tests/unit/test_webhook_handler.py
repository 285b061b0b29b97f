"""The admission handler against the operator's state and an in-memory API: responses, metrics, audit Events.

Plain HTTP on loopback (the TLS side is tested against the real API server in tests/cluster/test_admission.py).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from eligibility_operator.core.compat.matrix import load_matrix
from eligibility_operator.core.verdict.engagements import record_from_body
from eligibility_operator.runtime.metrics import OperatorMetrics
from eligibility_operator.runtime.parts import Parts
from eligibility_operator.runtime.serving.webhook import PATH, AdmissionHandler
from eligibility_operator.runtime.state import OperatorState
from eligibility_operator.runtime.tasks import BackgroundTasks

from ..builders import engagement, matrix, workload
from ..fake_kube import FakeKubeApi

EOL = "stakater/reloader:v1.1.0"


def operator_state(mode: str) -> OperatorState:
    state = OperatorState()
    state.inventory.set_matrix(load_matrix("default", 1, matrix("default", state.today())["spec"]))
    body = engagement("platform", "contract", covers=["shop"], enforcement={"mode": mode})
    body["metadata"]["uid"] = "uid-contract"
    record = record_from_body(body)
    state.engagements[record.key] = record
    state.inventory.set_namespace("shop", {})
    return state


def review(image: str, **extra: Any) -> dict[str, Any]:
    request = {
        "uid": str(uuid.uuid4()),
        "operation": "CREATE",
        "namespace": "shop",
        "object": workload("shop", "x", image),
        **extra,
    }
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


async def post(mode: str, *bodies: Any) -> tuple[list[tuple[int, Any]], FakeKubeApi, OperatorMetrics]:
    kube, metrics = FakeKubeApi(), OperatorMetrics()
    tasks = BackgroundTasks()
    handler = AdmissionHandler(Parts(operator_state(mode), kube, metrics, tasks), frozenset({"kube-system"}))
    await handler.start()  # as the operator does: a parser spawned by the first review may miss its deadline
    app = web.Application()
    app.add_routes([web.post(PATH, handler.handle)])
    answers = []
    async with TestClient(TestServer(app)) as client:
        for body in bodies:
            if isinstance(body, bytes):
                resp = await client.post(PATH, data=body)
            else:
                resp = await client.post(PATH, json=body)
            answers.append((resp.status, await resp.json() if resp.status == 200 else await resp.text()))
    for _ in range(100):  # audit Events are posted in the background
        if not len(tasks):
            break
        await asyncio.sleep(0.01)
    await tasks.close()
    return answers, kube, metrics


def reviews(metrics: OperatorMetrics, mode: str, outcome: str) -> float:
    return float(metrics.admission_reviews.labels(mode, outcome)._value.get())


def test_enforce_refuses_and_counts() -> None:
    answers, kube, metrics = asyncio.run(post("Enforce", review(EOL)))
    status, body = answers[0]
    assert status == 200 and body["response"]["allowed"] is False
    assert body["response"]["status"]["code"] == 403
    assert reviews(metrics, "Enforce", "denied") == 1
    assert kube.events == []


def test_audit_allows_and_posts_one_event_per_finding_but_none_for_dry_runs() -> None:
    answers, kube, metrics = asyncio.run(post("Audit", review(EOL), review(EOL, dryRun=True)))
    assert all(status == 200 and body["response"]["allowed"] for status, body in answers)
    assert [(e.reason, e.namespace, e.name, e.uid) for e in kube.events] == [
        ("AdmissionAudit", "platform", "contract", "uid-contract")
    ]
    assert reviews(metrics, "Audit", "allowed") == 2
    assert float(metrics.events_posted._value.get()) == 1


def test_an_audit_event_that_fails_is_counted() -> None:
    async def scenario() -> tuple[FakeKubeApi, OperatorMetrics]:
        kube, metrics = FakeKubeApi(), OperatorMetrics()
        kube.fail("emit_event")
        tasks = BackgroundTasks()
        handler = AdmissionHandler(Parts(operator_state("Audit"), kube, metrics, tasks), frozenset())
        await handler.start()
        app = web.Application()
        app.add_routes([web.post(PATH, handler.handle)])
        async with TestClient(TestServer(app)) as client:
            await client.post(PATH, json=review(EOL))
        for _ in range(100):
            if not len(tasks):
                break
            await asyncio.sleep(0.01)
        await tasks.close()
        return kube, metrics

    kube, metrics = asyncio.run(scenario())
    assert kube.events == []
    assert float(metrics.errors.labels("event")._value.get()) == 1


def test_not_a_review_is_a_400_and_a_supported_version_passes() -> None:
    answers, _, metrics = asyncio.run(
        post("Enforce", b"{not json", {"kind": "AdmissionReview"}, review("stakater/reloader:v1.4.21"))
    )
    assert [status for status, _ in answers] == [400, 400, 200]
    assert answers[2][1]["response"]["allowed"] is True
    assert reviews(metrics, "Enforce", "allowed") == 1


def test_a_replica_that_is_not_ready_closes_the_connection_after_each_answer() -> None:
    """Draining after SIGTERM: the API server must open a new connection (to a ready replica) for its next
    review, instead of keeping one to this pod until it stops (a review sent then fails with EOF)."""

    async def connection_headers(ready: bool) -> tuple[int, str]:
        state = operator_state("Enforce")
        if ready:
            state.ready.set()
        handler = AdmissionHandler(Parts(state, FakeKubeApi(), OperatorMetrics(), BackgroundTasks()), frozenset())
        await handler.start()
        app = web.Application()
        app.add_routes([web.post(PATH, handler.handle)])
        try:
            async with TestClient(TestServer(app)) as client:
                resp = await client.post(PATH, json=review(EOL))
                return resp.status, resp.headers.get("Connection", "")
        finally:
            handler.close()

    assert asyncio.run(connection_headers(ready=False)) == (200, "close")
    status, connection = asyncio.run(connection_headers(ready=True))
    assert status == 200 and connection.lower() != "close"

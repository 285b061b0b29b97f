"""The routing table (runtime/controllers/routes.py): every event reaches the controllers that react to it,
and no other, with the real controllers over the in-memory API.

Which controller an event reached is read from what it now has to do: its queue's pending keys, or the
records it keeps (a deletion forgets one). The loops are not started and the state is not ready, so
nothing is drained behind the test's back. An event method added to ``Routes`` without a row here fails
``test_every_event_has_a_row``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from eligibility_operator.core.products.objects import facts_of
from eligibility_operator.core.verdict.evaluation import Platform
from eligibility_operator.runtime.controllers.routes import Routes
from eligibility_operator.runtime.metrics import OperatorMetrics
from eligibility_operator.runtime.parts import Parts
from eligibility_operator.runtime.state import OperatorState
from eligibility_operator.runtime.tasks import BackgroundTasks

from ..builders import engagement, matrix, workload
from ..fake_kube import FakeKubeApi
from .test_reconciler import with_meta
from .test_request_triager import meta, request

SE, SR, CM = "SupportEngagement", "SupportRequest", "CompatibilityMatrix"
EOL, OK = "stakater/reloader:v1.1.0", "stakater/reloader:v1.4.21"
APP = ("team-a", "Deployment", "app")


def _workload(image: str) -> tuple[str, str, str, Any]:
    return (*APP, facts_of(workload("team-a", "app", image)))


def _sourced_matrix() -> dict[str, Any]:
    source = {"url": "https://127.0.0.1:9/m.yaml", "digest": "sha256:" + "0" * 64}
    return with_meta({"metadata": {"name": "sourced"}, "spec": {"source": source}})


# event (the Routes method, and what about it) -> what it does, and the controllers it must reach
ROWS: dict[str, tuple[Callable[[Routes], None], set[str]]] = {
    "workload_seen: detections changed": (lambda r: r.workload_seen(*_workload(OK)), {SE, SR}),
    "workload_seen: nothing changed": (lambda r: r.workload_seen(*_workload(EOL)), set()),
    "workload_gone": (lambda r: r.workload_gone(*APP), {SE, SR}),
    "namespace_seen: labels changed": (lambda r: r.namespace_seen("team-a", {"team": "b"}), {SE, SR}),
    "namespace_seen: nothing changed": (lambda r: r.namespace_seen("team-a", {"team": "a"}), set()),
    "namespace_gone": (lambda r: r.namespace_gone("team-a"), set()),
    "engagement_seen: spec changed": (
        lambda r: r.engagement_seen(meta(engagement("team-a", plan="Premium"), generation=2)),
        {SE, SR},
    ),
    "engagement_gone": (lambda r: r.engagement_gone("team-a", "contract"), {SE, SR}),
    "matrix_seen: new generation": (lambda r: r.matrix_seen(_matrix(generation=2)), {CM, SE, SR}),
    "matrix_seen: same generation": (lambda r: r.matrix_seen(_matrix(generation=1)), set()),
    "matrix_seen: spec.source": (lambda r: r.matrix_seen(_sourced_matrix()), {CM}),
    "matrix_changed: content": (lambda r: r.matrix_changed("default", True), {CM, SE, SR}),
    "matrix_changed: status only": (lambda r: r.matrix_changed("default", False), {CM}),
    "matrix_gone": (lambda r: r.matrix_gone("default"), {CM, SE, SR}),
    "request_seen": (lambda r: r.request_seen(meta(request("team-a", "new"))), {SR}),
    "request_gone": (lambda r: r.request_gone("team-a", "r"), {SR}),
    "platform_seen: changed": (lambda r: r.platform_seen(Platform(kubernetes="1.31.0")), {SE, SR}),
    "resync": (lambda r: r.resync(), {SE, SR}),
    "leadership_changed: leading": (lambda r: r.leadership_changed(True), {CM, SE, SR}),
    "leadership_changed: not leading": (lambda r: r.leadership_changed(False), set()),
    "relisted": (lambda r: r.relisted(), set()),  # a sweep later (not before the state is ready)
    "gone: workload": (lambda r: r.gone(("w", *APP)), {SE, SR}),
    "gone: engagement": (lambda r: r.gone(("e", "team-a", "contract")), {SE, SR}),
    "gone: request": (lambda r: r.gone(("r", "team-a", "r")), {SR}),
    "gone: matrix": (lambda r: r.gone(("m", "default")), {CM, SE, SR}),
    "gone: namespace": (lambda r: r.gone(("n", "team-a")), set()),
}


def _matrix(generation: int) -> dict[str, Any]:
    body = matrix("default")
    body["metadata"]["uid"] = "matrix-uid"
    body["metadata"]["generation"] = generation
    return body


async def _routes() -> Routes:
    """A matrix, an engagement covering team-a and one selecting namespaces by label, a workload running
    an end-of-life Reloader there and a request naming it; then every queue drained."""
    state, metrics = OperatorState(), OperatorMetrics()
    tasks = BackgroundTasks(lambda op: metrics.errors.labels(op).inc())
    routes = Routes(Parts(state, FakeKubeApi(), metrics, tasks), coalesce_seconds=0.001)
    routes.namespace_seen("team-a", {"team": "a"})
    routes.matrix_seen(_matrix(generation=1))
    routes.engagement_seen(meta(engagement("team-a")))
    selecting = engagement("platform", "selecting", coverage={"namespaceSelector": {"matchLabels": {"team": "a"}}})
    routes.engagement_seen(meta(selecting))
    routes.workload_seen(*_workload(EOL))
    routes.request_seen(meta(request("team-a", "r", workloads=["team-a/Deployment/app"], product="reloader")))
    for queue in (routes.engagements.queue, routes.requests.queue, routes.matrices.queue):
        if queue.pending:
            await queue.next_batch()
        assert not queue.pending
    return routes


def _work(routes: Routes) -> dict[str, Any]:
    """What each controller has to do, or keeps."""
    state = routes.state
    return {
        SE: (routes.engagements.queue.pending, set(state.engagements)),
        SR: (routes.requests.queue.pending, set(state.requests)),
        CM: (routes.matrices.queue.pending, set(state.inventory.matrices), set(routes.matrices.refresher.sources)),
    }


@pytest.mark.parametrize("row", list(ROWS))
def test_an_event_reaches_exactly_its_controllers(row: str) -> None:
    event, expected = ROWS[row]

    async def scenario() -> None:
        routes = await _routes()
        before = _work(routes)
        event(routes)
        after = _work(routes)
        reached = {kind for kind in before if after[kind] != before[kind]}
        assert reached == expected, f"{row}: reached {sorted(reached)}, the table says {sorted(expected)}"

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_every_event_has_a_row() -> None:
    """Each public method of Routes is an event (start and idle aside) and has at least one row here."""
    events = {
        name
        for name, member in inspect.getmembers(Routes)
        if not name.startswith("_") and inspect.isfunction(member) and name != "start"
    }
    assert events == {row.split(":")[0] for row in ROWS}

"""The controllers, fed through their routes, against an in-memory API: coalescing, priming, sweeps,
retries, Events, no-op writes.

These run in well under a second each; the same behaviour is tested end to end against the real
API server in tests/cluster/test_operator.py and tests/faults/test_faults.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from eligibility_operator.api.models import GROUP, VERSION
from eligibility_operator.core.products.objects import facts_of
from eligibility_operator.core.verdict.evaluation import Platform
from eligibility_operator.runtime.controllers.routes import Routes
from eligibility_operator.runtime.metrics import OperatorMetrics
from eligibility_operator.runtime.parts import Parts
from eligibility_operator.runtime.state import OperatorState
from eligibility_operator.runtime.tasks import BackgroundTasks

from ..builders import engagement, matrix, workload
from ..fake_kube import FakeKubeApi

SE = "supportengagements"
CM = "compatibilitymatrices"


def with_meta(body: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    body["metadata"].setdefault("uid", str(uuid.uuid4()))
    body["metadata"].setdefault("generation", generation)
    return body


@dataclass
class Harness:
    kube: FakeKubeApi
    state: OperatorState
    metrics: OperatorMetrics
    routes: Routes
    tasks: BackgroundTasks

    def error_count(self, operation: str) -> float:
        return float(self.metrics.errors.labels(operation)._value.get())

    def add_matrix(self, name: str = "default") -> dict[str, Any]:
        body = with_meta(matrix(name))
        self.kube.add(CM, "", name)
        self.routes.matrix_seen(body)
        return body

    def add_engagement(self, namespace: str, name: str = "contract", **spec: Any) -> dict[str, Any]:
        body = with_meta(engagement(namespace, name, **spec))
        self.kube.add(SE, namespace, name)
        self.routes.engagement_seen(body)
        return body

    def add_workload(self, namespace: str, name: str, *images: str) -> dict[str, Any]:
        body = workload(namespace, name, *images)
        self.kube.add("deployments", namespace, name)
        seen_workload(self.routes, "Deployment", body)
        return body

    def engagement_writes(self) -> list[dict[str, Any]]:
        return [w.status for w in self.kube.writes_to(SE)]


async def until(predicate: Callable[[], bool], timeout: float = 3.0, what: str = "condition") -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def settle(h: Harness) -> None:
    """Let the reconciler finish the batch it has (several coalescing periods without work)."""
    await asyncio.sleep(h.routes.coalesce_seconds * 4)
    await until(lambda: h.routes.idle, what="idle controllers")
    await asyncio.sleep(h.routes.coalesce_seconds * 2)


async def first_write(h: Harness) -> None:
    """Wait for the first engagement status write, then for the reconciler to finish its batch."""
    await until(lambda: bool(h.engagement_writes()), what="the first write")
    await settle(h)


def controllers(parts: Parts, **options: Any) -> Routes:
    """The three controllers and their routes, with their loops running (upkeep's only where a test starts
    them)."""
    routes = Routes(parts, **options)
    parts.tasks.start(routes.engagements.run(), name="reconciler", forever=True)
    parts.tasks.start(routes.matrices.run(), name="matrix-status", forever=True)
    parts.tasks.start(routes.requests.run(), name="request-triager", forever=True)
    return routes


def seen_workload(routes: Routes, kind: str, body: dict[str, Any]) -> None:
    """A workload object as the watches would decode it."""
    meta = body["metadata"]
    routes.workload_seen(meta.get("namespace", ""), kind, meta["name"], facts_of(body))


@asynccontextmanager
async def harness(
    *, ready: bool = True, namespaces: frozenset[str] = frozenset(), **options: Any
) -> AsyncIterator[Harness]:
    kube = FakeKubeApi()
    state = OperatorState(namespaces=namespaces)
    metrics = OperatorMetrics()
    tasks = BackgroundTasks(lambda op: metrics.errors.labels(op).inc())
    options = {"coalesce_seconds": 0.01, "retry_seconds": 0.02, **options}
    routes = controllers(Parts(state, kube, metrics, tasks), **options)
    if ready:
        state.ready.set()
    try:
        yield Harness(kube, state, metrics, routes, tasks)
    finally:
        assert tasks.stopped() == [], "a background task stopped"
        await tasks.close()


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 20))


def eligibility(status: dict[str, Any]) -> str:
    return str(status.get("eligibility"))


# ---------------------------------------------------------------- writes


def test_first_evaluation_writes_status_and_posts_one_event() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.add_matrix()
            h.add_engagement("team-a")
            h.add_workload("team-a", "reloader", "stakater/reloader:v1.4.21")
            await until(lambda: bool(h.engagement_writes()), what="a status write")
            await settle(h)
            writes = h.engagement_writes()
            assert len(writes) == 1
            assert eligibility(writes[0]) == "Eligible"
            assert [e.reason for e in h.kube.events] == ["EligibilityEligible"]
            assert not h.kube.events[0].warning
            # The matrix's own status is written once too.
            assert len(h.kube.writes_to(CM)) == 1

    run(scenario)


def test_a_burst_of_changes_is_one_evaluation_and_one_write() -> None:
    async def scenario() -> None:
        async with harness(coalesce_seconds=0.05) as h:
            h.add_matrix()
            h.add_engagement("team-a")
            await first_write(h)
            before = len(h.engagement_writes())
            evaluations = h.metrics.evaluations._value.get()
            for i in range(200):  # all within one coalescing period
                h.add_workload("team-a", f"old-{i}", "stakater/reloader:v1.1.0")
            await settle(h)
            assert len(h.engagement_writes()) == before + 1
            assert h.metrics.evaluations._value.get() == evaluations + 1
            assert eligibility(h.engagement_writes()[-1]) != "Eligible"

    run(scenario)


def test_no_write_when_nothing_changed() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.add_matrix()
            h.add_engagement("team-a")
            h.add_workload("team-a", "reloader", "stakater/reloader:v1.4.21")
            await first_write(h)
            writes, events = len(h.kube.status_writes), len(h.kube.events)
            h.routes.resync()  # e.g. the hourly resync
            # A workload without a product changes nothing the engagement reports.
            h.add_workload("team-a", "web", "nginx:1.27")
            await settle(h)
            assert h.metrics.evaluations._value.get() >= 2
            assert len(h.kube.status_writes) == writes
            assert len(h.kube.events) == events

    run(scenario)


def test_events_only_on_transitions() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.add_matrix()
            h.add_engagement("team-a")
            h.add_workload("team-a", "reloader", "stakater/reloader:v1.4.21")
            await until(lambda: len(h.kube.events) == 1, what="the first Event")
            h.add_workload("team-a", "old", "stakater/reloader:v1.1.0")  # end of life: no longer Eligible
            await until(lambda: len(h.kube.events) == 2, what="the transition's Event")
            worse = h.kube.events[1]
            assert worse.warning and worse.reason != "EligibilityEligible"
            assert "eligibility changed from Eligible to" in worse.message
            assert worse.message.endswith("[EO101 reloader 1.1.0]")  # the finding codes (core/verdict/findings.py)
            # Another end-of-life workload changes the status (counts) but not the eligibility: no Event.
            writes = len(h.engagement_writes())
            h.add_workload("team-a", "old-2", "stakater/reloader:v1.1.0")
            await until(lambda: len(h.engagement_writes()) > writes, what="the status update")
            await settle(h)
            assert len(h.kube.events) == 2
            h.routes.workload_gone("team-a", "Deployment", "old")
            h.routes.workload_gone("team-a", "Deployment", "old-2")
            await until(lambda: len(h.kube.events) == 3, what="the Event back to Eligible")
            assert h.kube.events[2].reason == "EligibilityEligible"

    run(scenario)


def test_a_product_entering_the_premium_horizon_is_announced_once() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.add_matrix()
            h.add_engagement("team-a", plan="Premium")
            h.add_workload("team-a", "reloader", "stakater/reloader:v1.2.0")  # ends support in 30 days
            await until(lambda: len(h.kube.events) == 2, what="eligibility and horizon Events")
            reasons = sorted(e.reason for e in h.kube.events)
            assert reasons == ["EligibilityEligible", "EndOfSupportApproaching"]
            horizon = next(e for e in h.kube.events if e.reason == "EndOfSupportApproaching")
            assert horizon.warning
            assert horizon.message.startswith("[EO102] customer action: upgrade reloader 1.2.0 to 1.4.21")
            h.routes.resync()
            h.add_workload("team-a", "other", "stakater/reloader:v1.4.21")  # the status changes, the horizon not
            await settle(h)
            assert len(h.kube.events) == 2

    run(scenario)


def test_a_status_edited_on_the_server_is_rewritten() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.add_matrix()
            body = h.add_engagement("team-a")
            await first_write(h)
            good = h.engagement_writes()[-1]
            body["status"] = {**good, "eligibility": "Ineligible"}  # someone edited it
            h.routes.engagement_seen(body)
            await until(lambda: len(h.engagement_writes()) == 2, what="the rewrite")
            assert eligibility(h.engagement_writes()[-1]) == eligibility(good)
            await settle(h)
            assert len(h.kube.events) == 1  # the eligibility we announced did not change

    run(scenario)


# --------------------------------------------------------------- retries


def test_a_failed_status_patch_is_retried_and_counted() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.kube.fail("replace_status", times=2)
            h.add_matrix()
            h.add_engagement("team-a")
            await until(lambda: bool(h.engagement_writes()), what="a write after the failures")
            await settle(h)
            assert h.error_count("status_patch") == 2
            assert len(h.engagement_writes()) == 1
            assert len(h.kube.writes_to(CM)) == 1
            assert len(h.kube.events) == 1

    run(scenario)


def test_a_failed_event_is_counted_and_not_retried() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.kube.fail("emit_event")
            h.add_matrix()
            h.add_engagement("team-a")
            await first_write(h)
            assert h.error_count("event") == 1
            assert h.kube.events == []

    run(scenario)


def test_platform_errors_are_counted_and_the_platform_is_read_again() -> None:
    async def scenario() -> None:
        async with harness(platform_seconds=0.02) as h:
            h.kube.fail("platform")
            h.tasks.start(h.routes.upkeep.watch_platform_forever(), name="platform", forever=True)
            await until(lambda: h.state.platform == Platform(kubernetes="v1.30.2"), what="the platform")
            assert h.error_count("platform") == 1

    run(scenario)


def test_a_deleted_engagement_is_not_written() -> None:
    async def scenario() -> None:
        async with harness(coalesce_seconds=0.05) as h:
            h.add_matrix()
            h.add_engagement("team-a")
            h.routes.engagement_gone("team-a", "contract")
            h.kube.delete(SE, "team-a", "contract")
            await settle(h)
            assert h.engagement_writes() == []

    run(scenario)


# --------------------------------------------------------------- priming


def test_priming_waits_for_every_object_that_existed_at_start() -> None:
    async def scenario() -> None:
        async with harness(ready=False) as h:
            h.kube.add(CM, "", "default")
            h.kube.add(SE, "team-a", "contract")
            h.kube.add("deployments", "team-a", "reloader")
            h.kube.add("namespaces", "", "team-a")
            prime = h.tasks.start(h.routes.upkeep.prime(), name="prime", critical=True)
            h.add_matrix()
            h.add_engagement("team-a")
            h.routes.namespace_seen("team-a", {})
            await asyncio.sleep(0.3)
            assert not h.state.is_ready(), "ready before the Deployment arrived"
            assert h.kube.status_writes == [], "wrote a status from a partial inventory"
            seen_workload(h.routes, "Deployment", workload("team-a", "reloader", "stakater/reloader:v1.1.0"))
            await asyncio.wait_for(prime, 2)
            assert h.state.is_ready()
            await until(lambda: bool(h.engagement_writes()), what="the first write")
            assert eligibility(h.engagement_writes()[0]) != "Eligible"  # judged with the Deployment

    run(scenario)


def test_priming_retries_counting_and_counts_only_selected_namespaces() -> None:
    async def scenario() -> None:
        async with harness(ready=False, namespaces=frozenset({"team-a"})) as h:
            h.kube.add("deployments", "team-b", "elsewhere")  # not watched: must not be waited for
            h.kube.fail("count")
            await asyncio.wait_for(h.routes.upkeep.prime(), 2)
            assert h.error_count("sweep") == 1
            scopes = {args[1] for method, args in h.kube.calls if method == "count" and args[0] == "deployments"}
            assert scopes == {"team-a"}

    run(scenario)


def test_priming_gives_up_when_objects_never_arrive() -> None:
    async def scenario() -> None:
        async with harness(ready=False) as h:
            h.kube.add("deployments", "team-a", "never-delivered")
            await asyncio.wait_for(h.routes.upkeep.prime(recheck_seconds=0.05, give_up_seconds=0.2), 2)
            assert h.state.is_ready()

    run(scenario)


# -------------------------------------------------------------- sweeping


def test_sweep_forgets_objects_deleted_while_the_watch_was_away() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.add_matrix()
            h.add_engagement("team-a")
            h.add_workload("team-a", "old", "stakater/reloader:v1.1.0")
            h.add_workload("team-a", "new", "stakater/reloader:v1.4.21")
            h.routes.namespace_seen("team-a", {})
            h.kube.add("namespaces", "", "team-a")
            await first_write(h)
            assert eligibility(h.engagement_writes()[-1]) != "Eligible"
            h.kube.delete("deployments", "team-a", "old")  # the DELETED event was lost
            await h.routes.upkeep.sweep()
            assert ("team-a", "Deployment", "old") not in h.state.inventory.workloads
            assert ("team-a", "Deployment", "new") in h.state.inventory.workloads
            await until(lambda: eligibility(h.engagement_writes()[-1]) == "Eligible", what="re-evaluation")

    run(scenario)


def test_sweep_keeps_objects_seen_after_its_list_began() -> None:
    async def scenario() -> None:
        async with harness() as h:
            original = h.kube.list_keys

            def list_then_create(group: str, version: str, plural: str, namespace: str | None = None, **kw: Any) -> Any:
                listed = original(group, version, plural, namespace, **kw)
                if plural == "deployments":  # created (and seen by the watch) right after the LIST
                    seen_workload(h.routes, "Deployment", workload("team-a", "late", "nginx"))
                return listed

            h.kube.list_keys = list_then_create  # type: ignore[method-assign]
            await h.routes.upkeep.sweep()
            assert ("team-a", "Deployment", "late") in h.state.inventory.workloads

    run(scenario)


def test_sweep_lists_only_the_selected_namespaces() -> None:
    async def scenario() -> None:
        async with harness(namespaces=frozenset({"team-a", "team-b"})) as h:
            h.add_workload("team-a", "one", "nginx")
            await h.routes.upkeep.sweep()
            namespaced = [args for method, args in h.kube.calls if method == "list_keys" and args[0] != "namespaces"]
            namespaced = [args for args in namespaced if args[0] != CM]
            assert namespaced, "the sweep listed nothing"
            assert {args[1] for args in namespaced} == {"team-a", "team-b"}, "listed cluster-wide"

    run(scenario)


def test_a_failed_sweep_is_counted_and_retried() -> None:
    async def scenario() -> None:
        async with harness(retry_seconds=0.01) as h:
            h.add_workload("team-a", "gone", "nginx")
            h.kube.delete("deployments", "team-a", "gone")
            h.kube.fail("list_keys")
            await h.routes.upkeep.sweep()
            assert h.error_count("sweep") == 1
            assert ("team-a", "Deployment", "gone") in h.state.inventory.workloads
            await until(lambda: ("team-a", "Deployment", "gone") not in h.state.inventory.workloads, what="retry")

    run(scenario)


def test_relisting_schedules_one_sweep() -> None:
    async def scenario() -> None:
        async with harness(retry_seconds=0.05) as h:
            for _ in range(50):
                h.routes.relisted()
            await asyncio.sleep(0.3)
            sweeps = [args for method, args in h.kube.calls if method == "list_keys" and args[0] == "namespaces"]
            assert len(sweeps) == 1

    run(scenario)


def test_unserved_resources_are_not_swept() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.kube.unserved.add("clusterserviceversions")
            h.add_workload("team-a", "one", "nginx")
            await h.routes.upkeep.sweep()
            assert ("team-a", "Deployment", "one") in h.state.inventory.workloads

    run(scenario)


def test_matrix_status_follows_validity() -> None:
    async def scenario() -> None:
        async with harness() as h:
            body = h.add_matrix()
            await until(lambda: bool(h.kube.writes_to(CM)), what="the matrix status")
            ready = h.kube.writes_to(CM)[-1].status["conditions"][0]
            assert (ready["type"], ready["status"]) == ("Ready", "True")
            broken = with_meta(matrix("default"), generation=2)
            broken["metadata"]["uid"] = body["metadata"]["uid"]
            broken["spec"]["products"][0]["releases"] = "not a list"
            h.routes.matrix_seen(broken)
            await until(lambda: len(h.kube.writes_to(CM)) == 2, what="the Invalid status")
            ready = h.kube.writes_to(CM)[-1].status["conditions"][0]
            assert (ready["status"], ready["reason"]) == ("False", "Invalid")
            assert GROUP and VERSION  # the fake serves the operator's own group

    run(scenario)


# ------------------------------------------------------------------ GitOps


def helm_release(namespace: str, name: str, chart_version: str, target: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"chart": {"spec": {"chart": "reloader", "version": chart_version}}}
    if target:
        spec["targetNamespace"] = target
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4())},
        "spec": spec,
    }


def test_a_helm_release_is_judged_until_the_workload_it_creates_runs() -> None:
    async def test() -> None:
        async with harness() as h:
            body = with_meta(matrix("default"))
            reloader = next(p for p in body["spec"]["products"] if p["name"] == "reloader")
            reloader["recognition"]["charts"] = [{"name": "reloader", "versions": [{"chart": "1.1"}]}]
            h.kube.add(CM, "", "default")
            h.routes.matrix_seen(body)
            h.add_engagement("tools", coverage={"namespaces": ["tools"]})
            # a HelmRelease in flux-system installing chart reloader 1.1.0 (app 1.1.0, end of life) into tools
            h.kube.add("helmreleases", "flux-system", "reloader")
            seen_workload(h.routes, "HelmRelease", helm_release("flux-system", "reloader", "1.1.0", "tools"))
            await until(lambda: bool(h.engagement_writes() and h.engagement_writes()[-1].get("products")))
            products = h.engagement_writes()[-1]["products"]
            assert [(p["product"], p["version"], p["workloads"]) for p in products] == [
                ("reloader", "1.1.0", ["flux-system/HelmRelease/reloader"])
            ]
            assert products[0]["versionSource"] == "chart reloader 1.1.0"
            # the running workload is the truth once it exists
            h.add_workload("tools", "reloader", "ghcr.io/stakater/reloader:v1.4.21")
            await settle(h)
            products = h.engagement_writes()[-1]["products"]
            assert [(p["product"], p["version"], p["workloads"]) for p in products] == [
                ("reloader", "1.4.21", ["tools/Deployment/reloader"])
            ]
            # deleting the HelmRelease forgets it, although its findings were filed under tools
            h.routes.workload_gone("flux-system", "HelmRelease", "reloader")
            assert ("flux-system", "HelmRelease", "reloader") not in h.state.inventory.workloads

    run(test)


def test_engagements_with_the_same_inputs_share_one_evaluation(monkeypatch: Any) -> None:
    """Issue 37: 100 engagements covering every namespace were each evaluated on every change (10-25 ms each,
    the unrelated engagement's status 3-4.6 s late). Engagements with the same spec share one evaluation."""
    from eligibility_operator.core.verdict import engagements as eng

    calls: list[str] = []
    assess = eng.assess

    def counting(record: Any, *args: Any) -> Any:
        calls.append(record.name)
        return assess(record, *args)

    monkeypatch.setattr(eng, "assess", counting)  # the module the reconciler calls it through

    async def scenario() -> None:
        async with harness() as h:
            h.add_matrix()
            h.add_workload("shop", "reloader", "stakater/reloader:v1.1.0")
            for i in range(100):
                h.add_engagement("platform", f"e{i}", coverage={})
            h.add_engagement("platform", "other", covers=["shop"])
            await until(lambda: len(h.engagement_writes()) >= 101, what="101 statuses")
            await settle(h)
            assert len(calls) <= 3, len(calls)  # once for the 100, once for "other" (was 101)
            calls.clear()
            h.add_workload("shop", "reloader", "stakater/reloader:v1.4.21")
            await until(lambda: len(h.engagement_writes()) >= 202, what="101 new statuses")
            await settle(h)
            assert len(calls) == 2, calls
            assert all(eligibility(w) == "Eligible" for w in h.engagement_writes()[-101:])

    run(scenario)

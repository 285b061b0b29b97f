"""Fault injection: after every fault, each engagement's status must equal the pure evaluation of a fresh
LIST of the same objects, within a stated time. Runs on a control plane of its own (it restarts it).

Measured convergence times are printed (``-s`` shows them); the README's reliability table lists them.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from eligibility_operator.matrix_source import digest_of
from eligibility_operator_dev.cluster import apply_defaults
from eligibility_operator_dev.controlplane import ControlPlane, free_port

from ..builders import engagement, matrix, workload
from ..conftest import Kubectl, OperatorProcess, wait_for
from ..consistency import mismatches, request_mismatches
from ..matrix_servers import https_server, serving_cert

OK, EOL, SOON = "ghcr.io/stakater/reloader:v1.4.21", "stakater/reloader:v1.1.0", "stakater/reloader:v1.2.0"
NAMESPACES = ("f-a", "f-b", "f-c")
ENGAGEMENTS = "f-contracts"
INACTIVITY = 5.0  # the operator's watch inactivity timeout in this suite (Kopf's default is 70 s)


@pytest.fixture(scope="module")
def plane() -> Iterator[ControlPlane]:
    with ControlPlane() as p:
        apply_defaults(p.kubeconfig)
        yield p


@pytest.fixture(scope="module")
def kc(plane: ControlPlane) -> Kubectl:
    return Kubectl(plane.kubeconfig)


@pytest.fixture(scope="module")
def api(plane: ControlPlane) -> client.ApiClient:
    return config.new_client_from_config(str(plane.kubeconfig))


@pytest.fixture(scope="module")
def estate(kc: Kubectl) -> list[dict[str, Any]]:
    """Three namespaces of workloads, and engagements over them (one per namespace, one over all)."""
    for ns in (*NAMESPACES, ENGAGEMENTS):
        kc.run("create", "namespace", ns)
    kc.apply(matrix("f-matrix"))
    workloads = [
        workload(ns, f"w{i}", OK if i % 3 else EOL, "example.com/app:v1") for ns in NAMESPACES for i in range(10)
    ]
    kc.apply(*workloads)
    contracts = [engagement(ENGAGEMENTS, f"c-{ns}", covers=[ns], matrixRef={"name": "f-matrix"}) for ns in NAMESPACES]
    contracts.append(
        engagement(ENGAGEMENTS, "c-all", covers=list(NAMESPACES), matrixRef={"name": "f-matrix"}, plan="Premium")
    )
    kc.apply(*contracts)
    return workloads


class Operator(OperatorProcess):
    def __init__(self, kubeconfig: Path, log: Path, *extra: str) -> None:
        super().__init__(kubeconfig, log, "-v", "--watch-inactivity-timeout", str(INACTIVITY), *extra)


@pytest.fixture
def operator_factory(plane: ControlPlane, tmp_path: Path) -> Iterator[Callable[..., Operator]]:
    started: list[Operator] = []

    def start(kubeconfig: Path | None = None) -> Operator:
        op = Operator(kubeconfig or plane.kubeconfig, tmp_path / f"operator-{len(started)}.log")
        started.append(op)
        op.wait_healthy()
        return op

    yield start
    for op in started:
        op.stop()
        log = op.log()
        assert plane.token not in log, "the API token appeared in the operator's log"


def converge(
    api: client.ApiClient, timeout: float, what: str, last_good: dict[str, dict[str, Any]] | None = None
) -> float:
    """Seconds until every engagement agrees with the pure evaluation; fails after ``timeout``."""
    started = time.monotonic()
    last: Any = None
    while time.monotonic() - started < timeout:
        try:
            last = mismatches(api, ENGAGEMENTS, last_good)
            if not last:
                took = time.monotonic() - started
                print(f"\n[faults] {what}: converged in {took:.2f} s")
                return took
        except Exception as exc:  # the API server may still be coming back
            last = repr(exc)
        time.sleep(0.25)
    raise AssertionError(f"{what}: not converged within {timeout} s: {last}")


def flip_images(apps: client.AppsV1Api, workloads: list[dict[str, Any]], rng: random.Random) -> None:
    w = rng.choice(workloads)
    image = rng.choice([OK, EOL, SOON, "stakater/reloader:latest"])
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c0", "image": image}]}}}}
    apps.patch_namespaced_deployment(w["metadata"]["name"], w["metadata"]["namespace"], patch, _request_timeout=5)


def events_about_engagements(kc: Kubectl) -> int:
    items = json.loads(kc.run("get", "events", "-n", ENGAGEMENTS, "-o", "json").stdout)["items"]
    return sum(e.get("count", 1) for e in items if e["involvedObject"]["kind"] == "SupportEngagement")


# ---------------------------------------------------------------------------------- faults


def test_api_server_restart_while_workloads_change(
    plane: ControlPlane, api: client.ApiClient, kc: Kubectl, estate: list[dict[str, Any]], operator_factory: Any
) -> None:
    op = operator_factory()
    converge(api, 20, "initial")
    events_before = events_about_engagements(kc)
    apps, rng, changes = client.AppsV1Api(api), random.Random(1), [0]
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            try:
                flip_images(apps, estate, rng)
                changes[0] += 1
            except Exception:
                time.sleep(0.1)  # the server is down: keep trying
            time.sleep(0.05)

    thread = threading.Thread(target=churn)
    thread.start()
    time.sleep(2)
    plane.stop_apiserver()
    time.sleep(4)
    plane.start_apiserver()
    back = time.monotonic()
    time.sleep(2)
    stop.set()
    thread.join()
    took = converge(api, 10 + 2, "API server restart (timed from when the server was back, +2 s of churn)")
    assert time.monotonic() - back <= 10 + 2 + 1  # 10 s after the last change, the bound the README states
    assert op.proc.poll() is None
    events = events_about_engagements(kc) - events_before
    assert events <= changes[0] + len(NAMESPACES) + 1, f"{events} Events for {changes[0]} changes"
    print(f"[faults] API server restart: {took:.2f} s to converge, {events} Events for {changes[0]} changes")


def test_operator_killed_mid_burst_then_restarted(
    api: client.ApiClient, estate: list[dict[str, Any]], operator_factory: Any
) -> None:
    op = operator_factory()
    converge(api, 20, "initial")
    apps, rng = client.AppsV1Api(api), random.Random(2)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(flip_images, apps, estate, rng) for _ in range(60)]
        time.sleep(0.2)
        op.proc.send_signal(signal.SIGKILL)
        for f in futures:
            f.result()
    op.proc.wait()
    started = time.monotonic()
    operator_factory()
    converge(api, 20, "operator kill -9 mid-burst (timed from the restart)")
    print(f"[faults] restart to converged: {time.monotonic() - started:.2f} s")


def test_expired_watches_relist_and_forget_deleted_objects(
    plane: ControlPlane, api: client.ApiClient, kc: Kubectl, estate: list[dict[str, Any]], operator_factory: Any
) -> None:
    op = operator_factory()
    kc.apply(workload("f-a", "doomed", EOL), workload("f-b", "doomed", EOL, kind="StatefulSet"))
    converge(api, 20, "initial")
    op.proc.send_signal(signal.SIGSTOP)  # the operator misses everything from here
    try:
        kc.run("delete", "deployment", "doomed", "-n", "f-a")
        kc.run("delete", "statefulset", "doomed", "-n", "f-b")
        flip_images(client.AppsV1Api(api), estate, random.Random(3))
        revision = plane.compact_etcd()
        plane.stop_apiserver()  # a fresh watch cache: resuming from old resource versions gets 410 Gone
        plane.start_apiserver()
    finally:
        op.proc.send_signal(signal.SIGCONT)
    converge(api, 25, f"expired watches (etcd compacted at {revision}, API server restarted)")
    # The watches could not resume (410 Gone): each listed again. A deletion the API server had already
    # written into the stopped operator's socket arrives as an event after SIGCONT; any other is forgotten
    # by the relisting (tests/unit/test_workload_watch.py pins that mechanism). Either way the statuses
    # above converged without the deleted workloads.
    kinds = ("deployments", "statefulsets")
    assert wait_for(
        lambda: all(re.search(rf"{kind}: resource version \S+ is gone \(410\)", op.log()) for kind in kinds),
        timeout=10,
        what="both workload watches to list again after 410 Gone",
    )
    forgotten = [kind for kind in kinds if f"{kind}: forgot 1 objects" in op.log()]
    print(f"[faults] deletions forgotten by the relisting (the others came as events): {forgotten}")


def test_frozen_api_server_is_noticed(
    plane: ControlPlane, api: client.ApiClient, kc: Kubectl, estate: list[dict[str, Any]], operator_factory: Any
) -> None:
    op = operator_factory()
    converge(api, 20, "initial")
    plane.signal("kube-apiserver", signal.SIGSTOP)
    time.sleep(INACTIVITY * 1.6)  # longer than the watch inactivity timeout
    plane.signal("kube-apiserver", signal.SIGCONT)
    flip_images(client.AppsV1Api(api), estate, random.Random(4))
    kc.apply(workload("f-c", "after-freeze", EOL))
    converge(api, 25, "API server frozen (SIGSTOP) past the inactivity timeout, then resumed")
    assert op.proc.poll() is None


def proxied_kubeconfig(plane: ControlPlane, proxy: ChaosProxy, tmp_path: Path) -> Path:
    """The control plane's kubeconfig with the API server reached through ``proxy``."""
    kubeconfig = yaml.safe_load(plane.kubeconfig.read_text())
    kubeconfig["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    path = tmp_path / "proxy-kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    return path


class ChaosProxy:
    """A TCP proxy on loopback between the operator and the API server that adds latency, cuts
    connections at random, and can black-hole them (silent, never closed)."""

    def __init__(self, target_port: int, seed: int = 5) -> None:
        self.port = free_port()
        self.target = target_port
        self.rng = random.Random(seed)
        self.latency = (0.0, 0.03)
        self.cut_probability = 0.0  # per forwarded chunk
        self.blackhole = False
        self.cuts = 0
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self._ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                while self.blackhole:
                    await asyncio.sleep(0.1)  # keep the socket open, forward nothing
                await asyncio.sleep(self.rng.uniform(*self.latency))
                if self.rng.random() < self.cut_probability:
                    self.cuts += 1
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def close(self) -> None:
        async def shutdown() -> None:
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


def test_flaky_network_and_silent_connections(
    plane: ControlPlane,
    api: client.ApiClient,
    kc: Kubectl,
    estate: list[dict[str, Any]],
    operator_factory: Any,
    tmp_path: Path,
) -> None:
    proxy = ChaosProxy(plane.apiserver_port)
    try:
        through_proxy = proxied_kubeconfig(plane, proxy, tmp_path)
        op = operator_factory(through_proxy)
        converge(api, 30, "initial, through the proxy")
        apps, rng = client.AppsV1Api(api), random.Random(6)
        proxy.cut_probability = 0.02
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            flip_images(apps, estate, rng)
            time.sleep(0.1)
        proxy.cut_probability = 0.0
        converge(api, 30, f"flaky network ({proxy.cuts} connections cut, 0-30 ms latency)")
        # Silent connections: nothing forwarded, nothing closed; only the inactivity timeout notices.
        proxy.blackhole = True
        time.sleep(1)
        flip_images(apps, estate, rng)
        kc.apply(workload("f-b", "during-blackhole", EOL))
        time.sleep(INACTIVITY + 1)
        proxy.blackhole = False
        converge(api, 40, "black-holed connections (silent, then restored)")
        assert op.proc.poll() is None
        assert proxy.cuts > 0
    finally:
        proxy.close()


# ------------------------------------------------------------------------------- the soak

SOAK_ROUNDS = int(os.environ.get("FAULT_SOAK_ROUNDS", "20"))
# Around the Lease's renew deadline (7 s) and duration (10 s): a renewal in flight across the deadline,
# a lapse the leader wins back, and a lapse long enough for the Lease to expire.
SOAK_OUTAGES = (5.5, 6.8, 7.3, 9.5, 10.5)
TIMING_PHASE = 2.0  # the retry period: renewals happen this often
SOURCED = "f-sourced"  # the soak's matrix with spec.source


def source_behind(api: client.ApiClient) -> dict[str, Any]:
    """{"f-sourced Current": condition} while the soak's sourced matrix is not Current=True, else {}."""
    cmx = client.CustomObjectsApi(api).get_cluster_custom_object(
        "support.stakater.com", "v1alpha1", "compatibilitymatrices", SOURCED
    )
    current = next((c for c in cmx.get("status", {}).get("conditions", []) if c["type"] == "Current"), {})
    return {} if current.get("status") == "True" else {f"{SOURCED} Current": current}


def soak_requests() -> list[dict[str, Any]]:
    """SupportRequests about the estate's workloads, triaged by the operator as the workloads change."""
    base = {"apiVersion": "support.stakater.com/v1alpha1", "kind": "SupportRequest"}
    opened = {"openedAt": "2026-12-01T10:00:00Z"}
    return [
        {
            **base,
            "metadata": {"name": f"r-{ns}", "namespace": ENGAGEMENTS},
            "spec": {
                "engagementRef": {"name": f"c-{ns}"},
                "category": "Incident",
                "title": f"reloader in {ns} does not reload",
                "workloads": [f"{ns}/Deployment/w0", f"{ns}/Deployment/w1"],
                "severity": "P2",
                "ticket": opened,
            },
        }
        for ns in NAMESPACES
    ] + [
        {
            **base,
            "metadata": {"name": "r-product", "namespace": ENGAGEMENTS},
            "spec": {
                "engagementRef": {"name": "c-all"},
                "category": "Question",
                "title": "which reloader do we run?",
                "product": "reloader",
                "ticket": opened,
            },
        }
    ]


@pytest.mark.timeout(60 * SOAK_ROUNDS)
def test_randomized_fault_soak(
    plane: ControlPlane,
    api: client.ApiClient,
    kc: Kubectl,
    estate: list[dict[str, Any]],
    operator_factory: Any,
    tmp_path: Path,
) -> None:
    """Rounds of random faults (API server frozen or cut off for about the renew deadline or the Lease's
    duration, operator kill -9, watches expired by compaction), each with workload changes before, during
    and after it; while the API server is frozen, the HTTPS source of a sourced matrix also stalls or cuts
    every connection. After each round, every engagement's and SupportRequest's status must equal the
    offline evaluation (`check`'s core) and the offline `triage` of the same objects, and the sourced
    matrix must be Current again. Stale: a round after which they did not within 45 s. Prints rounds, stale
    count and the worst convergence time."""
    kc.apply(*soak_requests())
    proxy = ChaosProxy(plane.apiserver_port, seed=11)
    offline = tmp_path / "offline"
    offline.mkdir()
    published = matrix(SOURCED)
    document = yaml.safe_dump(published).encode()

    def stale() -> dict[str, Any]:
        return {
            **mismatches(api, ENGAGEMENTS, sourced={SOURCED: published["spec"]}),
            **request_mismatches(api, ENGAGEMENTS, offline),
            **source_behind(api),
        }

    def settled(what: str, timeout: float = 45.0) -> float | None:
        started, last, lagging = time.monotonic(), None, None
        while time.monotonic() - started < timeout:
            try:
                last = stale()
                if not last:
                    took = time.monotonic() - started
                    if took > 5 and lagging:
                        print(f"\n[soak] {what}: the last to converge: {', '.join(sorted(lagging))}")
                    return took
                lagging = last
            except Exception as exc:  # the API server may still be coming back
                last = {"error": repr(exc)}
            time.sleep(0.25)
        print(f"\n[soak] {what}: STALE after {timeout} s: {last}")
        return None

    with https_server(serving_cert(tmp_path / "cert")) as files:
        files.files["/matrix.yaml"] = document
        kc.apply(
            {
                "apiVersion": "support.stakater.com/v1alpha1",
                "kind": "CompatibilityMatrix",
                "metadata": {"name": SOURCED},
                "spec": {
                    "source": {
                        "url": files.url("/matrix.yaml"),
                        "interval": "1s",
                        "timeout": "3s",
                        "digest": digest_of(document),
                        "caBundle": files.ca_pem,
                    }
                },
            },
            engagement(ENGAGEMENTS, "c-sourced", covers=[NAMESPACES[0]], matrixRef={"name": SOURCED}),
        )
        try:
            through_proxy = proxied_kubeconfig(plane, proxy, tmp_path)
            op = operator_factory(through_proxy)
            assert settled("initial") is not None
            apps, rng = client.AppsV1Api(api), random.Random(23)
            figures: list[tuple[str, float | None]] = []
            # Every outage for both kinds of outage, as many kills and expiries, in a random order.
            schedule = [(f, o) for f in ("freeze", "cut-off") for o in SOAK_OUTAGES]
            schedule += [(f, 0.0) for f in ("kill", "expire") for _ in SOAK_OUTAGES]
            schedule = (schedule * (1 + SOAK_ROUNDS // len(schedule)))[:SOAK_ROUNDS]
            rng.shuffle(schedule)
            for round_, (fault, outage) in enumerate(schedule):
                time.sleep(rng.uniform(0, TIMING_PHASE))  # a random phase against the Lease's renewals
                flip_images(apps, estate, rng)  # a change in flight when the fault starts
                if fault == "freeze":
                    files.fault = rng.choice(("stall", "cut"))
                    plane.signal("kube-apiserver", signal.SIGSTOP)
                    time.sleep(outage)
                    plane.signal("kube-apiserver", signal.SIGCONT)
                    what = f"API server frozen {outage} s, matrix source {files.fault}"
                    files.fault = None
                elif fault == "cut-off":
                    proxy.blackhole = True
                    time.sleep(1)
                    flip_images(apps, estate, rng)  # the operator cannot see this one until the end
                    time.sleep(outage - 1)
                    proxy.blackhole = False
                    what = f"operator cut off {outage} s"
                elif fault == "kill":
                    with ThreadPoolExecutor(4) as pool:
                        burst = [pool.submit(flip_images, apps, estate, rng) for _ in range(12)]
                        time.sleep(0.1)
                        op.proc.send_signal(signal.SIGKILL)
                        for f in burst:
                            f.result()
                    op.proc.wait()
                    op = operator_factory(through_proxy)
                    what = "operator kill -9 mid-burst, restarted"
                else:
                    op.proc.send_signal(signal.SIGSTOP)
                    try:
                        flip_images(apps, estate, rng)
                        plane.compact_etcd()
                        plane.stop_apiserver()  # a fresh watch cache: resuming gets 410 Gone
                        plane.start_apiserver()
                    finally:
                        op.proc.send_signal(signal.SIGCONT)
                    what = "watches expired (operator stopped, etcd compacted, API server restarted)"
                flip_images(apps, estate, rng)  # and one after it
                took = settled(f"round {round_ + 1}: {what}")
                figures.append((what, took))
                print(f"\n[soak] round {round_ + 1}: {what}: " + (f"converged in {took:.2f} s" if took else "STALE"))
                assert op.proc.poll() is None, f"the operator exited: {op.log()[-2000:]}"
            stale_rounds = [what for what, took in figures if took is None]
            worst = max(took for _, took in figures if took is not None) if len(stale_rounds) < len(figures) else 0.0
            frozen = [took for what, took in figures if took is not None and "frozen" in what]
            print(
                f"\n[soak] {len(figures)} rounds, {len(stale_rounds)} stale, worst convergence {worst:.2f} s"
                f" (frozen with the source stalled or cut: worst {max(frozen, default=0.0):.2f} s)"
            )
            assert stale_rounds == [], f"stale after: {stale_rounds}"
        finally:
            files.fault = None
            proxy.close()
            kc.run("delete", "se", "c-sourced", "-n", ENGAGEMENTS, check=False)
            kc.run("delete", "cmx", SOURCED, check=False)


# --------------------------------------------------------------------------- bad input


def _mutations(rng: random.Random, valid: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Malformed variants of a valid spec: wrong types, missing fields, bad enums, semantic errors."""
    junk = [None, "", "x" * 300, -1, 3.5, [], {}, True, "Platinum", {"a": [1, {"b": None}]}, 10**12]
    fields = [
        "customer",
        "type",
        "plan",
        "products",
        "coverage",
        "versionManagement",
        "serviceCredits",
        "upgradeHorizonDays",
        "matrixRef",
        "responseTargets",
        "enforcement",
        "agreement",
    ]
    semantic = [
        {"type": "ProductSupport", "versionManagement": "Stakater"},
        {"products": [{"name": "relaoder"}]},
        {"products": [{"name": "reloader"}, {"name": "reloader"}]},
        {"coverage": {"namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}}},
        {
            "coverage": {
                "namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}
            }
        },
        {"matrixRef": {"name": "no-such-matrix"}},
    ]
    i = 0
    while True:
        spec = json.loads(json.dumps(valid))
        kind = rng.random()
        if kind < 0.25:
            spec.pop(rng.choice(fields), None)
        elif kind < 0.75:
            spec[rng.choice(fields)] = rng.choice(junk)
        else:
            spec.update(rng.choice(semantic))
        i += 1
        yield f"bad-{i:04d}", spec


def test_a_thousand_malformed_engagements_and_matrices(
    api: client.ApiClient, kc: Kubectl, estate: list[dict[str, Any]], operator_factory: Any
) -> None:
    op = operator_factory()
    converge(api, 20, "initial")
    rss_before = _rss_mib(op.proc.pid)
    custom = client.CustomObjectsApi(api)
    namespace = "f-bad"
    kc.run("create", "namespace", namespace)
    valid = engagement(namespace, covers=["f-a"], matrixRef={"name": "f-matrix"})["spec"]
    rng = random.Random(7)
    generated = _mutations(rng, valid)
    refused: list[str] = []
    accepted: list[str] = []

    def create(item: tuple[str, dict[str, Any]]) -> None:
        name, spec = item
        body = {
            "apiVersion": "support.stakater.com/v1alpha1",
            "kind": "SupportEngagement",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
        try:
            custom.create_namespaced_custom_object(
                "support.stakater.com", "v1alpha1", namespace, "supportengagements", body
            )
            accepted.append(name)
        except client.ApiException as exc:
            assert exc.status == 422, exc
            message = json.loads(exc.body)["message"]
            assert "spec." in message, f"{name}: the refusal does not name the field: {message}"
            refused.append(name)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(create, [next(generated) for _ in range(900)]))
    matrices_refused = _malformed_matrices(custom, rng, 100)
    print(
        f"\n[faults] 900 engagements: {len(refused)} refused by the schema, {len(accepted)} accepted; "
        f"100 matrices: {matrices_refused} refused by the schema"
    )
    assert refused and accepted

    # Every accepted engagement gets the status the pure evaluation says: Ready=False naming the problem,
    # or a real evaluation when the mutation happened to stay valid.
    started = time.monotonic()
    wait_for(
        lambda: not mismatches(api, namespace),
        timeout=60,
        interval=1.0,
        what="every accepted malformed engagement to have its status",
    )
    print(f"[faults] statuses of {len(accepted)} accepted engagements converged in {time.monotonic() - started:.1f} s")
    items = custom.list_namespaced_custom_object("support.stakater.com", "v1alpha1", namespace, "supportengagements")[
        "items"
    ]
    not_ready = [
        i for i in items if any(c["type"] == "Ready" and c["status"] == "False" for c in i["status"]["conditions"])
    ]
    assert not_ready, "no accepted engagement was semantically invalid"
    for item in not_ready:
        ready = next(c for c in item["status"]["conditions"] if c["type"] == "Ready")
        assert ready["reason"] in ("InvalidSpec", "MatrixNotFound", "MatrixInvalid")
        assert "spec." in ready["message"] or "CompatibilityMatrix" in ready["message"], ready["message"]
    assert op.proc.poll() is None
    growth = _rss_mib(op.proc.pid) - rss_before
    print(f"[faults] operator RSS growth after 1,000 malformed objects: {growth:.1f} MiB")
    assert growth < 100
    kc.run("delete", "supportengagements", "--all", "-n", namespace, "--wait=false")


def _malformed_matrices(custom: client.CustomObjectsApi, rng: random.Random, count: int) -> int:
    base = matrix("x")["spec"]
    refused = 0
    for i in range(count):
        spec = json.loads(json.dumps(base))
        product = spec["products"][0]
        choice = i % 5
        if choice == 0:
            # `released` may be left out (an unverified line), but never malformed
            product["releases"][0]["released"] = rng.choice(["yesterday", 5, "2026-13-45"])
        elif choice == 1:
            product["name"] = rng.choice(["Reloader!", "", "x" * 100])
        elif choice == 2:
            product["releases"][1]["endOfSupport"] = "2001-01-01"  # before its release: semantic
        elif choice == 3:
            product["releases"].append({"version": "1.4.2", "released": "2025-01-01"})  # overlaps 1.4
        else:
            spec["products"].append(json.loads(json.dumps(product)))  # duplicate product
        body = {
            "apiVersion": "support.stakater.com/v1alpha1",
            "kind": "CompatibilityMatrix",
            "metadata": {"name": f"bad-matrix-{i:03d}"},
            "spec": spec,
        }
        try:
            custom.create_cluster_custom_object("support.stakater.com", "v1alpha1", "compatibilitymatrices", body)
        except client.ApiException as exc:
            assert exc.status == 422
            refused += 1
            continue

    def all_judged() -> bool:
        items = custom.list_cluster_custom_object("support.stakater.com", "v1alpha1", "compatibilitymatrices")["items"]
        bad = [m for m in items if m["metadata"]["name"].startswith("bad-matrix-")]
        return all(any(c["status"] == "False" for c in (m.get("status") or {}).get("conditions", [])) for m in bad)

    wait_for(all_judged, timeout=60, interval=1.0, what="every semantically invalid matrix to be Ready=False")
    return refused


def test_oversized_workloads(api: client.ApiClient, kc: Kubectl, operator_factory: Any) -> None:
    op = operator_factory()
    big = [
        workload(
            "f-c",
            f"huge-{i}",
            *[f"example.com/c{j}:v{j}" for j in range(300)],
            EOL,
            labels={**{f"example.com/l{j}": "v" * 60 for j in range(100)}, "app": f"huge-{i}"},
            annotations={"example.com/blob": "z" * 200_000},
        )
        for i in range(5)
    ]
    for body in big:
        kc.run("create", "-f", "-", input=yaml.safe_dump(body))
    converge(api, 20, "oversized workloads (300 containers, 100 labels, 200 KB annotation)")
    assert op.proc.poll() is None


def test_invalid_matrix_update_keeps_the_last_good_evaluation(
    api: client.ApiClient, kc: Kubectl, estate: list[dict[str, Any]], operator_factory: Any
) -> None:
    operator_factory()
    converge(api, 20, "initial")
    body = matrix("f-matrix")
    good = json.loads(json.dumps(body))
    body["spec"]["products"][0]["releases"][2]["endOfSupport"] = "1999-01-01"  # before its release
    kc.apply(body)
    converge(
        api,
        20,
        "invalid matrix (engagements keep the last good evaluation, Ready=False)",
        last_good={"f-matrix": good["spec"]},
    )
    ready = [
        c
        for i in client.CustomObjectsApi(api).list_namespaced_custom_object(
            "support.stakater.com", "v1alpha1", ENGAGEMENTS, "supportengagements"
        )["items"]
        for c in i["status"]["conditions"]
        if c["type"] == "Ready"
    ]
    assert all(c["reason"] == "MatrixInvalid" and "before it was released" in c["message"] for c in ready)
    # A matrix that drops a product an engagement names: Ready=False, naming the product.
    kc.apply(
        engagement(
            ENGAGEMENTS,
            "names-forecastle",
            covers=["f-a"],
            matrixRef={"name": "f-matrix"},
            products=[{"name": "forecastle"}],
        )
    )
    good_without = json.loads(json.dumps(good))
    good_without["spec"]["products"] = good_without["spec"]["products"][:1]
    kc.apply(good_without)
    converge(api, 20, "matrix drops a product an engagement names")
    kc.apply(good)
    converge(api, 20, "matrix fixed")
    kc.run("delete", "se", "names-forecastle", "-n", ENGAGEMENTS)


def test_metrics_expose_no_credentials(plane: ControlPlane, operator_factory: Any) -> None:
    import urllib.request

    op = operator_factory()
    with urllib.request.urlopen(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert plane.token not in text
    assert "token" not in text.lower() and "bearer" not in text.lower()


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

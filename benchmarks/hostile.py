"""Hostile-input figures for docs/reliability.md: the operator attacked from other processes, on loopback.

    .venv/bin/python -m benchmarks.hostile            # the attacks of issue 37, then the classic ones
    .venv/bin/python -m benchmarks.hostile slowbody8 tcp3000   # some of them (names: see ATTACKS)

The operator runs in this process as in production, over an in-memory API that records status writes
and Events: the controllers fed with watch events through their routes, the admission webhook
(real TLS) and ``/healthz`` on their own ports. Attackers, a legitimate reviewer (an end-of-life Reloader
under an ``Enforce`` engagement, every 0.25 s, a 5 s timeout like the API server's) and a ``/healthz``
prober are separate processes (``benchmarks.hostile_attacks``). Each attack prints: legitimate reviews
allowed unjudged (goal 0), peak RSS of this process and the review parser (goal: under the 512Mi pod
limit), the longest ``/healthz`` gap (goal under 1 s), the longest event-loop stall (a 5 ms ticker; goal
under 50 ms) and the status latency of an unrelated engagement (its workload changed every second).
Printed, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.hostile_attacks import ATTACKER as CLIENTS
from benchmarks.hostile_attacks import PROBER, REVIEWER
from tests.unit.test_reconciler import seen_workload, settle
from tests.unit.test_webhook_hostile import LoopLag, review, served

ATTACKER = r"""
import asyncio, json, ssl, sys, time
import aiohttp

url, ca, mode, count, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
body_file = sys.argv[6] if len(sys.argv) > 6 else None
context = ssl.create_default_context(cafile=ca)

def forged(i):
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": f"00000000-0000-0000-0000-{i:012d}", "operation": "CREATE", "namespace": "shop",
        "object": {"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": f"forged-{i}\n\x1b[31mFAKE", "namespace": "shop"},
                   "spec": {"template": {"spec": {"containers": [
                       {"name": "c", "image": "stakater/reloader:v1.1.0"}]}}}}}}).encode()

async def main():
    latencies, statuses = [], []
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        async def one(data):
            async with limit:
                started = time.perf_counter()
                try:
                    async with s.post(url, data=data, ssl=context) as r:
                        await r.read()
                        statuses.append(r.status)
                except (aiohttp.ClientError, OSError):
                    statuses.append(0)  # connection refused or closed
                    return
                latencies.append(time.perf_counter() - started)
        if mode == "flood":
            await asyncio.gather(*(one(forged(i)) for i in range(count)))
        elif mode == "body":
            data = open(body_file, "rb").read()
            await asyncio.gather(*(one(data) for _ in range(count)))
        elif mode == "slowloris":
            host, port = url.split("/")[2].split(":")

            async def hog():
                try:
                    _, w = await asyncio.open_connection(host, int(port), ssl=context)
                    w.write(b"POST /validate-workloads HTTP/1.1\r\nHost: x\r\n")
                    for _ in range(24):  # a header line every 0.5 s, never the end of the head
                        await asyncio.sleep(0.5)
                        w.write(b"X-Slow: 1\r\n")
                        await w.drain()
                except OSError:
                    pass

            await asyncio.gather(*(hog() for _ in range(count)))
    latencies.sort()
    print(json.dumps({"n": len(latencies), "statuses": sorted(set(statuses)),
                      "p50": latencies[len(latencies) // 2] if latencies else None,
                      "max": latencies[-1] if latencies else None}))

asyncio.run(main())
"""


async def attack(url: str, ca: Path, *args: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", ATTACKER, url, str(ca), *args, stdout=subprocess.PIPE
    )
    out, _ = await proc.communicate()
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def legit_latency(url: str, ca: Path, seconds: float) -> tuple[list[float], int]:
    """One ordinary review every 0.2 s from another process while an attack runs."""
    body = Path(tempfile.mkstemp(suffix=".json")[1])
    body.write_text(json.dumps(review("shop", "legit", "stakater/reloader:v1.4.21")))
    latencies, refused = [], 0
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        result = await attack(url, ca, "body", "1", "1", str(body))
        if result["max"] is not None and 200 in result["statuses"]:
            latencies.append(result["max"])
        else:
            refused += 1
        await asyncio.sleep(0.2)
    return latencies, refused


async def classic() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        async with served(root, engagements=20) as s:
            ca = root / "ca.crt"
            ca.write_bytes(s.cert.ca_pem)
            rows = []

            before = len(s.h.kube.events)
            with LoopLag() as lag:
                started = time.perf_counter()
                result = await attack(s.url, ca, "flood", "1000", "50")
                took = time.perf_counter() - started
                await settle(s.h)
            events = len(s.h.kube.events) - before
            rows.append(
                (
                    "1,000 forged Audit reviews (distinct workload names, 50 at once), 20 Audit engagements",
                    f"{events} Events (unlimited: 20,000); answered in {took:.1f} s, p50 {result['p50'] * 1000:.0f} ms",
                    f"{lag.worst * 1000:.0f} ms",
                )
            )

            big = review("shop", "huge")
            containers = [{"name": f"c{i}", "image": f"registry.example/team/app-{i}:1.{i}"} for i in range(40_000)]
            big["request"]["object"]["spec"]["template"]["spec"]["containers"] = containers
            big["request"]["oldObject"] = json.loads(json.dumps(big["request"]["object"]))
            big["request"]["operation"] = "UPDATE"
            body = root / "big.json"
            body.write_bytes(json.dumps(big).encode())
            size = body.stat().st_size / 2**20
            with LoopLag() as lag:
                one = await attack(s.url, ca, "body", "1", "1", str(body))
            rows.append(
                (
                    f"largest review: {size:.1f} MiB (UPDATE, 2 x 40,000 containers)",
                    f"answered in {one['max'] * 1000:.0f} ms",
                    f"{lag.worst * 1000:.0f} ms",
                )
            )
            with LoopLag() as lag:
                ten = await attack(s.url, ca, "body", "10", "10", str(body))
            rows.append(
                (
                    "10 of those at once",
                    f"all answered {ten['statuses']}, slowest {ten['max'] * 1000:.0f} ms",
                    f"{lag.worst * 1000:.0f} ms",
                )
            )

            with LoopLag() as lag:
                hogs = asyncio.ensure_future(attack(s.url, ca, "slowloris", "200", "200"))
                await asyncio.sleep(1)
                latencies, refused = await legit_latency(s.url, ca, 14)
                await hogs
            rows.append(
                (
                    "200 connections trickling request heads (cap 64, head timeout 10 s), ordinary reviews meanwhile",
                    f"{len(latencies)} ordinary reviews answered (slowest {max(latencies, default=0) * 1000:.0f} ms),"
                    f" {refused} refused while the cap was full (the API server then applies failurePolicy)",
                    f"{lag.worst * 1000:.0f} ms",
                )
            )

    print("\n| attack | result | event-loop stall (worst) |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


# ------------------------------------------------------------------------------ issue 37's attacks


def _rss_mib(pid: int | None = None) -> float:
    try:
        with open(f"/proc/{pid or 'self'}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Operator:
    """The operator's parts in this process, wired as runtime/app.py wires them, over an in-memory API."""

    def __init__(self, root: Path) -> None:
        from eligibility_operator.runtime.controllers.routes import Routes
        from eligibility_operator.runtime.metrics import OperatorMetrics
        from eligibility_operator.runtime.parts import Parts
        from eligibility_operator.runtime.serving import webhook
        from eligibility_operator.runtime.state import OperatorState
        from eligibility_operator.runtime.tasks import BackgroundTasks
        from tests.fake_kube import FakeKubeApi

        self.root = root
        self.kube = FakeKubeApi()
        self.state = OperatorState()
        self.metrics = OperatorMetrics()
        self.tasks = BackgroundTasks(lambda op: self.metrics.errors.labels(op).inc())
        self.parts = Parts(self.state, self.kube, self.metrics, self.tasks)
        self.routes = Routes(self.parts)
        self.handler = webhook.AdmissionHandler(self.parts, frozenset({"kube-system"}))
        self.cert = webhook.self_signed(root / "serving", ["127.0.0.1"])
        self.ca = root / "ca.crt"
        self.ca.write_bytes(self.cert.ca_pem)
        self.webhook_port, self.http_port = _free_port(), _free_port()
        self.peak_rss = 0.0
        self.probe_eol = False  # the probe engagement's workload runs an end-of-life version

    async def start(self) -> None:
        from eligibility_operator.runtime.metrics import build_registry
        from eligibility_operator.runtime.serving import http, webhook
        from tests.unit.test_webhook_hostile import _until_listening

        self.state.ready.set()
        self.tasks.start(self.routes.engagements.run(), name="reconciler", forever=True)
        self.tasks.start(self.routes.matrices.run(), name="matrix-status", forever=True)
        self.tasks.start(self.routes.requests.run(), name="request-triager", forever=True)
        self.tasks.start(webhook.serve(self.handler, "127.0.0.1", self.webhook_port, self.cert), name="webhook")
        app = http.make_app(self.state, build_registry(self.metrics, self.state), self.tasks.stopped)
        self.tasks.start(http.serve(app, "127.0.0.1", self.http_port), name="http")
        self.tasks.start(self._sample_rss(), name="rss")
        await _until_listening(self.webhook_port)
        await _until_listening(self.http_port)

    async def _sample_rss(self) -> None:
        while True:
            parser = self.handler._parser.pid()
            self.peak_rss = max(self.peak_rss, _rss_mib() + (_rss_mib(parser) if parser else 0.0))
            await asyncio.sleep(0.1)

    async def idle(self) -> None:
        while not self.routes.idle:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)

    def writes(self, name: str) -> int:
        return sum(1 for w in self.kube.status_writes if w.name == name)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _client(script: str, *args: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, *args, stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    lines = out.decode().strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


async def _probe_latency(op: Operator, seconds: float) -> list[float]:
    """Change the unrelated engagement's workload every second; how long until its status is written."""
    from tests.builders import workload

    latencies: list[float] = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        before = op.writes("probe")
        op.probe_eol = not op.probe_eol
        image = "stakater/reloader:v1.1.0" if op.probe_eol else "stakater/reloader:v1.4.21"
        started = time.perf_counter()
        seen_workload(op.routes, "Deployment", workload("quiet", "probe-app", image))
        while op.writes("probe") == before and time.monotonic() < stop + 10:
            await asyncio.sleep(0.005)
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - started)))
    return latencies


async def measured(op: Operator, what: str, seconds: float, attack: Any) -> tuple[str, ...]:
    """Run ``attack`` (a coroutine) with the reviewer, the prober and the probe engagement; one table row."""
    body = op.root / "legit.json"
    url = f"https://127.0.0.1:{op.webhook_port}/validate-workloads"
    op.peak_rss = 0.0
    cpu = time.process_time()
    with LoopLag() as lag:
        reviewer = asyncio.ensure_future(_client(REVIEWER, url, str(op.ca), str(seconds), str(body)))
        prober = asyncio.ensure_future(_client(PROBER, f"http://127.0.0.1:{op.http_port}/healthz", str(seconds)))
        probe = asyncio.ensure_future(_probe_latency(op, seconds))
        detail = await attack
        reviews, health, latencies = await asyncio.gather(reviewer, prober, probe)
    cpu = time.process_time() - cpu
    reasons = ", ".join(f"{n} {why}" for why, n in reviews.get("reasons", {}).items())
    return (
        what,
        f"{reviews.get('unjudged')} of {reviews.get('judged', 0) + reviews.get('unjudged', 0)}"
        + (f" ({reasons})" if reasons else ""),
        f"{op.peak_rss:.0f} MiB",
        f"{health.get('worst_gap', 0):.2f} s" + (f", {health['failures']} failed" if health.get("failures") else ""),
        f"{lag.worst_cpu * 1000:.0f} ms CPU ({lag.worst * 1000:.0f} ms wall)",
        f"max {max(latencies, default=0):.2f} s" if latencies else "-",
        f"{detail}; operator CPU {cpu:.1f} s in {seconds:.0f} s" if detail else f"operator CPU {cpu:.1f} s",
    )


async def _attacker(op: Operator, mode: str, count: int, seconds: float) -> str:
    result = await _client(CLIENTS, "127.0.0.1", str(op.webhook_port), str(op.ca), mode, str(count), str(seconds))
    return f"attacker opened {result.get('opened')} connections, {result.get('cut')} closed by the webhook"


async def _requests_churn(op: Operator, seconds: float) -> str:
    from tests.builders import engagement, workload
    from tests.unit.test_request_triager import meta, request

    for i in range(2000):  # as watch events deliver them: a few per loop iteration
        op.kube.add("supportrequests", "shop", f"r-{i}")
        op.routes.request_seen(meta(request("shop", f"r-{i}", workloads=[f"shop/Deployment/app-{i}"])))
        if i % 20 == 0:
            await asyncio.sleep(0)
    started = time.perf_counter()
    await op.idle()
    first = time.perf_counter() - started
    stop = time.monotonic() + seconds - 2
    changes = 0
    while time.monotonic() < stop:  # 10 workload changes a second, each named by one request
        i = changes % 2000
        image = f"stakater/reloader:v1.4.{changes % 20}"
        seen_workload(op.routes, "Deployment", workload("shop", f"app-{i}", image))
        changes += 1
        if changes == 20:  # and once, the engagement itself: every request is triaged again
            op.routes.engagement_seen(
                meta(engagement("platform", "enforcer", covers=["shop"], enforcement={"mode": "Enforce"}), 2)
            )
        await asyncio.sleep(0.1)
    await op.idle()
    return f"2,000 requests triaged in {first:.1f} s; {changes} workload changes, one engagement change"


async def _overlap_churn(op: Operator, seconds: float) -> str:
    from tests.builders import engagement, workload
    from tests.unit.test_reconciler import with_meta

    for n in range(50):
        for j in range(100):
            seen_workload(op.routes, "Deployment", workload(f"team-{n}", f"w{j}", f"stakater/reloader:v1.4.{j % 20}"))
    for e in range(100):
        op.kube.add("supportengagements", "platform", f"overlap-{e}")
        op.routes.engagement_seen(with_meta(engagement("platform", f"overlap-{e}", coverage={})))
        await asyncio.sleep(0)
    started = time.perf_counter()
    await op.idle()
    first = time.perf_counter() - started
    stop = time.monotonic() + seconds - 2
    changes = 0
    while time.monotonic() < stop:  # 5 changes a second, in namespaces all 100 engagements cover
        n, j = changes % 50, changes % 100
        image = f"stakater/reloader:v1.{1 if changes % 2 else 4}.{changes % 20}"
        seen_workload(op.routes, "Deployment", workload(f"team-{n}", f"w{j}", image))
        changes += 1
        await asyncio.sleep(0.2)
    await op.idle()
    audit = len(op.kube.events)
    return f"first evaluation of 100 x 5,000 in {first:.1f} s; {changes} changes; {audit} Events in all"


async def _long_strings(op: Operator, seconds: float) -> str:
    from eligibility_operator.api import crdgen
    from tests.builders import engagement
    from tests.unit.test_reconciler import with_meta
    from tests.unit.test_status_clipping import KINDS, _status_schema, _too_long

    body = with_meta(
        engagement(
            "longs",
            "longs",
            customer="C" * 253,
            agreement={"orderForm": "O" * 1024, "masterAgreement": "M" * 1024},
            serviceCredits={"definedInAgreement": True, "reference": "R" * 1024},
        )
    )
    op.kube.add("supportengagements", "longs", "longs")
    started = time.perf_counter()
    op.routes.engagement_seen(body)
    while not op.writes("longs"):
        await asyncio.sleep(0.01)
    took = time.perf_counter() - started
    wire = next(w.status for w in op.kube.status_writes if w.name == "longs")
    filename = next(f for f in crdgen.CRD_FILES if KINDS["SupportEngagement"][1] in f)
    over = list(_too_long(wire, _status_schema(filename), "status"))
    await asyncio.sleep(max(0.0, seconds - took))
    return f"status in {took * 1000:.0f} ms, {len(json.dumps(wire))} bytes, strings over their limit: {len(over)}"


ATTACKS: dict[str, tuple[str, Any]] = {
    "baseline": ("no attack", lambda op, s: asyncio.sleep(s)),
    "slowbody8": ("8 TLS connections sending bodies at 1 byte/s", lambda op, s: _attacker(op, "slowbody", 8, s)),
    "slowbody64": ("64 TLS connections sending bodies at 1 byte/s", lambda op, s: _attacker(op, "slowbody", 64, s)),
    "tcp3000": ("3,000 TCP connections that never start TLS", lambda op, s: _attacker(op, "tcp", 3000, s)),
    "requests": ("2,000 SupportRequests in a covered namespace, churn", _requests_churn),
    "overlap": ("100 overlapping engagements x 5,000 workloads, churn", _overlap_churn),
    "longstrings": ("an engagement with every quoted spec string at its maximum", _long_strings),
}


async def issue37(names: list[str], seconds: float = 12.0) -> None:
    from tests.builders import engagement, matrix, workload
    from tests.unit.test_reconciler import with_meta

    with tempfile.TemporaryDirectory() as tmp:
        op = Operator(Path(tmp))
        op.kube.add("compatibilitymatrices", "", "default")
        op.routes.matrix_seen(with_meta(matrix("default")))
        op.kube.add("supportengagements", "platform", "enforcer")
        op.routes.engagement_seen(
            with_meta(engagement("platform", "enforcer", covers=["shop"], enforcement={"mode": "Enforce"}))
        )
        op.kube.add("supportengagements", "quiet", "probe")
        op.routes.engagement_seen(with_meta(engagement("quiet", "probe")))
        seen_workload(op.routes, "Deployment", workload("quiet", "probe-app", "stakater/reloader:v1.4.21"))
        (op.root / "legit.json").write_text(json.dumps(review("shop", "legit", "stakater/reloader:v1.1.0")))
        await op.start()
        await op.idle()
        rows = []
        for name in names:
            what, attack = ATTACKS[name]
            rows.append(await measured(op, what, seconds, attack(op, seconds)))
            await op.idle()
        await op.tasks.close()
    print(
        "\n| attack | legitimate Enforce reviews allowed unjudged | peak RSS | longest /healthz gap "
        "| longest loop stall | unrelated engagement's status latency | detail |\n|---|---|---|---|---|---|---|"
    )
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    names = sys.argv[1:] or [*ATTACKS, "classic"]
    new = [n for n in names if n != "classic"]
    if new:
        asyncio.run(issue37(new))
    if "classic" in names:
        asyncio.run(classic())


if __name__ == "__main__":
    main()

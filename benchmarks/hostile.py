"""Hostile-input figures for the README: the webhook attacked from another process, on loopback.

    .venv/bin/python -m benchmarks.hostile

The webhook runs as in the operator (real TLS, the reconciler's state, 20 engagements in Audit mode
over an in-memory API that records Events); the attacker is a separate process, so that the event-loop
stall measured in the webhook's process is the webhook's own. Printed, never asserted.
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

from tests.unit.test_reconciler import settle
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


async def main() -> None:
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


if __name__ == "__main__":
    asyncio.run(main())

"""Client processes for ``benchmarks.hostile``: attackers, a legitimate reviewer and a ``/healthz`` prober.

Each runs as ``python -c SCRIPT args`` in a process of its own, so that what is measured in the
operator's process is the operator's own work, and prints one JSON line at the end.
"""

from __future__ import annotations

# A legitimate Enforce review every 0.25 s (a new connection each, a 5 s timeout: the API server's), of an
# end-of-life version that a judging webhook refuses. Anything else is "allowed unjudged" under
# failurePolicy Ignore: a 503, a 408, a warning "not judged", a connection error, a timeout.
REVIEWER = r"""
import asyncio, json, ssl, sys, time, uuid
import aiohttp

url, ca, seconds, body_file = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
context = ssl.create_default_context(cafile=ca)
template = json.load(open(body_file))

async def main():
    judged = unjudged = 0
    reasons, latencies = {}, []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        template["request"]["uid"] = str(uuid.uuid4())
        started = time.perf_counter()
        why = None
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
                async with s.post(url, data=json.dumps(template).encode(), ssl=context) as r:
                    text = await r.text()
                    if r.status != 200:
                        why = f"HTTP {r.status}"
                    else:
                        answer = json.loads(text)["response"]
                        if answer["allowed"]:
                            why = "allowed: " + "; ".join(answer.get("warnings") or [])[:60]
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            why = type(exc).__name__
        latencies.append(time.perf_counter() - started)
        if why is None:
            judged += 1
        else:
            unjudged += 1
            reasons[why] = reasons.get(why, 0) + 1
        await asyncio.sleep(0.25)
    latencies.sort()
    print(json.dumps({"judged": judged, "unjudged": unjudged, "reasons": reasons,
                      "slowest": latencies[-1] if latencies else None}))

asyncio.run(main())
"""

# GET /healthz every 50 ms; the longest time between two answers (a kubelet probe's view of a stall).
PROBER = r"""
import json, sys, time, urllib.request

url, seconds = sys.argv[1], float(sys.argv[2])
stop = time.monotonic() + seconds
last = time.monotonic()
worst = failures = 0
while time.monotonic() < stop:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            r.read()
        now = time.monotonic()
        worst = max(worst, now - last)
        last = now
    except OSError:
        failures += 1
    time.sleep(0.05)
print(json.dumps({"worst_gap": worst, "failures": failures}))
"""

# slowbody N SECONDS: N TLS connections, each a complete request head announcing 100,000 bytes, then one
# body byte per second (reconnecting when cut off). tcp N SECONDS: N TCP connections that never start TLS
# (reopened when closed, at most N at once).
ATTACKER = r"""
import asyncio, json, resource, ssl, sys, time

host, port, ca, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
count, seconds = int(sys.argv[5]), float(sys.argv[6])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 256)), hard))
context = ssl.create_default_context(cafile=ca)
stop = time.monotonic() + seconds
opened = cut = 0

async def slow_body():
    global opened, cut
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection(host, port, ssl=context)
            opened += 1
            writer.write(b"POST /validate-workloads HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            while time.monotonic() < stop:
                writer.write(b" ")
                await writer.drain()
                try:  # wait a second for the next byte; an answer (408) or a close ends this connection
                    await asyncio.wait_for(reader.read(1024), 1.0)
                    break
                except asyncio.TimeoutError:
                    pass
            writer.close()
        except (OSError, ssl.SSLError):
            pass
        cut += 1
        await asyncio.sleep(0.1)

async def raw_tcp():
    global opened, cut
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection(host, port)
            opened += 1
            try:
                await asyncio.wait_for(reader.read(1), stop - time.monotonic())
            except asyncio.TimeoutError:
                pass
            writer.close()
        except OSError:
            await asyncio.sleep(0.05)
        cut += 1

async def main():
    task = slow_body if mode == "slowbody" else raw_tcp
    await asyncio.gather(*(task() for _ in range(count)))
    print(json.dumps({"opened": opened, "cut": cut}))

asyncio.run(main())
"""

"""The workload watches against a small HTTP API server on loopback: paged LIST, WATCH with
bookmarks, resume, 410 Gone (relist forgets what is gone), a silent watch reopened."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

from aiohttp import web

from eligibility_operator.core.products.workloads import WorkloadFacts
from eligibility_operator.runtime.config import WatchConfig
from eligibility_operator.runtime.kube.connection import ApiSession, Connection
from eligibility_operator.runtime.watches import WorkloadWatches
from tests.builders import workload


class Sink:
    def __init__(self) -> None:
        self.facts: dict[tuple[str, str], WorkloadFacts | None] = {}
        self.gone: list[tuple[str, str, str]] = []

    def workload_seen(self, namespace: str, kind: str, name: str, facts: WorkloadFacts | None) -> None:
        self.facts[(namespace, name)] = facts

    def workload_gone(self, namespace: str, kind: str, name: str) -> None:
        self.facts.pop((namespace, name), None)
        self.gone.append((namespace, kind, name))


class Server:
    """Deployments only (other resources: 404). ``events``: lines the next watch sends, then it ends
    (``None``: stays silent)."""

    def __init__(self) -> None:
        self.objects = {f"d{i}": workload("ns", f"d{i}", "stakater/reloader:v1.4.21") for i in range(5)}
        self.watches: list[dict[str, str]] = []
        self.lists: list[dict[str, str]] = []
        self.script: list[list[dict[str, Any]] | None] = []

    async def deployments(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch"):
            self.watches.append(dict(request.query))
            events = self.script.pop(0) if self.script else None
            response = web.StreamResponse()
            await response.prepare(request)
            if events is None:
                await asyncio.sleep(2)
            for event in events or ():
                await response.write(json.dumps(event).encode() + b"\n")
            return response
        self.lists.append(dict(request.query))
        names = sorted(self.objects)
        start = int(request.query.get("continue") or 0)
        limit = int(request.query["limit"])
        chunk = names[start : start + limit]
        more = str(start + limit) if start + limit < len(names) else ""
        items = [self.objects[n] for n in chunk]
        return web.json_response({"metadata": {"resourceVersion": "10", "continue": more}, "items": items})


async def _run(check: Any) -> None:
    server = Server()
    app = web.Application()
    app.router.add_get("/apis/apps/v1/deployments", server.deployments)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sink = Sink()
    connection = Connection(f"http://127.0.0.1:{port}", ssl.create_default_context(), {})
    resources = (
        ("apps", "v1", "deployments", "Deployment"),
        ("argoproj.io", "v1alpha1", "applications", "Application"),
    )
    api = ApiSession(lambda: connection)
    watches = WorkloadWatches(api, resources, sink, options=WatchConfig(inactivity_timeout=0.5, page_size=2))
    task = asyncio.create_task(watches.run())
    try:
        await check(server, sink, watches)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await api.close()
        await runner.cleanup()


async def _until(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def test_list_watch_resume_gone_and_silence() -> None:
    async def check(server: Server, sink: Sink, watches: WorkloadWatches) -> None:
        changed = workload("ns", "d1", "stakater/reloader:v1.2.0")
        changed["metadata"]["resourceVersion"] = "11"
        server.objects["d1"] = changed
        server.script = [
            [
                {"type": "MODIFIED", "object": changed},
                {
                    "type": "DELETED",
                    "object": {
                        **server.objects["d2"],
                        "metadata": {"name": "d2", "namespace": "ns", "resourceVersion": "12"},
                    },
                },
                {"type": "BOOKMARK", "object": {"kind": "Deployment", "metadata": {"resourceVersion": "15"}}},
            ],
            None,  # silent: reopened after the inactivity timeout, from the bookmark's version
        ]
        await _until(watches.listed)
        assert len(server.lists) == 3 and server.lists[0] == {"limit": "2"}  # five objects in pages of two
        await _until(lambda: len(server.watches) >= 3)
        assert server.watches[0]["resourceVersion"] == "10" and server.watches[0]["allowWatchBookmarks"] == "true"
        assert server.watches[1]["resourceVersion"] == "15"  # resumed after the end of the first watch
        assert server.watches[2]["resourceVersion"] == "15"  # reopened after the silence
        # 410: listed again; d4, deleted meanwhile without an event, is forgotten
        del server.objects["d4"]
        server.objects.pop("d2")
        server.script.append([{"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}])
        await _until(lambda: ("ns", "Deployment", "d4") in sink.gone)
        assert sink.gone[0] == ("ns", "Deployment", "d2")
        assert set(sink.facts) == {("ns", "d0"), ("ns", "d1"), ("ns", "d3")}
        facts = sink.facts[("ns", "d1")]
        assert facts is not None and facts.images == ("stakater/reloader:v1.2.0",)

    asyncio.run(_run(check))

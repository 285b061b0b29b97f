"""``/metrics``, ``/healthz`` and ``/readyz`` on one port, in the operator's event loop.

Serving from the event loop (aiohttp, which Kopf already uses) means a scrape
reads the operator's state without locks, and a stuck loop fails the
liveness probe as it should. ``/healthz`` also fails when one of the operator's
background tasks (reconciler, resync, platform, sweep, priming, webhook) died.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ..state import OperatorState
from . import limits as serving


def make_app(state: OperatorState, registry: CollectorRegistry, stopped: Callable[[], list[str]]) -> web.Application:
    """``stopped`` names the background tasks that ended or failed (see ``BackgroundTasks.stopped``)."""

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        failed = stopped()
        if failed:
            return web.Response(status=500, text=f"stopped: {', '.join(failed)}\n")
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        if not state.is_ready():
            return web.Response(status=503, text="initial listing not finished\n")
        if state.webhook_listening is not None and not state.webhook_listening.is_set():
            return web.Response(status=503, text="admission webhook not listening yet\n")
        return web.Response(text="ok\n")

    app = web.Application()
    app.add_routes([web.get("/metrics", metrics), web.get("/healthz", healthz), web.get("/readyz", readyz)])
    return app


# GET-only endpoints for Prometheus and the kubelet: no bodies, few clients, quick heads.
LIMITS = serving.Limits(max_connections=32, header_timeout=10.0, body_timeout=5.0, max_body_bytes=1024)


async def serve(app: web.Application, host: str, port: int, limits: serving.Limits = LIMITS) -> None:
    """Serve until cancelled, with a connection cap and a request-head timeout (``serving``)."""
    runner = serving.runner(app, limits)
    await runner.setup()
    listener = await serving.start(runner, host, port, limits)
    try:
        await asyncio.Event().wait()
    finally:
        await serving.stop(listener, runner)

"""aiohttp servers with the limits a port reachable by untrusted clients needs.

The webhook and ``/metrics`` share the operator's event loop with the reconciler, so a client that
opens connections and never finishes a request must not hold resources for long:

- at most ``max_connections`` established connections; at the cap, a new connection evicts the
  connection that has been idle (no request in progress) the longest, so clients that open connections
  and never finish a request cannot lock out one that sends requests (the API server); if every
  connection is busy with a request, the new one is closed at once;
- a TLS handshake must finish within ``handshake_timeout``;
- a request head must arrive within ``header_timeout`` of the connection (or of the previous
  response): aiohttp's keep-alive timeout also runs while a request head is incomplete;
- handlers read bodies within ``body_timeout`` (:func:`read_body`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

log = logging.getLogger("eligibility_operator")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Limits:
    max_connections: int = 64
    handshake_timeout: float = 5.0
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_body_bytes: int = 1024 * 1024


class BodyError(Exception):
    """A body that could not be read: too large, too slow, or the client went away."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


async def read_body(request: web.Request, limits: Limits) -> bytes:
    """The request body, read within the limits; :class:`BodyError` otherwise (one log line, no traceback)."""
    if (request.content_length or 0) > limits.max_body_bytes:
        raise BodyError(413, f"request body over {limits.max_body_bytes} bytes\n")
    try:
        async with asyncio.timeout(limits.body_timeout):
            return await request.read()
    except TimeoutError:
        raise BodyError(408, f"request body not received within {limits.body_timeout:g} s\n") from None
    except web.HTTPRequestEntityTooLarge:  # chunked bodies have no Content-Length to check first
        raise BodyError(413, f"request body over {limits.max_body_bytes} bytes\n") from None
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        raise BodyError(400, f"client went away while sending the body ({type(exc).__name__})\n") from None


class _Idle:
    """Connections not handling a request, with the time they became idle (accepted, or answered)."""

    def __init__(self) -> None:
        self.since: dict[Any, float] = {}

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.since.pop(request.protocol, None)
        try:
            return await handler(request)
        finally:
            self.since[request.protocol] = asyncio.get_running_loop().time()


_IDLE = web.AppKey("eligibility_operator.runtime.serving.limits.idle", _Idle)


def runner(app: web.Application, limits: Limits) -> web.AppRunner:
    idle = _Idle()
    app[_IDLE] = idle
    app.middlewares.append(idle.middleware)
    return web.AppRunner(app, access_log=None, keepalive_timeout=limits.header_timeout)


class _Refuse(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


async def start(
    app_runner: web.AppRunner,
    host: str,
    port: int,
    limits: Limits,
    ssl_context: ssl.SSLContext | None = None,
    on_refused: Callable[[], None] | None = None,
) -> asyncio.AbstractServer:
    """Listen on ``host:port`` for the (set up) ``app_runner``; the caller closes the returned server."""
    server = app_runner.server
    assert server is not None, "AppRunner.setup() first"
    idle = app_runner.app[_IDLE]
    loop = asyncio.get_running_loop()

    def factory() -> asyncio.BaseProtocol:
        now = loop.time()
        live = set(server.connections)
        for proto in [p for p, t in idle.since.items() if p not in live and now - t > limits.handshake_timeout + 1]:
            del idle.since[proto]  # gone, or never past the TLS handshake
        if len(live) >= limits.max_connections:
            if on_refused is not None:
                on_refused()
            waiting = [(t, id(p), p) for p, t in idle.since.items() if p in live]
            if not waiting:
                return _Refuse()
            _, _, oldest = min(waiting)
            del idle.since[oldest]
            oldest.force_close()
        proto = server()
        idle.since[proto] = now
        return proto

    if ssl_context is None:
        return await loop.create_server(factory, host, port, reuse_address=True)
    return await loop.create_server(
        factory, host, port, reuse_address=True, ssl=ssl_context, ssl_handshake_timeout=limits.handshake_timeout
    )


async def stop(listener: asyncio.AbstractServer, app_runner: web.AppRunner) -> None:
    listener.close()
    await app_runner.cleanup()

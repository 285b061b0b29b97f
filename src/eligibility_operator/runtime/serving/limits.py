"""aiohttp servers with the limits a port reachable by untrusted clients needs.

The webhook and ``/metrics`` share the operator's event loop with the reconciler, so a client that
opens connections and never finishes a request must hold little, and not for long. Every connection
is counted from the moment it is *accepted* (:class:`Connections`), a pending TLS handshake included:
asyncio allocates a 256 KiB buffer for each TLS connection when the handshake starts, and 6,000 TCP
connections that never sent a ClientHello took an operator that counted only finished handshakes to
1.8 GB. Here:

- at most ``max_connections`` connections, pending handshakes included. At the cap a new connection
  is never refused: the one that has been waiting for its client longest (handshaking, idle, or
  reading a request head or body) is closed to make room. A connection whose request was read
  completely and is being answered is never evicted;
- sockets are accepted by :class:`Connections` itself; TLS starts only when the client's first bytes
  arrive (a connection that never sends anything holds a socket, never TLS state, and is closed first
  at the cap); the first bytes must come within ``handshake_timeout`` of the accept, and the handshake
  must then finish within ``handshake_timeout``;
- a request head must arrive within ``header_timeout`` of the connection (or of the previous
  response): aiohttp's keep-alive timeout also runs while a request head is incomplete;
- a handler reads its body within ``body_timeout``, or by a deadline counted from the request's first
  byte (:func:`read_body`, :func:`request_started`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .quiet import http_logger

log = logging.getLogger("eligibility_operator")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Limits:
    max_connections: int = 64
    handshake_timeout: float = 5.0
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_body_bytes: int = 1024 * 1024
    # bodies of all connections together (Content-Length, or max_body_bytes when chunked); 0: no budget
    max_body_total: int = 0


class BodyError(Exception):
    """A body that could not be read: too large, too slow, or the client went away."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


async def read_body(request: web.Request, limits: Limits, deadline: float | None = None) -> bytes:
    """The request body, read within ``limits.body_timeout`` and by ``deadline`` (loop time) if given;
    :class:`BodyError` otherwise (the caller logs one line, no traceback). With ``max_body_total``, the
    body's size is reserved first (:meth:`Connections.reserve`) until the response is sent."""
    if (request.content_length or 0) > limits.max_body_bytes:
        raise BodyError(413, f"request body over {limits.max_body_bytes} bytes\n")
    loop = asyncio.get_running_loop()
    until = loop.time() + limits.body_timeout
    if deadline is not None:
        until = min(until, deadline)
    table = request.app.get(_CONNECTIONS)
    conn = table.of(request) if table is not None else None
    try:
        async with asyncio.timeout_at(until):
            if table is not None and conn is not None and limits.max_body_total:
                await table.reserve(conn, request.content_length or limits.max_body_bytes)
            return await request.read()
    except TimeoutError:
        raise BodyError(408, "request not received in time\n") from None
    except web.HTTPRequestEntityTooLarge:  # chunked bodies have no Content-Length to check first
        raise BodyError(413, f"request body over {limits.max_body_bytes} bytes\n") from None
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        raise BodyError(400, f"client went away while sending the body ({type(exc).__name__})\n") from None


class Phase(enum.Enum):
    SILENT = "silent"  # accepted, not a byte received yet: no transport, no TLS state (evicted first)
    HANDSHAKE = "handshake"  # the first bytes came: TLS handshake in progress (asyncio's 256 KiB buffer)
    WAITING = "waiting"  # idle, or reading a request head or body: the client's turn
    ANSWERING = "answering"  # the request was read completely: the server's turn (never evicted)


class Connection(asyncio.Protocol):
    """One accepted connection, between the socket (or TLS) transport and aiohttp's protocol.

    It records since when the connection has been waiting for its client (:attr:`since`): the accept,
    the end of the previous response, or the first byte of the current request."""

    def __init__(self, table: Connections, sock: socket.socket) -> None:
        self.table = table
        self.sock = sock
        self.phase = Phase.SILENT
        self.since = table.loop.time()
        self.raw: asyncio.Transport | None = None  # the transport: closing it frees everything
        self.inner: Any = None  # aiohttp's RequestHandler, once TLS is up
        self._idle = True  # no byte of a request received since the last response
        self.answers = 0  # responses sent on this connection

    # ---------------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Called once the TLS handshake is done (at once without TLS)."""
        assert isinstance(transport, asyncio.Transport)
        self.raw = transport
        if self not in self.table.live:  # evicted while the handshake finished
            transport.abort()
            return
        self.phase, self.since = Phase.WAITING, self.table.loop.time()
        self.inner = self.table.make_handler()
        self.table.by_handler[self.inner] = self
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            return
        if self._idle and self.phase is Phase.WAITING:
            self._idle, self.since = False, self.table.loop.time()  # a request starts
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.table.gone(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    # ------------------------------------------------------------------------- phases

    def answering(self) -> None:
        """The request was read completely: the server's turn, not evictable."""
        self.phase = Phase.ANSWERING

    def answered(self) -> None:
        """The response went out: waiting for the client again (keep-alive)."""
        self.phase, self.since, self._idle = Phase.WAITING, self.table.loop.time(), True
        self.answers += 1

    @property
    def kept_alive(self) -> bool:
        """Idle after at least one answer: a client's pooled connection, between two requests."""
        return self.phase is Phase.WAITING and self._idle and self.answers > 0

    def close(self) -> None:
        if self.raw is not None:
            self.raw.abort()
        elif self.phase is Phase.SILENT:
            self.table.loop.remove_reader(self.sock.fileno())
            self.sock.close()
        else:  # in the handshake: the transport sees the end and closes the socket itself
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)


def _has_bytes(sock: socket.socket) -> bool:
    """Whether the client has sent something (or closed), without reading it."""
    try:
        sock.recv(1, socket.MSG_PEEK)  # b"" (closed) counts too: the transport will see the end
        return True
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True  # reset: let the transport find out and clean up


class Listener:
    """A listening socket whose connections :class:`Connections` accepts itself (see :func:`start`)."""

    def __init__(self, sock: socket.socket, table: Connections) -> None:
        self.sockets = [sock]
        self.table = table
        table.loop.add_reader(sock.fileno(), table.accept, sock)

    def close(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(ValueError, OSError):
                self.table.loop.remove_reader(sock.fileno())
            sock.close()
        self.sockets = []


class Connections:
    """Every accepted connection of one listener, capped at accept (see the module docstring).

    Sockets are accepted here, not by ``loop.create_server``: a connection is counted from its accept, and
    its TLS state is created only once its first bytes arrive (``loop.connect_accepted_socket``), so a
    connection that never sends anything costs a socket, and is the first to go at the cap."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.make_handler: Callable[[], Any] = lambda: None  # set by start()
        self.ssl_context: ssl.SSLContext | None = None
        self.on_evicted: Callable[[], None] | None = None
        self.live: set[Connection] = set()
        self.by_handler: dict[Any, Connection] = {}
        self.evicted = 0
        self.reserved: dict[Connection, int] = {}  # body bytes reserved, until the response is sent
        self._released = asyncio.Event()
        self.handshakes_failed = 0
        self._handshakes: set[asyncio.Task[None]] = set()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def accept(self, listening: socket.socket) -> None:
        for _ in range(16):  # a bounded batch per wake-up (each may evict): the loop polls in between
            try:
                sock, _ = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors, aborted before accept: try again later
                log.debug("accept failed: %s", exc)
                return
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(self, sock)
            self.accepted(conn)
            if _has_bytes(sock):  # a real client sends its ClientHello at once: it is not silent
                self._first_bytes(conn, reading=False)
            else:
                self.loop.add_reader(sock.fileno(), self._first_bytes, conn)
                self.loop.call_later(self.limits.handshake_timeout, self._silent_too_long, conn)

    def _silent_too_long(self, conn: Connection) -> None:
        """Nothing received within ``handshake_timeout`` of the accept: close it."""
        if conn.phase is Phase.SILENT and conn in self.live:
            self.gone(conn)
            conn.close()

    def accepted(self, conn: Connection) -> None:
        while len(self.live) >= self.limits.max_connections:
            waiting = [c for c in self.live if c.phase is not Phase.ANSWERING]
            if not waiting:
                break  # every connection is being answered: over the cap briefly, never a refusal
            oldest = min(waiting, key=lambda c: (c.phase is not Phase.SILENT, c.since))
            if oldest.phase is Phase.SILENT and _has_bytes(oldest.sock):
                self._first_bytes(oldest)  # its bytes arrived since: not silent after all
                continue
            self._evict(oldest)
        self.live.add(conn)

    def gone(self, conn: Connection) -> None:
        self.live.discard(conn)
        self.release(conn)
        if conn.inner is not None:
            self.by_handler.pop(conn.inner, None)

    def _evict(self, conn: Connection) -> None:
        self.gone(conn)
        conn.close()
        self.evicted += 1
        if self.on_evicted is not None:
            self.on_evicted()

    async def reserve(self, conn: Connection, size: int) -> None:
        """Reserve ``size`` bytes of the body budget for ``conn``'s body. When they do not fit, the bodies
        that have been arriving longest are evicted; when only bodies being answered hold the budget,
        wait for one to be released (the caller's deadline applies)."""
        budget = self.limits.max_body_total
        while sum(self.reserved.values()) + size > budget:
            reading = [c for c in self.reserved if c is not conn and c.phase is Phase.WAITING]
            if reading:
                self._evict(min(reading, key=lambda c: c.since))
                continue
            self._released.clear()
            await self._released.wait()
        self.reserved[conn] = size

    def release(self, conn: Connection) -> None:
        if self.reserved.pop(conn, None) is not None:
            self._released.set()

    def _first_bytes(self, conn: Connection, reading: bool = True) -> None:
        """The connection's first bytes are waiting in the kernel: start TLS (or HTTP) on it now."""
        if reading:
            self.loop.remove_reader(conn.sock.fileno())
        conn.phase = Phase.HANDSHAKE
        task = self.loop.create_task(self._connect(conn))
        self._handshakes.add(task)
        task.add_done_callback(self._handshakes.discard)

    async def _connect(self, conn: Connection) -> None:
        try:
            await self.loop.connect_accepted_socket(
                lambda: conn,
                conn.sock,
                ssl=self.ssl_context,
                ssl_handshake_timeout=self.limits.handshake_timeout if self.ssl_context else None,
            )
        except (OSError, ConnectionError, TimeoutError, ssl.SSLError, RuntimeError) as exc:
            # too slow, not TLS, no client certificate, evicted: one debug line, never a traceback
            self.handshakes_failed += 1
            log.debug("TLS handshake failed: %s", type(exc).__name__)
            self.gone(conn)
            with contextlib.suppress(OSError):
                conn.sock.close()

    def of(self, request: web.Request) -> Connection | None:
        return self.by_handler.get(request.protocol)

    def close_kept_alive(self, min_idle: float = 1.0) -> int:
        """Close the connections idle between two requests (how many). A draining replica does this at once:
        a client notices a pooled connection closed while idle and opens a new one (through the Service, to
        a ready replica); closed later, at exit, it races the client's next request on it, which fails."""
        now = self.loop.time()
        # Idle for a moment at least: a client reuses its most recently used connection first, so closing
        # only those it has left alone for a second leaves little chance of meeting its next request.
        idle = [
            conn
            for conn in self.live
            if conn.kept_alive and now - conn.since >= min_idle and not request_arriving(conn.sock)
        ]
        for conn in idle:
            if conn.raw is not None:
                conn.raw.close()  # a FIN, after anything still being written: the client sees it as idle-closed
            else:
                conn.close()
        return len(idle)

    def close(self) -> None:
        for task in list(self._handshakes):
            task.cancel()
        for conn in list(self.live):
            conn.close()
        self.live.clear()


def request_arriving(sock: socket.socket) -> bool:
    """Bytes in the socket that the event loop has not read yet: a request already sent on a connection
    that looks idle here. Closing it would answer that request with EOF (the API server's "failed calling
    webhook ... EOF"), so a draining replica leaves it open: the request is read and answered with the
    connection's close. Peeking consumes nothing."""
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:  # closed meanwhile, or not a stream socket: nothing to protect
        return False


_CONNECTIONS = web.AppKey("eligibility_operator.runtime.serving.limits.connections", Connections)


def request_started(request: web.Request) -> float:
    """The loop time of the request's first byte (now, when unknown)."""
    table = request.app.get(_CONNECTIONS)
    conn = table.of(request) if table is not None else None
    return conn.since if conn is not None else asyncio.get_running_loop().time()


def answering(request: web.Request) -> None:
    """Mark ``request``'s connection as being answered (its body is read): not evictable."""
    table = request.app.get(_CONNECTIONS)
    conn = table.of(request) if table is not None else None
    if conn is not None:
        conn.answering()


@web.middleware
async def _phases(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    finally:
        table = request.app.get(_CONNECTIONS)
        conn = table.of(request) if table is not None else None
        if table is not None and conn is not None:
            conn.answered()
            table.release(conn)


def runner(app: web.Application, limits: Limits) -> web.AppRunner:
    app[_CONNECTIONS] = Connections(limits)
    app.middlewares.append(_phases)
    return web.AppRunner(app, access_log=None, keepalive_timeout=limits.header_timeout, logger=http_logger())


async def start(
    app_runner: web.AppRunner,
    host: str,
    port: int,
    limits: Limits,
    ssl_context: ssl.SSLContext | None = None,
    on_evicted: Callable[[], None] | None = None,
) -> Listener:
    """Listen on ``host:port`` for the (set up) ``app_runner``; the caller stops it with :func:`stop`."""
    server = app_runner.server
    assert server is not None, "AppRunner.setup() first"
    table = app_runner.app[_CONNECTIONS]
    table.make_handler, table.ssl_context, table.on_evicted = server, ssl_context, on_evicted
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.create_server((host, port), family=family, backlog=1024)
    sock.setblocking(False)
    return Listener(sock, table)


def connections(app_runner: web.AppRunner) -> Connections:
    """The connection table of a started runner (for metrics and tests)."""
    return app_runner.app[_CONNECTIONS]


async def stop(listener: Listener, app_runner: web.AppRunner) -> None:
    listener.close()
    table = app_runner.app.get(_CONNECTIONS)
    await app_runner.cleanup()
    if table is not None:
        table.close()

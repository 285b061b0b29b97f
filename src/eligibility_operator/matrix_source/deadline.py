"""One wall-clock deadline for a whole fetch (document and signature, every connection, redirect and read).

Socket timeouts bound each *read*, not a transfer: a source sending one byte every 25 s never trips a 30 s
timeout. So :func:`within` runs the blocking fetch in a worker thread and waits for it at most until the
deadline; then it shuts down every socket the fetch opened (:meth:`Deadline.track`), which wakes the worker
wherever it blocks (connect, TLS handshake, headers, body), and raises ``TimedOut``. Sockets are tracked
through a ``dup`` of their descriptor, so a shutdown never reaches a descriptor number the worker closed and
something else reused, and a socket wrapped for TLS later is still reached during its handshake.

Workers are bounded (:data:`MAX_WORKERS` in the process): a worker that does not end after the shutdown
keeps its slot, and when every slot is held a new fetch fails at once instead of piling up threads.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from .errors import Reason, SourceError

T = TypeVar("T")
MAX_WORKERS = 16
_SLOTS = threading.BoundedSemaphore(MAX_WORKERS)


class Deadline:
    """The deadline of one fetch and the sockets it opened."""

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds = seconds
        self.what = what
        self.at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._guards: list[socket.socket] = []

    def timed_out(self) -> SourceError:
        return SourceError(Reason.TIMED_OUT, f"{self.what}: the whole fetch did not finish within {self.seconds:g} s")

    @property
    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self.at

    def or_error(self, message: str, reason: Reason = Reason.SOURCE_UNREACHABLE) -> SourceError:
        """TimedOut once the deadline has passed (a socket shut by :meth:`expire` reads as a reset, a
        socket timeout near the deadline as "timed out"), else ``reason`` with ``message``."""
        return self.timed_out() if self.passed else SourceError(reason, message)

    def remaining(self) -> float:
        """Seconds left (a socket timeout for the next blocking call); TimedOut when none are."""
        left = self.at - time.monotonic()
        if left <= 0 or self.expired:
            raise self.timed_out()
        return left

    def track(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it already has)."""
        try:
            guard = sock.dup()
        except OSError:
            return
        with self._lock:
            self._guards.append(guard)
            if self.expired:
                _shutdown(guard)

    def expire(self) -> None:
        """The deadline passed: wake the worker wherever it blocks."""
        with self._lock:  # held while shutting down: release() cannot close a guard meanwhile
            self.expired = True
            for guard in self._guards:
                _shutdown(guard)

    def release(self) -> None:
        """The fetch ended: close the duplicated descriptors (never the fetch's own)."""
        with self._lock:
            for guard in self._guards:
                guard.close()
            self._guards = []

    def create_connection(
        self, address: tuple[str, int], timeout: object = None, source_address: tuple[str, int] | None = None
    ) -> socket.socket:
        """``socket.create_connection`` with the time left as its timeout, tracked (http.client's hook)."""
        sock = socket.create_connection(address, self.remaining(), source_address)
        self.track(sock)
        return sock


def _shutdown(guard: socket.socket) -> None:
    with contextlib.suppress(OSError):
        guard.shutdown(socket.SHUT_RDWR)


def within(seconds: float, what: str, work: Callable[[Deadline], T]) -> T:
    """``work(deadline)`` in a worker thread, returned or raised by ``seconds`` from now; else TimedOut."""
    deadline = Deadline(seconds, what)
    if not _SLOTS.acquire(blocking=False):
        raise SourceError(
            Reason.TIMED_OUT,
            f"{what}: not fetched, {MAX_WORKERS} earlier fetches have not ended yet after their deadline",
        )
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(work(deadline))
        except BaseException as exc:  # handed to the caller (or dropped once it has timed out)
            future.set_exception(exc)
        finally:
            deadline.release()
            _SLOTS.release()

    threading.Thread(target=run, name=f"fetch {what}"[:60], daemon=True).start()
    try:
        result = future.result(timeout=max(0.0, deadline.at - time.monotonic()))
    except TimeoutError:
        deadline.expire()
        raise deadline.timed_out() from None
    if deadline.expired:
        raise deadline.timed_out()
    return result

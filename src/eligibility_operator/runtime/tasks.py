"""One way to run background work and to retry: kept task references, backoff, cancellation on shutdown.

Every task the runtime starts goes through :class:`BackgroundTasks`, which keeps a
reference (asyncio keeps only weak ones: an unreferenced task can vanish mid-flight),
logs and counts a task's failure once, and cancels everything on :meth:`close`.
Calls to the API server that must eventually succeed go through :func:`retry`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .kube.api import describe_error

log = logging.getLogger("eligibility_operator")
T = TypeVar("T")
ErrorCounter = Callable[[str], None]  # called with the operation's name once per failure


def _ignore(_: str) -> None:
    pass


class Backoff:
    """Exponential delays: ``initial``, doubled after each failure up to ``maximum``; reset on success."""

    def __init__(self, initial: float = 1.0, maximum: float = 30.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._next = initial

    def delay(self) -> float:
        """The delay before the next attempt (and double the one after)."""
        current = self._next
        self._next = min(current * 2, self.maximum)
        return current

    def reset(self) -> None:
        self._next = self.initial


async def retry(
    call: Callable[[], Awaitable[T]],
    *,
    operation: str,
    what: str,
    count_error: ErrorCounter = _ignore,
    backoff: Backoff | None = None,
) -> T:
    """Await ``call()`` until it succeeds; each failure is counted and logged once, then waited out."""
    backoff = backoff or Backoff()
    while True:
        try:
            return await call()
        except Exception as exc:
            count_error(operation)
            delay = backoff.delay()
            log.warning("%s failed, retrying in %.0f s: %s", what, delay, describe_error(exc))
            await asyncio.sleep(delay)


class BackgroundTasks:
    """The runtime's background tasks, with references kept until they finish.

    ``start(..., forever=True)`` marks a task that must never end and ``critical=True`` one that
    must not fail: :meth:`stopped` names those that did (``/healthz`` fails then). A task that
    fails is logged with its traceback and counted once (operation ``task``).
    """

    def __init__(self, count_error: ErrorCounter = _ignore) -> None:
        self.count_error = count_error
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watched: list[tuple[asyncio.Task[Any], bool]] = []  # (task, meant to run forever)
        self._closing = False

    def start(
        self, coro: Coroutine[Any, Any, Any], *, name: str, forever: bool = False, critical: bool = False
    ) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        if forever or critical:
            self._watched.append((task, forever))
        return task

    def call_later(self, delay: float, callback: Callable[[], Any], *, name: str) -> asyncio.Task[Any]:
        """Call ``callback()`` after ``delay`` seconds; awaited if it returns a coroutine."""

        async def later() -> None:
            await asyncio.sleep(delay)
            result = callback()
            if asyncio.iscoroutine(result):
                await result

        return self.start(later(), name=name)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or self._closing:
            return
        exc = task.exception()
        if exc is not None:
            self.count_error("task")
            log.error("background task %s failed", task.get_name(), exc_info=exc)

    def stopped(self) -> list[str]:
        """Names of the tasks meant to run forever that ended, and of critical tasks that failed."""
        return [
            task.get_name()
            for task, forever in self._watched
            if task.done() and (forever or task.cancelled() or task.exception() is not None)
        ]

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        """Cancel every task and wait until all have finished."""
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

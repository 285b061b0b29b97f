"""The process that parses admission reviews, tied to the operator's life by a pipe.

Parsing megabytes of JSON holds the GIL and would stall the event loop that the reconciler,
``/healthz`` and other reviews share, so a review is parsed in a process of its own. That
process must end with the operator, SIGKILL included: outside a container nothing else ends
it. ``PR_SET_PDEATHSIG`` fires when the *thread* that forked exits, not the process, so the
child watches a pipe instead: the operator holds the only write end, the kernel closes it
however the operator ends, and the child's read then returns end-of-file.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, TypeVar

T = TypeVar("T")


class ParserProcess:
    """One worker process (spawned, not forked: the operator has threads and the parser needs none of
    its memory) that exits when this object is closed, dropped or its owner dies."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        reader, self._lifeline = context.Pipe(duplex=False)
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=context, initializer=exit_with_parent, initargs=(reader,)
        )
        # Spawn the worker now (a submit does, for spawn contexts), so that the read end it inherited can
        # be closed here: from then on only this process holds the write end.
        self._pool.submit(len, b"")
        reader.close()

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        return self._pool.submit(fn, *args)

    @property
    def executor(self) -> ProcessPoolExecutor:
        return self._pool

    def pid(self) -> int | None:
        """The worker's process id (for tests and diagnostics), once it has started."""
        processes = getattr(self._pool, "_processes", None) or {}
        return next(iter(processes), None)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._lifeline.close()


def exit_with_parent(lifeline: Connection) -> None:
    """Runs in the worker: a daemon thread waits for the pipe's end-of-file and ends the process."""

    def watch() -> None:
        try:
            while os.read(lifeline.fileno(), 4096):
                pass  # nothing is ever written; only end-of-file matters
        except OSError:
            pass
        os._exit(0)

    threading.Thread(target=watch, name="parser-lifeline", daemon=True).start()

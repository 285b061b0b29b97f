"""The one controller skeleton: a coalescing work queue and the loop that drains it, for every kind.

Both controllers (engagements in :mod:`.engagements`, SupportRequests in :mod:`.requests`) and the
CompatibilityMatrix status use it, so that they share one policy for what happens to a key:

* **done** (written, unchanged, or the object is gone): forgotten until it is marked again;
* **failed** (the API server was away or refused): tried again after an exponential backoff per key
  (``retry_seconds`` doubling to 5 minutes), never every few seconds forever;
* **not leading** (the write was fenced, :class:`~.leadership.NotLeading`): *held*, never dropped. A
  held key is processed in the next batch after this replica may write again; the leadership callback
  that announces each new term (:meth:`~.leadership.LeaderElector.on_change`) wakes the queue.

A whole batch that comes up while this replica may not write is held the same way, so a Lease that
lapses for a moment (a renewal that started before its deadline and succeeded after it) loses nothing.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, MutableMapping
from typing import Any, Generic, Protocol, TypeVar

from ..leadership import Leadership
from ..tasks import BackgroundTasks, Backoff

log = logging.getLogger("eligibility_operator")
K = TypeVar("K", bound=Hashable)


class Record(Protocol):
    """What the controllers keep of one of our objects (an engagement or a SupportRequest)."""

    uid: str
    generation: int | None
    spec: Any
    spec_error: str | None

    @property
    def key(self) -> tuple[str, str]: ...


R = TypeVar("R", bound=Record)


def merge_seen(records: MutableMapping[tuple[str, str], R], fresh: R) -> tuple[R, bool, bool]:
    """Merge a watch event's ``fresh`` record into ``records``: (the record kept, whether it is new or
    replaced — another uid —, whether its spec changed). The kept record keeps what the operator learned
    of it (what it wrote, announced, indexed)."""
    current = records.get(fresh.key)
    if current is None or current.uid != fresh.uid:
        records[fresh.key] = fresh
        return fresh, True, False
    changed = (current.generation, current.spec, current.spec_error) != (
        fresh.generation,
        fresh.spec,
        fresh.spec_error,
    )
    current.generation, current.spec, current.spec_error = fresh.generation, fresh.spec, fresh.spec_error
    return current, False, changed


class Outcome(enum.Enum):
    """What became of one key's processing."""

    DONE = "done"
    FAILED = "failed"  # retry with backoff
    NOT_LEADING = "not-leading"  # hold until this replica may write again


class WorkQueue(Generic[K]):
    """Keys waiting to be processed, coalesced: marking a key ten times before its batch starts
    processes it once. ``coalesce_seconds`` after the first mark, everything marked so far is one batch."""

    def __init__(self, tasks: BackgroundTasks, *, coalesce_seconds: float, retry_seconds: float, name: str) -> None:
        self.tasks = tasks
        self.coalesce_seconds = coalesce_seconds
        self.retry_seconds = retry_seconds
        self.name = name
        self._dirty: set[K] = set()
        self._held: set[K] = set()  # refused for lack of leadership: wait for the next term
        self._wake = asyncio.Event()
        self._backoff: dict[K, Backoff] = {}
        self.processing = 0  # keys of the batch being processed

    # ------------------------------------------------------------ marking

    def add(self, keys: Iterable[K]) -> None:
        """Process these keys in the next batch."""
        before = len(self._dirty)
        self._dirty.update(keys)
        if len(self._dirty) != before:
            self._wake.set()

    def wake(self) -> None:
        """Start a batch now with whatever is marked or held (a new leadership term)."""
        self._wake.set()

    def hold(self, keys: Iterable[K]) -> None:
        """Keep these keys for the first batch after this replica may write again (no wake-up now)."""
        self._held.update(keys)

    def forget(self, key: K) -> None:
        """The object is gone: drop it and its backoff."""
        self._dirty.discard(key)
        self._held.discard(key)
        self._backoff.pop(key, None)

    @property
    def idle(self) -> bool:
        """Nothing marked, no batch about to start or being processed (held and backed-off keys wait for
        something else)."""
        return not self._dirty and not self._wake.is_set() and not self.processing

    @property
    def failing(self) -> int:
        """How many keys are waiting out a backoff after a failure."""
        return len(self._backoff)

    @property
    def held(self) -> frozenset[K]:
        return frozenset(self._held)

    @property
    def pending(self) -> frozenset[K]:
        """Every key the next batch takes (marked or held)."""
        return frozenset(self._dirty | self._held)

    # ----------------------------------------------------------- draining

    async def next_batch(self) -> set[K]:
        """Wait for a mark (or a wake-up), let the burst coalesce, and take everything marked or held."""
        await self._wake.wait()
        await asyncio.sleep(self.coalesce_seconds)
        self._wake.clear()
        batch = self._dirty | self._held
        self._dirty, self._held = set(), set()
        return batch

    def settle(self, key: K, outcome: Outcome) -> None:
        """Record what became of ``key`` in a batch."""
        if outcome is Outcome.DONE:
            self._backoff.pop(key, None)
        elif outcome is Outcome.NOT_LEADING:
            self._held.add(key)
        else:
            delay = self._backoff.setdefault(key, Backoff(self.retry_seconds, 300.0)).delay()
            self.tasks.call_later(delay, lambda: self.add([key]), name=f"retry-{self.name}")


async def _guarded(process: Callable[[K], Awaitable[Outcome]], key: K, name: str) -> Outcome:
    """A bug in one key's processing is that key's failure (logged, retried), never the loop's end."""
    try:
        return await process(key)
    except Exception:
        log.exception("%s: processing %s failed", name, key)
        return Outcome.FAILED


async def drain_forever(
    queue: WorkQueue[K],
    process: Callable[[K], Awaitable[Outcome]],
    leadership: Leadership,
    ready: asyncio.Event,
    *,
    order: Callable[[set[K]], list[K]] = list,
    after_batch: Callable[[], None] | None = None,
    concurrency: int = 16,
) -> None:
    """Process ``queue`` one coalesced batch at a time, forever, after the initial listing (``ready``).

    Only a replica that may write processes anything: a follower's batches are held whole, and the next
    term's callback wakes the queue. Keys of one batch are processed concurrently (the writer bounds how
    many requests are in flight), at most ``concurrency`` at once, and each key's evaluation starts in a
    loop iteration of its own: a task's first step (the evaluation, up to its first write) runs on the
    event loop, and 2,000 of them started at once held it for seconds (``/healthz``, reviews and every
    other key waited; issue 37). Now the loop polls its sockets between keys, and at most ``concurrency``
    keys' later steps (after a read or write) can fall into one iteration."""
    await ready.wait()
    while True:
        batch = await queue.next_batch()
        if not leadership.may_write():
            queue.hold(batch)
            continue
        keys = order(batch)
        running: list[asyncio.Future[Outcome]] = []
        in_flight = asyncio.Semaphore(concurrency)
        queue.processing = len(keys)
        try:
            for key in keys:
                await in_flight.acquire()
                task = asyncio.ensure_future(_guarded(process, key, queue.name))
                task.add_done_callback(lambda _, slots=in_flight: slots.release())  # type: ignore[misc]
                running.append(task)
                await asyncio.sleep(0)  # the key's first step runs now, then the loop polls before the next
            outcomes = await asyncio.gather(*running)
        except asyncio.CancelledError:
            for started in running:
                started.cancel()
            raise
        finally:
            queue.processing = 0
        for key, outcome in zip(keys, outcomes, strict=True):
            queue.settle(key, outcome)
        if after_batch is not None:
            after_batch()

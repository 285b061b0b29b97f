"""Keeps matrices with ``spec.source`` current: fetch every ``interval``, verify, validate, and only then apply.

* Only the leader fetches, writes the last good copy (:mod:`matrix_store`) and posts Events; every replica
  loads the stored copies at start and re-reads them every minute, so a restart or failover with the
  source down evaluates with the last good copy (verified again against spec.source before use).
* A document that fails the fetch, the digest/signature or the validation is never applied: the copy in
  use stays, the matrix's ``Fetched``/``Current`` conditions say why, ``refresh_errors_total{reason}``
  counts it, and no engagement's verdict changes.
* Fetches run concurrently, at most ``max_fetches`` at a time on their own threads, each bounded by its
  ``spec.source.timeout`` (:mod:`matrix_source.deadline`): a stalled source holds one slot for that long and
  delays no other matrix's refresh, and the loop keeps turning copies Stale on time meanwhile.
* The matrix controller (:mod:`.matrix_controller`) owns it: it hands over each matrix with spec.source
  (:meth:`source_seen`) and its deletion, asks :meth:`status_extra` for the source's status fields, and
  gave it ``changed`` at construction: the routes' "matrix changed" (:mod:`.routes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import ValidationError

from ...api.models import (
    CompatibilityMatrixObjectSpec,
    CompatibilityMatrixSpec,
    Condition,
    MatrixSource,
)
from ...core.base.specs import describe_validation_error
from ...core.base.status_wire import parse_rfc3339, rfc3339
from ...core.compat.matrix import settings_problem
from ...matrix_source import Fetched, SourceError, compile_document, fetch, parse_document, verified
from ...matrix_source.duration import seconds
from ..kube.api import describe_error
from ..leadership import NotLeading
from ..parts import Component, Parts
from ..tasks import Backoff
from .matrix_status import (
    Sourced,
    is_stale,
    matrix_changes,
    source_conditions,
)
from .matrix_store import MatrixStore, StoredCopy

log = logging.getLogger("eligibility_operator")
EVENT_NAMESPACE = "default"  # Events about cluster-scoped objects


class MatrixRefresher(Component):
    def __init__(
        self,
        parts: Parts,
        store: MatrixStore,
        *,
        changed: Callable[[str, bool], None],
        reload_seconds: float = 60.0,
        max_fetches: int = 4,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        super().__init__(parts)
        self.store = store
        self.reload_seconds = reload_seconds
        self.max_fetches = max_fetches
        self._fetching: dict[str, asyncio.Task[None]] = {}  # matrix name -> its refresh in flight
        self._fetch_threads: ThreadPoolExecutor | None = None  # made on the first fetch, in the loop
        self.clock = clock
        self.sources: dict[str, Sourced] = {}
        self.stored: dict[str, StoredCopy] = {}
        self.loaded = False
        # Told that matrix ``name``'s status changed, and (True) its content too: the routes' matrix_changed.
        self.changed = changed
        self._wake = asyncio.Event()
        self._backoff: dict[str, Backoff] = {}
        self._gone: set[str] = set()  # matrices seen deleted whose kept copy may still be in the store
        self.last_refresh = parts.metrics.matrix_last_refresh
        self.max_age = parts.metrics.matrix_max_age
        self.refresh_errors = parts.metrics.matrix_refresh_errors

    # ----------------------------------------------------------- hooks

    def leadership_changed(self, leading: bool) -> None:
        """Taking over fetches now; losing the lead stops fetching."""
        self._wake.set()

    def source_seen(self, name: str, body: Mapping[str, Any]) -> bool:
        """The matrix controller's: True when the matrix has spec.source (then it is ours to compile)."""
        raw = body.get("spec")
        if not isinstance(raw, Mapping) or raw.get("source") is None:
            self._forget(name)
            return False
        meta = body.get("metadata") or {}
        uid, generation = str(meta.get("uid") or ""), meta.get("generation")
        source: MatrixSource | None = None
        try:
            spec = CompatibilityMatrixObjectSpec.model_validate(raw)
            problem = settings_problem(spec)
            source = spec.source
            interval = seconds(source.interval) if source else 0.0
            max_age = seconds(source.max_age) if source else 0.0
            if source is not None:
                seconds(source.timeout)
        except (ValidationError, ValueError) as exc:
            problem = describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
        if problem or source is None:
            problem = problem or "spec.source is missing"
            self._forget(name)
            self.state.inventory.set_matrix_error(name, problem)
            self.changed(name, True)
            return True
        old = self.sources.get(name)
        fresh = Sourced(name, uid, generation, source, interval, max_age)
        if old is not None and old.uid == uid and old.source == fresh.source:
            old.generation, old.interval, old.max_age = generation, interval, max_age
            return True
        self.sources[name] = fresh
        self.max_age.labels(name).set(max_age)
        stored = self.stored.get(name)
        if stored is not None:
            self._install_stored(fresh, stored)
        if fresh.revision is None:
            self.state.inventory.set_matrix_error(
                name, f"waiting for the first verified fetch of {fresh.source.url}", waiting_for_source=True
            )
        self.changed(name, True)
        self._wake.set()
        return True

    def matrix_gone(self, name: str) -> None:
        """The matrix controller's: matrix ``name`` was deleted (its source and its kept copy go next)."""
        self._gone.add(name)
        self._wake.set()

    def _forget(self, name: str) -> None:
        if self.sources.pop(name, None) is not None:
            for family in (self.last_refresh, self.max_age):
                with contextlib.suppress(KeyError):
                    family.remove(name)

    def status_extra(self, name: str) -> tuple[list[Condition], dict[str, Any]] | None:
        """For the matrix controller's status: source conditions and fields of matrix ``name`` (None: not sourced)."""
        s = self.sources.get(name)
        if s is None:
            return None
        fields: dict[str, Any] = {
            "revision": s.revision,
            "last_fetched": s.last_fetched,
            "last_changed": s.last_changed,
        }
        return source_conditions(s, self.clock()), fields

    # --------------------------------------------------------- applying

    def _apply(self, s: Sourced, document: bytes, signature: bytes | None, where: str) -> tuple[str, list[str]]:
        """Verify and compile ``document``; install it. Returns (revision, changes). SourceError: nothing applied."""
        revision = verified(Fetched(document, signature), s.integrity)
        compiled = compile_document(document, s.name, s.generation or 0, where)
        compiled.revision = revision
        spec = CompatibilityMatrixSpec.model_validate(parse_document(document, where)[1])
        changes = matrix_changes(s.spec, spec) if revision != s.revision else []
        if revision != s.revision:
            self.state.inventory.set_matrix(compiled)
            s.revision, s.spec = revision, spec
        return revision, changes

    def _install_stored(self, s: Sourced, stored: StoredCopy) -> None:
        if stored.url != s.source.url:
            return  # the source moved: wait for a fetch from the new one
        try:
            self._apply(s, stored.document, stored.signature, f"stored copy of {s.name}")
        except SourceError as exc:
            log.warning("the stored copy of CompatibilityMatrix %s is not used: %s", s.name, exc)
            return
        s.last_fetched, s.last_changed = parse_rfc3339(stored.fetched), parse_rfc3339(stored.changed)
        if s.last_fetched is not None:
            self.last_refresh.labels(s.name).set(s.last_fetched.timestamp())
        log.info("CompatibilityMatrix %s: using the stored copy %s (fetched %s)", s.name, s.revision, stored.fetched)

    async def load_store(self) -> bool:
        try:
            self.stored = await asyncio.to_thread(self.store.load)
        except Exception as exc:
            self.refresh_errors.labels("StoreUnreadable").inc()
            log.warning("could not read the stored matrix copies: %s", describe_error(exc))
            return False
        self.loaded = True
        for name, s in self.sources.items():
            stored = self.stored.get(name)
            if stored is None:
                continue
            if stored.revision != s.revision:
                self._install_stored(s, stored)
                self.changed(name, True)
            elif stored.url == s.source.url:  # the leader fetched it again: as fresh as that
                s.last_fetched = parse_rfc3339(stored.fetched) or s.last_fetched
                if s.last_fetched is not None:
                    self.last_refresh.labels(name).set(s.last_fetched.timestamp())
        return True

    def notice_stale(self) -> None:
        """Re-write the status of a matrix whose copy turned Stale (or fresh) since its status last said:
        ``Current`` must turn False when maxAge passes, not at the next fetch attempt."""
        now = self.clock()
        for s in self.sources.values():
            if is_stale(s, now) != s.stale:
                s.stale = not s.stale
                self.changed(s.name, False)

    async def drop_copies_of_deleted(self) -> None:
        """Leader: remove the kept copies of matrices this replica saw deleted (never of one it has not
        seen yet: a copy is what a restart with the source down evaluates with). One read, and a write only
        when the store holds the copy, per deleted matrix."""
        self._gone = {n for n in self._gone if self.state.matrix(n) is None}  # created again: keep its copy
        for name in sorted(self._gone):
            try:
                await asyncio.to_thread(self.store.remove, name)
            except NotLeading:
                return
            except Exception as exc:  # kept; the next pass tries again
                self.refresh_errors.labels("StoreUnwritable").inc()
                log.warning(
                    "could not drop the kept copy of deleted CompatibilityMatrix %s: %s", name, describe_error(exc)
                )
                return
            self._gone.discard(name)
            if self.stored.pop(name, None) is not None:
                log.info("CompatibilityMatrix %s was deleted: its kept copy is dropped", name)

    async def refresh(self, s: Sourced) -> None:
        """One fetch of ``s`` (leader only)."""
        now = self.clock()
        s.attempted = True
        if self._fetch_threads is None:
            self._fetch_threads = ThreadPoolExecutor(self.max_fetches, thread_name_prefix="matrix-fetch")
        try:
            fetched = await asyncio.get_running_loop().run_in_executor(
                self._fetch_threads,
                functools.partial(
                    fetch,
                    s.source.url,
                    ca_bundle=s.source.ca_bundle,
                    timeout=seconds(s.source.timeout),
                    with_signature=s.source.public_key is not None,
                ),
            )
            if self.sources.get(s.name) is not s or self.state.matrix(s.name) is None:
                return  # deleted or changed while fetching: nothing to apply
            before = s.revision
            revision, changes = self._apply(s, fetched.document, fetched.signature, s.source.url)
        except SourceError as exc:
            s.failure = exc
            self.refresh_errors.labels(exc.reason.value).inc()
            delay = min(self._backoff.setdefault(s.name, Backoff(30.0, s.interval)).delay(), s.interval)
            s.due = time.monotonic() + delay
            log.warning(
                "CompatibilityMatrix %s: %s not applied, retrying in %.0f s: %s", s.name, s.source.url, delay, exc
            )
            if s.revision is None:
                self.state.inventory.set_matrix_error(
                    s.name, f"spec.source: {exc}; see the Fetched condition", waiting_for_source=True
                )
            self.changed(s.name, s.revision is None)
            return
        self._backoff.pop(s.name, None)
        s.failure, s.last_fetched, s.due = None, now, time.monotonic() + s.interval
        self.last_refresh.labels(s.name).set(now.timestamp())
        if revision != before:
            s.last_changed = now
            log.info("CompatibilityMatrix %s: applied %s from %s: %s", s.name, revision, s.source.url, changes)
            await self._announce(s, before, revision, changes)
        copy = StoredCopy(
            fetched.document,
            fetched.signature,
            revision,
            s.source.url,
            rfc3339(now),
            rfc3339(s.last_changed or now),
        )
        try:
            await asyncio.to_thread(self.store.save, s.name, copy)
            self.stored[s.name] = copy
        except NotLeading:
            pass
        except Exception as exc:  # applied in memory; the next refresh tries to keep it again
            self.refresh_errors.labels("StoreUnwritable").inc()
            log.warning(
                "CompatibilityMatrix %s: could not keep the copy in the cluster: %s", s.name, describe_error(exc)
            )
        self.changed(s.name, revision != before)

    async def _announce(self, s: Sourced, before: str | None, after: str, changes: list[str]) -> None:
        what = "; ".join(changes[:20]) + (f"; and {len(changes) - 20} more" if len(changes) > 20 else "")
        prefix = f"revision {before} -> {after}" if before else f"first revision {after}"
        try:
            await asyncio.to_thread(
                self.kube.emit_event,
                namespace=EVENT_NAMESPACE,
                name=s.name,
                uid=s.uid,
                kind="CompatibilityMatrix",
                reason="MatrixChanged",
                message=f"{prefix} from {s.source.url}: {what or 'no product changes'}",
                warning=False,
            )
        except Exception as exc:
            log.warning("could not post an Event for CompatibilityMatrix %s: %s", s.name, describe_error(exc))

    # --------------------------------------------------------------- loop

    def _start_refresh(self, s: Sourced) -> None:
        """Refresh ``s`` in its own task: the loop goes on (other sources, Stale transitions) meanwhile."""

        async def refresh_then_wake() -> None:
            try:
                await self.refresh(s)
            except Exception:  # a bug in one refresh must not end the others' schedule
                log.exception("CompatibilityMatrix %s: refresh failed", s.name)
                s.due = time.monotonic() + min(s.interval, 60.0)
            finally:
                if self._fetching.get(s.name) is task:
                    del self._fetching[s.name]
                self._wake.set()

        task = asyncio.create_task(refresh_then_wake(), name=f"matrix-refresh {s.name}")
        self._fetching[s.name] = task

    def _next_wake(self, tick: float) -> float:
        """Seconds until a source is due (not one being fetched) or a copy turns Stale."""
        now, mono = self.clock(), time.monotonic()
        waits = [tick * 60]
        for s in self.sources.values():
            if s.name not in self._fetching:
                waits.append(s.due - mono)
            if s.revision is not None and s.last_fetched is not None and not s.stale:
                waits.append(s.max_age - (now - s.last_fetched).total_seconds() + 0.05)
        return max(0.05, min(waits))

    async def run(self, tick: float = 1.0) -> None:
        """Fetch what is due (leader) or re-read the leader's copies (followers, and anyone whose first
        read of the store failed: fetching goes on meanwhile, and a save never drops other matrices)."""
        try:
            await self._run(tick)
        finally:
            for task in list(self._fetching.values()):
                task.cancel()
            if self._fetch_threads is not None:
                self._fetch_threads.shutdown(wait=False, cancel_futures=True)
                self._fetch_threads = None

    async def _run(self, tick: float) -> None:
        if not self.loaded:
            await self.load_store()
        next_reload = time.monotonic() + self.reload_seconds
        while True:
            now = time.monotonic()
            if now >= next_reload and not (self.loaded and self.leadership.may_write()):
                next_reload = now + self.reload_seconds
                if await self.load_store():  # the leader's latest copies
                    self._gone &= set(self.stored)  # what the store no longer holds needs no dropping
            for name in [n for n in self.sources if self.state.matrix(n) is None]:
                self._forget(name)  # the matrix was deleted
            if self.leadership.may_write():
                self.notice_stale()
                await self.drop_copies_of_deleted()
                for s in list(self.sources.values()):
                    if s.due <= now and self.sources.get(s.name) is s and s.name not in self._fetching:
                        self._start_refresh(s)
            self._wake.clear()
            delay = self._next_wake(tick) if self.leadership.may_write() else tick * 5
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            if self._wake.is_set() and self.leadership.may_write():
                for s in self.sources.values():  # on taking over (or a new source): fetch now
                    if not s.attempted:
                        s.due = 0.0

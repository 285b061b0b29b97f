"""The CompatibilityMatrix controller: compiles each matrix (or has its spec.source fetched) and owns its
status.

A matrix written inline is compiled when a new generation is seen; one with ``spec.source`` is handed to
the :class:`~.matrices.MatrixRefresher`, which fetches, verifies and applies it. Either way, a change is
told to ``changed`` (given at construction: the routes' "matrix changed", :mod:`.routes`), which writes
this matrix's status and, when its content changed, has the engagements using it re-evaluated. The status
(``Ready``, the product count, and a sourced matrix's ``Fetched``/``Current`` conditions) is written from
this controller's own coalescing queue, through the one status writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from ...core.compat.matrix import MatrixError, load_matrix
from ..kube.api import describe_error
from ..parts import Component, Parts
from .matrices import MatrixRefresher
from .matrix_store import MatrixStore
from .queue import Outcome, WorkQueue, drain_forever
from .writer import StatusWriter

log = logging.getLogger("eligibility_operator")


class MatrixController(Component):
    def __init__(
        self,
        parts: Parts,
        writer: StatusWriter,
        store: MatrixStore,
        *,
        changed: Callable[[str, bool], None],
        coalesce_seconds: float = 0.05,
        retry_seconds: float = 2.0,
    ) -> None:
        super().__init__(parts)
        self.writer = writer
        self.changed = changed  # (name, content changed too): the routes' matrix_changed
        self.queue: WorkQueue[str] = WorkQueue(
            self.tasks, coalesce_seconds=coalesce_seconds, retry_seconds=retry_seconds, name="matrix-status"
        )
        self.refresher = MatrixRefresher(parts, store, changed=changed)

    def matrix_seen(self, body: Mapping[str, Any]) -> None:
        """A matrix as a watch delivered it: compile a new generation (or hand a sourced one to the
        refresher), and tell ``changed``."""
        meta = body.get("metadata") or {}
        name, generation = str(meta.get("name")), meta.get("generation")
        uid = str(meta.get("uid") or "")
        record = self.state.inventory.matrix_record(name)
        status = body.get("status")
        if record.uid != uid:  # new, or deleted and created again while we were away
            record.uid, record.generation = uid, None
            record.written = dict(status) if isinstance(status, Mapping) else None
        elif isinstance(status, Mapping) and not self.leadership.may_write():
            record.written = dict(status)  # the leader's write: on taking over, compare with that
        if record.generation == generation:
            return
        record.generation = generation
        if self.refresher.source_seen(name, body):
            return  # the refresher compiles what it fetches, and tells `changed`
        try:
            compiled = load_matrix(name, generation or 0, body.get("spec"))
        except MatrixError as exc:
            log.warning("CompatibilityMatrix %s is invalid: %s", name, describe_error(exc))
            self.state.inventory.set_matrix_error(name, str(exc))
        else:
            self.state.inventory.set_matrix(compiled)
        self.changed(name, True)

    def status_changed(self, name: str) -> None:
        """Write matrix ``name``'s status (only if it differs from the server's)."""
        self.queue.add([name])

    def matrix_gone(self, name: str) -> None:
        self.state.inventory.remove_matrix(name)
        self.queue.forget(name)
        self.refresher.matrix_gone(name)

    def leadership_changed(self, leading: bool) -> None:
        """A new term: every matrix's status is compared with the server's again (and the refresher fetches
        what is due)."""
        self.refresher.leadership_changed(leading)
        if leading:
            self.queue.add(self.state.inventory.matrices)
            self.queue.wake()

    # ---------------------------------------------------------------- loop

    async def run(self) -> None:
        """Write dirty matrix statuses forever, one coalesced batch at a time."""
        await drain_forever(self.queue, self._write_status, self.leadership, self.state.ready)

    @property
    def idle(self) -> bool:
        return self.queue.idle

    async def _write_status(self, name: str) -> Outcome:
        record = self.state.matrix(name)
        if record is None:
            return Outcome.DONE
        return await self.writer.matrix(record, self.refresher.status_extra(name))

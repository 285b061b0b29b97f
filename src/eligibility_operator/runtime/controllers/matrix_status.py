"""What the refresher knows of one sourced matrix (:class:`Sourced`), the conditions and fields it adds to
the matrix's status, and the words an Event uses for what changed. No I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ...api.models import (
    CompatibilityMatrixSpec,
    Condition,
    MatrixSource,
)
from ...core.base.conditions import condition
from ...core.base.status_wire import rfc3339
from ...core.compat.matrix_diff import diff_matrices
from ...core.verdict.findings import FindingCode
from ...matrix_source import Integrity, Reason, SourceError


@dataclass
class Sourced:
    """One matrix with spec.source: its settings, the copy in use and the last attempt."""

    name: str
    uid: str
    generation: int | None
    source: MatrixSource
    interval: float
    max_age: float
    revision: str | None = None
    spec: CompatibilityMatrixSpec | None = None  # of the copy in use, for the change Events
    last_fetched: dt.datetime | None = None
    last_changed: dt.datetime | None = None
    failure: SourceError | None = None
    attempted: bool = False
    due: float = 0.0  # monotonic
    stale: bool = False  # what the status was last told (the refresher re-writes it when this changes)

    @property
    def integrity(self) -> Integrity:
        return Integrity(digest=self.source.digest, public_key=self.source.public_key)


def is_stale(s: Sourced, now: dt.datetime) -> bool:
    """A copy is in use and the last good fetch is older than maxAge (or unknown)."""
    return s.revision is not None and (s.last_fetched is None or (now - s.last_fetched).total_seconds() > s.max_age)


def source_conditions(s: Sourced, now: dt.datetime) -> list[Condition]:
    """``Fetched`` (the last attempt) and ``Current`` (the copy in use is the latest, younger than maxAge)."""
    gen = s.generation
    if not s.attempted:
        fetched = condition("Fetched", None, "Pending", generation=gen)
    elif s.failure is None:
        fetched = condition("Fetched", True, "Fetched", f"fetched {s.source.url}: {s.revision}", gen)
    else:
        message = f"{_code(s.failure.reason)}{s.source.url}: {s.failure.message}"
        fetched = condition("Fetched", False, s.failure.reason, message, gen)
    last_good = rfc3339(s.last_fetched) if s.last_fetched else "never"
    if s.revision is None:
        reason = s.failure.reason if s.failure else "Pending"
        message = "no verified copy of the source yet; engagements using this matrix cannot be evaluated"
        current = condition("Current", False, reason, message, gen)
    elif is_stale(s, now):
        message = (
            f"[{FindingCode.MATRIX_STALE}] last good fetch {last_good} is older than maxAge "
            f"{s.source.max_age}; still using revision {s.revision}"
        )
        current = condition("Current", False, "Stale", message, gen)
    elif s.failure is not None:
        message = f"the last fetch failed; using the last good revision {s.revision} fetched {last_good}"
        current = condition("Current", False, s.failure.reason, message, gen)
    else:
        current = condition("Current", True, "UpToDate", f"revision {s.revision} is the source's current document", gen)
    return [fetched, current]


def _code(reason: Reason) -> str:
    """The finding code of a document refused for its digest or signature (docs/reference/findings.md)."""
    return f"[{FindingCode.MATRIX_UNVERIFIED}] " if reason == Reason.SIGNATURE_INVALID else ""


def matrix_changes(old: CompatibilityMatrixSpec | None, new: CompatibilityMatrixSpec) -> list[str]:
    """What an Event says changed ("reloader 1.5 added"): ``matrix diff``'s own words; the first copy
    names the products it brings."""
    if old is None:
        return [f"{len(new.products)} products: " + ", ".join(p.name for p in new.products)]
    return diff_matrices(old, new)

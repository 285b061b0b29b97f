"""What the refresher knows of one sourced matrix (:class:`Sourced`), the conditions and fields it adds to
the matrix's status, and the words an Event uses for what changed. No I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ...api.models import (
    CompatibilityMatrixSpec,
    Condition,
    ConditionStatus,
    MatrixSource,
)
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
        fetched = Condition(type="Fetched", status=ConditionStatus.UNKNOWN, reason="Pending", observed_generation=gen)
    elif s.failure is None:
        msg = f"fetched {s.source.url}: {s.revision}"
        fetched = Condition(type="Fetched", status=ConditionStatus.TRUE, reason="Fetched", message=msg)
        fetched = fetched.model_copy(update={"observed_generation": gen})
    else:
        fetched = Condition(
            type="Fetched",
            status=ConditionStatus.FALSE,
            reason=s.failure.reason,
            message=f"{_code(s.failure.reason)}{s.source.url}: {s.failure.message}"[:1024],
            observed_generation=gen,
        )
    last_good = rfc3339(s.last_fetched) if s.last_fetched else "never"
    if s.revision is None:
        reason = s.failure.reason if s.failure else "Pending"
        current = Condition(
            type="Current",
            status=ConditionStatus.FALSE,
            reason=reason,
            message="no verified copy of the source yet; engagements using this matrix cannot be evaluated",
            observed_generation=gen,
        )
    elif is_stale(s, now):
        current = Condition(
            type="Current",
            status=ConditionStatus.FALSE,
            reason="Stale",
            message=f"[{FindingCode.MATRIX_STALE}] last good fetch {last_good} is older than maxAge "
            f"{s.source.max_age}; still using revision {s.revision}",
            observed_generation=gen,
        )
    elif s.failure is not None:
        current = Condition(
            type="Current",
            status=ConditionStatus.FALSE,
            reason=s.failure.reason,
            message=f"the last fetch failed; using the last good revision {s.revision} fetched {last_good}",
            observed_generation=gen,
        )
    else:
        current = Condition(
            type="Current",
            status=ConditionStatus.TRUE,
            reason="UpToDate",
            message=f"revision {s.revision} is the source's current document",
            observed_generation=gen,
        )
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

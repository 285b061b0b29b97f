"""From an engagement object and the inventory to the status it should have. Pure.

Also decides whether a status needs writing at all: the operator patches only
when the content changed, ignoring the timestamps it sets itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ...api.models import (
    CompatibilityMatrixStatus,
    Condition,
    Eligibility,
    SupportEngagementSpec,
    SupportEngagementStatus,
)
from ..base.specs import spec_of
from ..base.status_wire import differs, to_write
from ..products.coverage import covers, covers_everything
from ..products.inventory import Inventory, MatrixRecord
from ..products.workloads import MAX_CONTAINERS
from .evaluation import AGREEMENT, READY, Platform, evaluate, not_ready
from .findings import FindingCode


@dataclass
class EngagementRecord:
    """What the operator keeps of one SupportEngagement."""

    namespace: str
    name: str
    uid: str
    generation: int | None
    spec: SupportEngagementSpec | None
    spec_error: str | None
    written: dict[str, Any] | None  # status as last seen on or written to the server
    announced: Eligibility | None = None  # eligibility last reported by an Event (or found at start)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def matrix_name(self) -> str | None:
        return self.spec.matrix_name if self.spec else None


def record_from_body(body: Mapping[str, Any]) -> EngagementRecord:
    meta = body.get("metadata") or {}
    spec, error = spec_of(body, SupportEngagementSpec)
    status = body.get("status")
    written = dict(status) if isinstance(status, Mapping) else None
    return EngagementRecord(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        generation=meta.get("generation"),
        spec=spec,
        spec_error=error,
        written=written,
        announced=eligibility_of(written),
    )


def previous_status(record: EngagementRecord) -> SupportEngagementStatus | None:
    if not record.written:
        return None
    try:
        return SupportEngagementStatus.model_validate(record.written)
    except ValidationError:
        return None


def matrix_not_found(name: str) -> str:
    """Ready=False's message for an engagement whose matrixRef names no CompatibilityMatrix."""
    return f"CompatibilityMatrix {name!r} not found; create it or set spec.matrixRef.name to an existing matrix"


def assess(
    record: EngagementRecord, inventory: Inventory, platform: Platform, today: dt.date
) -> SupportEngagementStatus:
    """The status ``record`` should have now."""
    generation = record.generation
    previous = previous_status(record)
    if record.spec is None:
        return not_ready("InvalidSpec", f"spec is invalid: {record.spec_error}", generation, None)
    spec = record.spec
    name = spec.matrix_name
    state = inventory.matrices.get(name)
    if state is None or state.compiled is None:
        if state is not None and state.error:
            return not_ready(*_matrix_problem(name, state, kept=False), generation, previous)
        return not_ready("MatrixNotFound", matrix_not_found(name), generation, None)
    matrix = state.compiled
    if covers_everything(spec.coverage):
        found = inventory.found_in(name)
    else:
        namespaces = (
            ns
            for ns in inventory.product_namespaces(name)
            if covers(spec.coverage, ns, inventory.namespace_labels.get(ns))
        )
        found = inventory.found_in(name, namespaces)
    status = evaluate(spec, matrix, found, platform, today, generation).status
    if status.eligibility == Eligibility.UNKNOWN:
        return status  # invalid spec: nothing of a previous evaluation is kept
    capped = inventory.capped_in(lambda ns: covers(spec.coverage, ns, inventory.namespace_labels.get(ns)))
    if capped:
        status = with_capped_note(status, capped)
    if state.error:
        return not_ready(*_matrix_problem(name, state, kept=True), generation, status)
    return status


def _matrix_problem(name: str, state: MatrixRecord, *, kept: bool) -> tuple[str, str]:
    """Ready's reason and message for an engagement whose matrix cannot be used as it is; ``kept``: the
    evaluation shown is against the matrix's last valid version."""
    shown = "; showing the evaluation against its last valid version" if kept else ""
    if state.waiting_for_source:
        return "MatrixWaitingForSource", f"CompatibilityMatrix {name!r} has no verified copy yet: {state.error}{shown}"
    return "MatrixInvalid", f"CompatibilityMatrix {name!r} is invalid: {state.error}{shown or '; fix the matrix'}"


def with_capped_note(status: SupportEngagementStatus, capped: list[str]) -> SupportEngagementStatus:
    """Say in the Ready condition which workloads were read only in part (the per-workload caps)."""
    shown = ", ".join(capped[:5]) + (f" and {len(capped) - 5} more" if len(capped) > 5 else "")
    note = f"; {len(capped)} workload(s) have more than {MAX_CONTAINERS} containers, only the first were read: {shown}"
    return with_ready_note(status, note)


def with_ready_note(status: SupportEngagementStatus, note: str) -> SupportEngagementStatus:
    """``status`` with ``note`` appended to its Ready condition's message."""
    conditions = [
        c.model_copy(update={"message": (c.message + note)[:1024]}) if c.type == READY else c for c in status.conditions
    ]
    return status.model_copy(update={"conditions": conditions})


# ------------------------------------------------------------- status writes


def status_to_write(
    new: SupportEngagementStatus, written: Mapping[str, Any] | None, now: dt.datetime
) -> dict[str, Any] | None:
    """The status to write, or None when ``written`` already says the same."""
    return to_write(new, written, now, stamp="lastEvaluationTime")


def status_differs(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Whether two statuses differ in content (timestamps set by the operator aside)."""
    return differs(a, b, stamp="lastEvaluationTime")


def matrix_status_to_write(
    generation: int | None,
    products: int,
    ready: Condition,
    written: Mapping[str, Any] | None,
    now: dt.datetime,
    source: tuple[list[Condition], dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """A CompatibilityMatrix's status, or None when ``written`` already says the same.

    ``source``: the conditions and fields of a matrix with spec.source (revision, lastFetched, ...)."""
    conditions, fields = source or ([], {})
    status = CompatibilityMatrixStatus(
        observed_generation=generation, products=products, conditions=[ready, *conditions], **fields
    )
    return to_write(status, written, now, stamp=None)


def eligibility_of(wire: Mapping[str, Any] | None) -> Eligibility | None:
    value = (wire or {}).get("eligibility")
    try:
        return Eligibility(str(value))
    except ValueError:
        return None


def finding_codes_text(status: SupportEngagementStatus) -> str:
    """The finding codes of the products, for Events: ``[EO101 reloader 1.0.0, EO108 tronador 0.1.0]``."""
    found = [
        f"{code} {p.product} {p.version}"
        for p in (*status.products, *status.uncovered_products)
        for code in p.codes or ()
    ]
    if not found:
        return ""
    shown = ", ".join(found[:10]) + (f" (+{len(found) - 10} more)" if len(found) > 10 else "")
    return f" [{shown}]"


@dataclass(frozen=True)
class Notice:
    """An Event worth posting on a transition (never on a pass that changed nothing)."""

    reason: str
    message: str
    warning: bool


def horizon_notices(previous: Mapping[str, Any] | None, new: SupportEngagementStatus) -> list[Notice]:
    """Premium's proactive guidance as Events: a product version or the agreement entering the horizon.

    ``previous`` is the status as last written; a product version that was already Deprecated
    there (or the agreement already ExpiresSoon) is not announced again, so restarts stay quiet.
    """
    before = previous or {}
    deprecated_before = {
        (p.get("product"), p.get("edition"), p.get("version"))
        for p in before.get("products") or []
        if p.get("lifecycle") == "Deprecated"
    }
    notices = []
    for p in new.products:
        if p.lifecycle == "Deprecated" and (p.product, p.edition, p.version) not in deprecated_before:
            owner = "Stakater action item" if p.action_owner == "Stakater" else "customer action"
            notices.append(
                Notice(
                    "EndOfSupportApproaching",
                    f"[{FindingCode.END_OF_SUPPORT_APPROACHING}] {owner}: upgrade {p.product} {p.version}"
                    + (f" to {p.recommended_version}" if p.recommended_version else "")
                    + f" before {p.end_of_support} ({p.reason}) in {', '.join(p.workloads[:3])}",
                    warning=True,
                )
            )
    agreement = next((c for c in new.conditions if c.type == AGREEMENT), None)
    was: Mapping[str, Any] = next((c for c in before.get("conditions") or [] if c.get("type") == AGREEMENT), {})
    if agreement is not None and agreement.reason == "ExpiresSoon" and was.get("reason") != "ExpiresSoon":
        notices.append(
            Notice("AgreementExpiresSoon", f"[{FindingCode.AGREEMENT_EXPIRES_SOON}] {agreement.message}", warning=True)
        )
    return notices

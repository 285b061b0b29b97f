"""From an engagement object and the inventory to the status it should have. Pure.

Also decides whether a status needs writing at all: the operator patches only
when the content changed, ignoring the timestamps it sets itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from ..api.models import (
    CompatibilityMatrixStatus,
    Condition,
    Eligibility,
    EngagementType,
    SupportEngagementSpec,
    SupportEngagementStatus,
    VersionOwner,
)
from .business_calendar import check_calendar
from .coverage import covers, covers_everything, selector_problems
from .detection import Detection
from .evaluation import AGREEMENT, READY, Platform, evaluate, not_ready
from .inventory import Inventory
from .matrix import CompiledMatrix, describe_validation_error
from .workloads import MAX_CONTAINERS

VOLATILE_CONDITION_KEYS = ("lastTransitionTime",)


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
    spec, error = None, None
    try:
        spec = SupportEngagementSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        error = describe_validation_error(exc)
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


def spec_problems(spec: SupportEngagementSpec, matrix: CompiledMatrix) -> list[str]:
    """Semantic problems the CRD schema cannot catch; each names the field and the fix."""
    problems = selector_problems(spec.coverage.namespace_selector)
    problems += check_calendar(spec.agreement.time_zone, spec.agreement.holiday_calendar)
    if spec.version_management == VersionOwner.STAKATER and spec.type != EngagementType.MANAGED_SERVICE:
        problems.append(
            "spec.versionManagement: Stakater maintains versions only under a ManagedService agreement; "
            "set spec.type to ManagedService or versionManagement to Customer"
        )
    seen: set[str] = set()
    for i, product in enumerate(spec.products):
        if product.name in seen:
            problems.append(f"spec.products[{i}].name: {product.name!r} is listed twice")
        seen.add(product.name)
        if product.name not in matrix.products:
            known = ", ".join(sorted(matrix.products))
            problems.append(
                f"spec.products[{i}].name: {product.name!r} is not in CompatibilityMatrix {matrix.name!r} "
                f"(known: {known})"
            )
    return problems


def evaluate_engagement(
    spec: SupportEngagementSpec,
    matrix: CompiledMatrix,
    found: Iterable[tuple[str, Detection]],
    platform: Platform,
    today: dt.date,
    generation: int | None = None,
) -> SupportEngagementStatus:
    """The one evaluation entry point (operator, ``check``, benchmark, test oracle).

    ``found`` holds the detections in the engagement's covered namespaces; a spec with
    semantic problems is not evaluated (``Ready=False/InvalidSpec``).
    """
    problems = spec_problems(spec, matrix)
    if problems:
        return not_ready("InvalidSpec", "; ".join(problems), generation, None)
    return evaluate(spec, matrix, found, platform, today, generation).status


def previous_status(record: EngagementRecord) -> SupportEngagementStatus | None:
    if not record.written:
        return None
    try:
        return SupportEngagementStatus.model_validate(record.written)
    except ValidationError:
        return None


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
            msg = f"CompatibilityMatrix {name!r} is invalid: {state.error}; fix the matrix"
            return not_ready("MatrixInvalid", msg, generation, previous)
        msg = f"CompatibilityMatrix {name!r} not found; create it or set spec.matrixRef.name to an existing matrix"
        return not_ready("MatrixNotFound", msg, generation, None)
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
    status = evaluate_engagement(spec, matrix, found, platform, today, generation)
    if status.eligibility == Eligibility.UNKNOWN:
        return status  # invalid spec: nothing of a previous evaluation is kept
    capped = inventory.capped_in(lambda ns: covers(spec.coverage, ns, inventory.namespace_labels.get(ns)))
    if capped:
        status = with_capped_note(status, capped)
    if state.error:
        msg = (
            f"CompatibilityMatrix {name!r} is invalid: {state.error}; "
            f"showing the evaluation against its last valid version"
        )
        return not_ready("MatrixInvalid", msg, generation, status)
    return status


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


def _without_empty_strings(value: Any) -> Any:
    """Kubernetes 1.20 rejects '' in status written by JSON patch (it reads it as null); omit them."""
    if isinstance(value, dict):
        return {k: _without_empty_strings(v) for k, v in value.items() if v != ""}
    if isinstance(value, list):
        return [_without_empty_strings(v) for v in value]
    return value


def to_wire(status: BaseModel) -> dict[str, Any]:
    wire: dict[str, Any] = _without_empty_strings(status.model_dump(mode="json", by_alias=True, exclude_none=True))
    return wire


def _comparable(wire: Mapping[str, Any] | None) -> dict[str, Any]:
    if not wire:
        return {}
    out = {k: v for k, v in wire.items() if k != "lastEvaluationTime"}
    out["conditions"] = [
        {k: v for k, v in c.items() if k not in VOLATILE_CONDITION_KEYS} for c in wire.get("conditions") or []
    ]
    return out


def _timestamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_to_write(
    new: SupportEngagementStatus, written: Mapping[str, Any] | None, now: dt.datetime
) -> dict[str, Any] | None:
    """The status to write, or None when ``written`` already says the same.

    A condition keeps its lastTransitionTime while its status stays the same.
    """
    wire = to_wire(new)
    if _comparable(wire) == _comparable(written):
        return None
    before = {c.get("type"): c for c in (written or {}).get("conditions") or []}
    stamp = _timestamp(now)
    for condition in wire.get("conditions", []):
        old = before.get(condition["type"])
        same = old is not None and old.get("status") == condition["status"] and old.get("lastTransitionTime")
        condition["lastTransitionTime"] = old["lastTransitionTime"] if same and old else stamp
    wire["lastEvaluationTime"] = stamp
    return wire


def status_differs(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Whether two statuses differ in content (timestamps set by the operator aside)."""
    return _comparable(a) != _comparable(b)


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
    wire = to_wire(
        CompatibilityMatrixStatus(
            observed_generation=generation, products=products, conditions=[ready, *conditions], **fields
        )
    )
    if _comparable(wire) == _comparable(written):
        return None
    before = {c.get("type"): c for c in (written or {}).get("conditions") or []}
    for condition in wire["conditions"]:
        old = before.get(condition["type"])
        keep = old is not None and old.get("status") == condition["status"] and old.get("lastTransitionTime")
        condition["lastTransitionTime"] = old["lastTransitionTime"] if keep and old else _timestamp(now)
    return wire


def eligibility_of(wire: Mapping[str, Any] | None) -> Eligibility | None:
    value = (wire or {}).get("eligibility")
    try:
        return Eligibility(str(value))
    except ValueError:
        return None


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
                    f"{owner}: upgrade {p.product} {p.version}"
                    + (f" to {p.recommended_version}" if p.recommended_version else "")
                    + f" before {p.end_of_support} ({p.reason}) in {', '.join(p.workloads[:3])}",
                    warning=True,
                )
            )
    agreement = next((c for c in new.conditions if c.type == AGREEMENT), None)
    was: Mapping[str, Any] = next((c for c in before.get("conditions") or [] if c.get("type") == AGREEMENT), {})
    if agreement is not None and agreement.reason == "ExpiresSoon" and was.get("reason") != "ExpiresSoon":
        notices.append(Notice("AgreementExpiresSoon", agreement.message, warning=True))
    return notices

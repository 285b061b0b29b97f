"""``eligibility-operator triage``: the operator's SupportRequest triage, offline.

For a support portal or a CI bot: reads a SupportRequest, the SupportEngagement it
falls under and, optionally, manifests of the affected workloads; prints the same
triage the operator writes into the request's status (table or JSON). Nothing is
read from a cluster, so workload conditions and Events are not in the diagnostics.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..api.models import SupportEngagementSpec
from ..api.requests import Scope, SupportRequestSpec, SupportRequestStatus
from ..core.base.specs import describe_validation_error
from ..core.base.status_wire import to_wire
from ..core.compat.matrix import CompiledMatrix
from ..core.requests.diagnostics import summary
from ..core.requests.inputs import EngagementView, InventorySource, contracted_services_of, gather
from ..core.requests.triage import triage
from ..core.verdict.evaluation import Platform
from .check import printable
from .files import InputError, Manifests, decode, read_bytes
from .inventory import inventory_of
from .manifests import read_manifests

EXIT_IN_SCOPE, EXIT_OUT_OF_SCOPE, EXIT_INPUT_ERROR = 0, 1, 4
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class LoadedRequest:
    namespace: str
    name: str
    spec: SupportRequestSpec
    created: dt.datetime | None


def _document(path: Path, kind: str, name: str | None = None) -> dict[str, Any]:
    """The one ``kind`` object in ``path`` (a multi-document file may hold others; ``name`` picks one)."""
    try:
        docs = list(yaml.load_all(decode(read_bytes(path, 1024 * 1024)), Loader=_Loader))
    except Exception as exc:  # unreadable file, YAML errors, odd tags
        raise InputError(f"{path}: cannot read the {kind}: {exc}") from None
    found = [d for d in docs if isinstance(d, dict) and d.get("kind") == kind]
    if name is not None:
        found = [d for d in found if isinstance(d.get("metadata"), dict) and d["metadata"].get("name") == name]
    if not found:
        raise InputError(f"{path}: expected a {kind}" + (f" named {name!r}" if name else ""))
    if len(found) > 1:
        names = ", ".join(str((d.get("metadata") or {}).get("name")) for d in found)
        raise InputError(f"{path}: holds {len(found)} {kind}s ({names}); pick one with --name")
    doc = found[0]
    if not isinstance(doc.get("spec") or {}, dict) or not isinstance(doc.get("metadata") or {}, dict):
        raise InputError(f"{path}: invalid {kind}: spec and metadata must be mappings")
    return doc


def load_request(path: Path, name: str | None = None) -> LoadedRequest:
    doc = _document(path, "SupportRequest", name)
    meta = doc.get("metadata") or {}
    try:
        spec = SupportRequestSpec.model_validate(doc.get("spec") or {})
    except ValidationError as exc:
        raise InputError(f"{path}: invalid SupportRequest: {describe_validation_error(exc)}") from None
    created = meta.get("creationTimestamp")
    return LoadedRequest(
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta.get("name") or ""),
        spec=spec,
        created=created if isinstance(created, dt.datetime) else None,
    )


def load_engagement_view(path: Path) -> EngagementView:
    doc = _document(path, "SupportEngagement")
    meta = doc.get("metadata") or {}
    raw = doc.get("spec") or {}
    try:
        spec = SupportEngagementSpec.model_validate(raw)
    except ValidationError as exc:
        raise InputError(f"{path}: invalid SupportEngagement: {describe_validation_error(exc)}") from None
    return EngagementView(
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta.get("name") or ""),
        spec=spec,
        contracted_services=contracted_services_of(raw),
    )


def triage_offline(
    request: LoadedRequest,
    engagement: EngagementView,
    matrix: CompiledMatrix,
    manifest_paths: Sequence[Path] = (),
    platform: Platform | None = None,
    now: dt.datetime | None = None,
) -> tuple[SupportRequestStatus, list[str]]:
    """The triage, and the problems met reading the manifests (file: document: error).

    The manifests become an inventory as the operator's watches would fill it, and the inputs are gathered
    from it by the operator's own :func:`~.core.triage_inputs.gather`; the request falls under
    ``engagement``, as the caller says."""
    manifests = read_manifests(manifest_paths) if manifest_paths else Manifests()
    # --matrix is the matrix, whatever the engagement's matrixRef calls it
    matrix_name = engagement.spec.matrix_name if engagement.spec is not None else matrix.name
    read = inventory_of(manifests, matrix, matrix_name)
    problems = [f"{p.file}: document {p.document}: {p.error}" for p in [*manifests.problems, *read.problems]]
    inventory = read.inventory

    platform = platform or Platform()
    opened = request.spec.ticket.opened_at or request.created or now or dt.datetime.now(dt.UTC)
    if opened.tzinfo is None:
        opened = opened.replace(tzinfo=dt.UTC)
    inputs = gather(
        request.spec,
        request.namespace,
        InventorySource(inventory, lambda _namespace, _ref: [engagement]),
        platform=platform,
        opened_at=opened,
        today=(now or dt.datetime.now(dt.UTC)).date(),
        given=engagement,
    )
    status = triage(inputs)
    diagnostics = summary(platform, [f"{p.product} {p.version} ({p.lifecycle})" for p in status.products], [])
    return status.model_copy(update={"diagnostics": diagnostics}), problems


def exit_code(status: SupportRequestStatus, problems: Sequence[str]) -> int:
    ready = next((c for c in status.conditions if c.type == "Ready"), None)
    if problems or ready is None or ready.status != "True":
        return EXIT_INPUT_ERROR
    return EXIT_IN_SCOPE if status.scope in (Scope.IN_SCOPE, Scope.THIRD_PARTY) else EXIT_OUT_OF_SCOPE


def render_json(status: SupportRequestStatus, problems: Sequence[str]) -> str:
    wire = to_wire(status)
    wire["errors"] = list(problems)
    return json.dumps(wire, indent=2)


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]


def render_table(request: LoadedRequest, status: SupportRequestStatus, problems: Sequence[str]) -> str:
    p = printable
    spec = request.spec
    lines = [f"Request:        {p(spec.title)} ({spec.category}, proposed {spec.severity})"]
    if status.engagement:
        lines.append(f"Engagement:     {p(status.engagement)} ({status.plan})")
    lines.append(f"Scope:          {status.scope} -> {status.route}: {p(status.reason)}")
    if status.severity:
        s = status.severity
        lines.append(
            f"Severity:       proposed {s.proposed}, suggested {s.suggested}" + (f": {s.note}" if s.note else "")
        )
    if status.first_response:
        fr = status.first_response
        due = f"due {fr.due.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC" if fr.due else "no due time"
        lines.append(f"First response: {p(fr.target)}, {due} ({p(fr.calendar)}); {p(fr.note)}")
    if status.products:
        lines.append("Products:")
        rows = [("PRODUCT", "VERSION", "LIFECYCLE", "ELIGIBILITY", "OWNER", "NOTE")]
        rows += [
            (
                p(a.product),
                p(a.version),
                str(a.lifecycle or "-"),
                str(a.eligibility or "-"),
                str(a.action_owner or "-"),
                p(a.note),
            )
            for a in status.products
        ]
        lines += _table(rows)
    if status.missing_information:
        lines.append("Missing:        " + "; ".join(status.missing_information))
    if status.responsibilities:
        lines.append("Next:")
        lines += _table(
            [(str(r.owner), p(r.item) + (f" ({p(r.note)})" if r.note else "")) for r in status.responsibilities]
        )
    lines.append("Conditions:")
    lines += [f"  {c.type}={c.status} {c.reason}: {p(c.message)}" for c in status.conditions]
    lines += [f"error: {p(problem)}" for problem in problems]
    return "\n".join(lines)

"""``eligibility-operator check``: the operator's evaluation, offline, over manifests.

For CI pipelines and GitOps repositories: reads files or directories of YAML or
JSON (multi-document, ``kind: List``, Helm-rendered output), skips what is not a
workload, reports what cannot be read with file and document number, and never
crashes on odd input.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .api.models import Eligibility, SupportEngagementSpec, SupportEngagementStatus
from .core.engagements import evaluate_engagement, found_in_workloads, spec_problems, to_wire
from .core.evaluation import Platform
from .core.matrix import CompiledMatrix, MatrixError, describe_validation_error, load_matrix
from .core.workloads import facts_from_object

# libyaml is an order of magnitude faster on 10,000 manifests; both loaders are safe.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

EXIT_CODES = {Eligibility.ELIGIBLE: 0, Eligibility.LIMITED: 1, Eligibility.INELIGIBLE: 3}
EXIT_INPUT_ERROR = 4  # 2 is click's usage error
PARALLEL_FROM_FILES = 16
_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$", re.MULTILINE)
_SUFFIXES = {".yaml", ".yml", ".json"}


class InputError(Exception):
    """The engagement or the matrix given to ``check`` cannot be used."""


@dataclass
class Problem:
    file: str
    document: int  # 1-based position in the file
    error: str


@dataclass
class Manifests:
    workloads: list[dict[str, Any]] = field(default_factory=list)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    documents: int = 0


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES)
        else:
            yield path


def _blank(chunk: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in chunk.splitlines())


def _documents(text: str) -> Iterator[tuple[int, int, str]]:
    """(1-based document number, line offset in the file, text) for each YAML document.

    Text before the first ``---`` is a document only if it holds more than comments
    (Helm output starts with ``---``).
    """
    chunks: list[tuple[int, str]] = []
    start = 0
    for match in _SEPARATOR.finditer(text):
        chunks.append((start, text[start : match.start()]))
        start = match.end()
    chunks.append((start, text[start:]))
    if len(chunks) > 1 and _blank(chunks[0][1]):
        chunks.pop(0)
    for number, (offset, chunk) in enumerate(chunks, start=1):
        yield number, text.count("\n", 0, offset), chunk


def _collect(obj: Any, out: Manifests, where: tuple[str, int]) -> None:
    if not isinstance(obj, dict):
        out.problems.append(Problem(where[0], where[1], f"not a Kubernetes object (a {type(obj).__name__})"))
        return
    kind = obj.get("kind")
    if kind == "List" or (isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list)):
        for item in obj.get("items") or []:
            _collect(item, out, where)
        return
    if kind == "Namespace":
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        labels = meta.get("labels")
        labels = labels if isinstance(labels, dict) else {}
        if isinstance(meta.get("name"), str):
            out.namespace_labels[meta["name"]] = {str(k): str(v) for k, v in labels.items()}
        return
    out.workloads.append(obj)


def _yaml_error(exc: yaml.YAMLError, line_offset: int) -> str:
    """A one-line YAML error with line numbers counted from the start of the file."""
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1 + line_offset}, column {mark.column + 1}" if mark is not None else ""
    context = getattr(exc, "context", None)
    return f"invalid YAML{where}: {problem}" + (f" ({context})" if context else "")


def _read_file(path: Path) -> Manifests:
    out = Manifests()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        out.problems.append(Problem(str(path), 0, f"cannot read: {exc.strerror or exc}"))
        return out
    for index, line_offset, chunk in _documents(text):
        if _blank(chunk):
            continue
        out.documents += 1
        try:
            obj = yaml.load(chunk, Loader=_Loader)
        except yaml.YAMLError as exc:
            out.problems.append(Problem(str(path), index, _yaml_error(exc, line_offset)))
            continue
        if obj is not None:
            _collect(obj, out, (str(path), index))
    return out


def read_manifests(paths: Iterable[Path], parallel_from: int = PARALLEL_FROM_FILES) -> Manifests:
    """Read every manifest under ``paths``; files are parsed in a process per core when there are many.

    Building Python objects from YAML dominates (80 % of ``check`` on 10,000 manifests); it is
    CPU-bound Python, so only processes use more than one core.
    """
    files = list(_files(paths))
    if len(files) >= parallel_from and (os.cpu_count() or 1) > 1:
        with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
            parts = list(pool.map(_read_file, files, chunksize=max(1, len(files) // (4 * (os.cpu_count() or 1)))))
    else:
        parts = [_read_file(path) for path in files]
    out = Manifests()
    for part in parts:
        out.workloads.extend(part.workloads)
        out.namespace_labels.update(part.namespace_labels)
        out.problems.extend(part.problems)
        out.documents += part.documents
    return out


def load_engagement(path: Path) -> SupportEngagementSpec:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the engagement: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "SupportEngagement":
        raise InputError(f"{path}: expected a SupportEngagement")
    try:
        return SupportEngagementSpec.model_validate(doc.get("spec") or {})
    except ValidationError as exc:
        raise InputError(f"{path}: invalid SupportEngagement: {describe_validation_error(exc)}") from None


def load_matrix_file(path: Path | None) -> CompiledMatrix:
    from .defaults import default_matrix

    try:
        doc = default_matrix() if path is None else yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the matrix: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "CompatibilityMatrix":
        raise InputError(f"{path}: expected a CompatibilityMatrix")
    name = str((doc.get("metadata") or {}).get("name") or "default")
    try:
        return load_matrix(name, 0, doc.get("spec"))
    except MatrixError as exc:
        raise InputError(f"{path or 'default matrix'}: invalid CompatibilityMatrix: {exc}") from None


@dataclass
class CheckResult:
    status: SupportEngagementStatus
    problems: list[Problem]
    documents: int
    workloads: int

    @property
    def exit_code(self) -> int:
        if self.problems:
            return EXIT_INPUT_ERROR
        return EXIT_CODES.get(Eligibility(self.status.eligibility), EXIT_INPUT_ERROR)

    def as_json(self) -> dict[str, Any]:
        """The status as the operator would write it (same field names), plus what was read."""
        wire = to_wire(self.status)
        return {
            "eligibility": wire.get("eligibility"),
            "reason": wire.get("reason", ""),
            "products": wire.get("products", []),
            "uncoveredProducts": wire.get("uncoveredProducts", []),
            "conditions": wire.get("conditions", []),
            **{k: v for k, v in wire.items() if k not in ("observedGeneration", "matrix")},
            "documents": self.documents,
            "workloads": self.workloads,
            "errors": [{"file": p.file, "document": p.document, "error": p.error} for p in self.problems],
        }


def check(
    paths: Iterable[Path],
    spec: SupportEngagementSpec,
    matrix: CompiledMatrix,
    platform: Platform | None = None,
    today: dt.date | None = None,
) -> CheckResult:
    problems = spec_problems(spec, matrix)
    if problems:
        raise InputError("invalid SupportEngagement: " + "; ".join(problems))
    manifests = read_manifests(paths)
    facts = [f for f in map(facts_from_object, manifests.workloads) if f is not None]
    found = found_in_workloads(spec, matrix, facts, manifests.namespace_labels)
    status = evaluate_engagement(spec, matrix, found, platform or Platform(), today or dt.datetime.now(dt.UTC).date())
    return CheckResult(status=status, problems=manifests.problems, documents=manifests.documents, workloads=len(facts))


def _terms_lines(status: SupportEngagementStatus) -> list[str]:
    """Agreement, credits, support terms, response targets, responsibilities and scope, one topic a line."""
    lines = []
    if status.agreement:
        lines.append(f"Agreement: {status.agreement.message}")
    if status.service_credits:
        credits = status.service_credits
        lines.append(f"Service credits: {'apply' if credits.applicable else 'do not apply'} ({credits.reason})")
    if status.support_terms:
        terms = status.support_terms
        lines.append(
            f"Support terms: {terms.plan}, {terms.coverage_hours}; channels: {', '.join(terms.channels)}"
            + (f"; {', '.join(terms.benefits)}" if terms.benefits else "")
        )
    if status.response_targets:
        targets = ", ".join(f"{t.severity} {t.first_response}" for t in status.response_targets)
        lines.append(f"First-response targets: {targets}")
    if status.platform and status.platform.lifecycle:
        platform = status.platform
        owner = f" ({platform.action_owner} action)" if platform.action_owner else ""
        end = f", end of maintenance {platform.end_of_maintenance}" if platform.end_of_maintenance else ""
        lines.append(f"Platform: {platform.release} {platform.lifecycle}{end}{owner}")
    by_owner: dict[str, list[str]] = {}
    for row in status.responsibilities:
        by_owner.setdefault(str(row.owner), []).append(row.item + (f" ({row.note})" if row.note else ""))
    for owner, items in by_owner.items():
        lines.append(f"Responsibilities of {owner}: {'; '.join(items)}")
    if status.scope:
        lines.append(f"In scope: {'; '.join(status.scope.included)}")
        lines.append(f"Out of scope: {'; '.join(status.scope.excluded)}")
        lines.append(f"Needs a separate agreement: {'; '.join(status.scope.separate_agreement)}")
    return lines


def render_table(result: CheckResult) -> str:
    """Products (one row per product, edition and version), the verdict, then the terms."""
    rows = [
        (
            "PRODUCT",
            "EDITION",
            "VERSION",
            "LIFECYCLE",
            "ELIGIBILITY",
            "OWNER",
            "END OF SUPPORT",
            "UPGRADE TO",
            "WORKLOADS",
        )
    ]
    for p in result.status.products:
        rows.append(
            (
                p.product,
                str(p.edition or "-"),
                p.version,
                str(p.lifecycle),
                str(p.eligibility or "-"),
                str(p.action_owner or "-"),
                str(p.end_of_support or "-"),
                p.recommended_version or "-",
                ", ".join(p.workloads)
                + (f" (+{p.workload_count - len(p.workloads)})" if p.workload_count > len(p.workloads) else ""),
            )
        )
    for p in result.status.uncovered_products:
        rows.append(
            (p.product, str(p.edition or "-"), p.version, "not covered", "-", "-", "-", "-", ", ".join(p.workloads))
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]
    lines.append("")
    lines.append(f"Eligibility: {result.status.eligibility} ({result.status.reason})")
    for condition in result.status.conditions:
        if condition.type != "Ready":
            lines.append(f"  {condition.type}={condition.status} {condition.reason}: {condition.message}")
    lines.extend(_terms_lines(result.status))
    lines.append(f"Read {result.documents} documents, {result.workloads} workloads.")
    for problem in result.problems:
        lines.append(f"error: {problem.file}: document {problem.document}: {problem.error}")
    return "\n".join(lines)


def render_json(result: CheckResult) -> str:
    return json.dumps(result.as_json(), indent=2)

"""``eligibility-operator check``: the operator's evaluation, offline, over manifests.

For CI pipelines and GitOps repositories. Reading the input (files, documents,
engagement, matrix) is :mod:`.check_input`; this module evaluates and renders.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .api.models import Eligibility, SupportEngagementSpec, SupportEngagementStatus
from .check_input import InputError, Problem, load_engagement, load_matrix_file, read_manifests
from .core.coverage import covers
from .core.detection import Detection, detect
from .core.engagements import spec_problems, to_wire
from .core.evaluation import Platform, evaluate
from .core.matrix import CompiledMatrix
from .core.workloads import facts_from_object

__all__ = ["InputError", "Problem", "load_engagement", "load_matrix_file", "read_manifests"]  # re-exported

EXIT_CODES = {Eligibility.ELIGIBLE: 0, Eligibility.LIMITED: 1, Eligibility.INELIGIBLE: 3}
EXIT_INPUT_ERROR = 4  # 2 is click's usage error


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
        wire = to_wire(self.status)
        return {
            "eligibility": wire.get("eligibility"),
            "reason": wire.get("reason", ""),
            "products": wire.get("products", []),
            "uncoveredProducts": wire.get("uncoveredProducts", []),
            "conditions": wire.get("conditions", []),
            "platform": wire.get("platform", {}),
            "serviceCredits": wire.get("serviceCredits", {}),
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
    found: list[tuple[str, Detection]] = []
    workloads = 0
    for obj in manifests.workloads:
        facts = facts_from_object(obj)
        if facts is None:
            continue
        workloads += 1
        if not covers(spec.coverage, facts.namespace, manifests.namespace_labels.get(facts.namespace)):
            continue
        found.extend((facts.ref, d) for d in detect(matrix, facts))
    status = evaluate(spec, matrix, found, platform or Platform(), today or dt.datetime.now(dt.UTC).date()).status
    return CheckResult(status=status, problems=manifests.problems, documents=manifests.documents, workloads=workloads)


def render_table(result: CheckResult) -> str:
    rows = [("PRODUCT", "VERSION", "LIFECYCLE", "END OF SUPPORT", "UPGRADE TO", "WORKLOADS")]
    for p in result.status.products:
        rows.append(
            (
                p.product,
                p.version,
                str(p.lifecycle),
                str(p.end_of_support or "-"),
                p.recommended_version or "-",
                ", ".join(p.workloads)
                + (f" (+{p.workload_count - len(p.workloads)})" if p.workload_count > len(p.workloads) else ""),
            )
        )
    for p in result.status.uncovered_products:
        rows.append((p.product, p.version, "not covered", "-", "-", ", ".join(p.workloads)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]
    lines.append("")
    lines.append(f"Eligibility: {result.status.eligibility} ({result.status.reason})")
    for condition in result.status.conditions:
        if condition.type != "Ready":
            lines.append(f"  {condition.type}={condition.status} {condition.reason}: {condition.message}")
    lines.append(f"Read {result.documents} documents, {result.workloads} workloads.")
    for problem in result.problems:
        lines.append(f"error: {problem.file}: document {problem.document}: {problem.error}")
    return "\n".join(lines)


def render_json(result: CheckResult) -> str:
    return json.dumps(result.as_json(), indent=2)

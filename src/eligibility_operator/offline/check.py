"""``eligibility-operator check``: the operator's evaluation, offline, over manifests.

For CI pipelines and GitOps repositories. Reading the input (files, documents,
engagement, matrix) is :mod:`.manifests`, turning it into the operator's inventory
:mod:`.inventory`; the verdict is the operator's own ``assess``; this module renders.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api.models import (
    ConditionType,
    Eligibility,
    EngagementType,
    Plan,
    SupportEngagementSpec,
    SupportEngagementStatus,
)
from ..core.base.status_wire import to_wire
from ..core.compat.matrix import CompiledMatrix
from ..core.verdict.engagements import EngagementRecord, assess
from ..core.verdict.evaluation import Platform
from ..core.verdict.findings import FindingCode
from ..core.verdict.spec_checks import spec_problems
from .files import Found, InputError, Manifests, Problem, Skipped
from .inventory import ReadInventory, inventory_of
from .loading import load_engagement, load_matrix_file
from .manifests import HELM_TEMPLATE_REASON, TEMPLATE_REASON, read_manifests

__all__ = ["InputError", "Problem", "load_engagement", "load_matrix_file", "read_manifests"]  # re-exported

EXIT_CODES = {Eligibility.ELIGIBLE: 0, Eligibility.LIMITED: 1, Eligibility.INELIGIBLE: 3}
EXIT_INPUT_ERROR = 4  # 2 is click's usage error


def any_engagement() -> SupportEngagementSpec:
    """What ``check`` judges by without ``--engagement``: an engagement covering every product in every
    namespace, ProductSupport under the Standard plan (no horizon, so nothing plan-specific)."""
    return SupportEngagementSpec(customer="(no engagement)", type=EngagementType.PRODUCT_SUPPORT, plan=Plan.STANDARD)


@dataclass
class CheckResult:
    status: SupportEngagementStatus
    problems: list[Problem]
    documents: int
    workloads: int
    skipped: list[Skipped] = field(default_factory=list)
    duplicates: list[tuple[str, list[str]]] = field(default_factory=list)  # object, files defining it
    engagement: bool = True  # judged by a real engagement (else: any_engagement(), terms left out)
    found: list[Found] = field(default_factory=list)  # where each workload was read (file, document, line)
    platform: Platform = field(default_factory=Platform)

    @property
    def exit_code(self) -> int:
        if self.problems:
            return EXIT_INPUT_ERROR
        return EXIT_CODES.get(Eligibility(self.status.eligibility), EXIT_INPUT_ERROR)

    def as_json(self) -> dict[str, Any]:
        wire = to_wire(self.status)
        left_out = {"observedGeneration", "matrix"} | (set() if self.engagement else _TERMS_KEYS)
        return {
            "eligibility": wire.get("eligibility"),
            "reason": wire.get("reason", ""),
            "products": wire.get("products", []),
            "uncoveredProducts": wire.get("uncoveredProducts", []),
            "conditions": wire.get("conditions", []),
            **{k: v for k, v in wire.items() if k not in left_out},
            "engagement": self.engagement,
            "documents": self.documents,
            "workloads": self.workloads,
            "errors": [
                {"code": str(FindingCode.INVALID_INPUT), "file": p.file, "document": p.document, "error": p.error}
                for p in self.problems
            ],
            "skipped": [{"file": s.file, "document": s.document, "reason": s.reason} for s in self.skipped],
            "duplicates": [{"object": ref, "files": files} for ref, files in self.duplicates],
        }


# Engagement terms a check without --engagement leaves out: they would describe a contract nobody signed.
_TERMS_KEYS = {"responsibilities", "scope", "responseTargets", "serviceCredits", "agreement", "supportTerms"}


def check(
    paths: Iterable[Path],
    spec: SupportEngagementSpec | None,
    matrix: CompiledMatrix,
    platform: Platform | None = None,
    today: dt.date | None = None,
    strict: bool = False,
) -> CheckResult:
    """Evaluate the manifests under ``paths`` (``-`` is standard input); ``strict`` makes every skipped
    file or document an error. Without ``spec``: as an engagement covering everything would judge."""
    if spec is not None:
        _valid(spec, matrix)
    paths = list(paths)
    manifests = read_manifests(paths)
    return judge(manifests, spec, matrix, platform, today, strict, ", ".join(str(p) for p in paths))


def _valid(spec: SupportEngagementSpec, matrix: CompiledMatrix) -> None:
    problems = spec_problems(spec, matrix)
    if problems:
        raise InputError("invalid SupportEngagement: " + "; ".join(problems))


def judge(
    manifests: Manifests,
    spec: SupportEngagementSpec | None,
    matrix: CompiledMatrix,
    platform: Platform | None = None,
    today: dt.date | None = None,
    strict: bool = False,
    where: str = "",
    read: ReadInventory | None = None,
) -> CheckResult:
    """The verdict on what was read (from files, or listed from a cluster), by the operator's ``assess``.
    ``read``: the inventory of ``manifests`` when already built (several engagements over one cluster)."""
    given = spec is not None
    spec = spec if spec is not None else any_engagement()
    _valid(spec, matrix)
    read = read or inventory_of(manifests, matrix, spec.matrix_name)
    errors = [*manifests.problems, *read.problems]
    if strict:
        errors.extend(Problem(s.file, s.document, f"skipped (--strict): {s.reason}") for s in manifests.skipped)
    if manifests.objects == 0 and not errors:
        errors.append(
            Problem(where, 0, f"nothing to check: no Kubernetes object in {_count(manifests.files, 'file')} read")
        )
    platform = platform or Platform()
    if platform.openshift is None and manifests.openshift_versions:
        versions = sorted(manifests.openshift_versions)
        if len(versions) > 1:
            errors.append(
                Problem(
                    manifests.openshift_versions[versions[-1]],
                    0,
                    f"ClusterVersion objects disagree: OpenShift {', '.join(versions)}; give --openshift-version",
                )
            )
        platform = Platform(platform.kubernetes, versions[0])
    # the engagement as the operator keeps one, judged by the operator's own assess()
    record = EngagementRecord("", "", "", generation=None, spec=spec, spec_error=None, written=None)
    status = assess(record, read.inventory, platform, today or dt.datetime.now(dt.UTC).date())
    return CheckResult(
        status=status,
        problems=errors,
        documents=manifests.documents,
        workloads=len(read.files_of),
        skipped=manifests.skipped,
        duplicates=[(facts.ref, files) for facts, files in read.files_of.items() if len(files) > 1],
        engagement=given,
        found=manifests.workloads,
        platform=platform,
    )


# Control characters (C0, DEL, C1) and Unicode line/paragraph separators: in names they could fake
# lines of the table; shown as escapes instead.
_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]} | {0x2028: "\\u2028", 0x2029: "\\u2029"}


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b``), so one value is always one line."""
    return text.translate(_ESCAPES)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _skipped_summary(skipped: list[Skipped]) -> str:
    templates = sum(1 for s in skipped if s.reason in (HELM_TEMPLATE_REASON, TEMPLATE_REASON))
    files = len({s.file for s in skipped})
    extra = f", {templates} of them Helm chart templates (render them first: helm template)" if templates else ""
    what = (
        "1 file or document that is not a Kubernetes object"
        if files == 1
        else (f"{files} files or documents that are not Kubernetes objects")
    )
    return f"Skipped {what}{extra}; --strict makes them errors."


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
        codes = f" [{', '.join(p.codes)}]" if p.codes else ""  # the finding codes, see docs/reference/findings.md
        rows.append(
            (
                p.product,
                str(p.edition or "-"),
                p.version,
                str(p.lifecycle),
                str(p.eligibility or "-") + codes,
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
        if condition.type != ConditionType.READY:
            lines.append(f"  {condition.type}={condition.status} {condition.reason}: {condition.message}")
    if result.engagement:
        lines.extend(_terms_lines(result.status))
    else:
        lines.append("No --engagement: judged as an engagement covering every product in every namespace would.")
    lines.append(f"Read {_count(result.documents, 'document')}, {_count(result.workloads, 'workload')}.")
    if result.skipped:
        lines.append(_skipped_summary(result.skipped))
    for ref, files in result.duplicates:
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        lines.append(f"note: {ref} is defined in {len(files)} files, counted once: {shown}")
    for problem in result.problems:
        lines.append(f"error: {problem.file}: document {problem.document}: {problem.error}")
    return "\n".join(printable(line) for line in lines)


def render_errors(result: CheckResult) -> str:
    """The input errors alone, one a line: what is shown instead of a report when there is no verdict."""
    return "\n".join(
        printable(f"error: {problem.file}: document {problem.document}: {problem.error}") for problem in result.problems
    )


def render_json(result: CheckResult) -> str:
    return json.dumps(result.as_json(), indent=2)

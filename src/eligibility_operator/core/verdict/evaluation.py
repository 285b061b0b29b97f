"""Engagement evaluation: detections + matrix + engagement -> status. Pure.

The steps, each a function of its own: group the detections by product version
and judge each (:func:`judge_version`), reduce the per-product eligibilities
to the engagement's (:func:`reduce_eligibility`), then service credits,
conditions and messages. The rules are the README's "Eligibility rules" table;
every finding names product, version, workloads and who must act.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ...api.models import (
    Condition,
    ConditionType,
    Edition,
    Eligibility,
    Lifecycle,
    Party,
    Plan,
    PlatformStatus,
    ProductStatus,
    SupportEngagementSpec,
    SupportEngagementStatus,
)
from ..base.conditions import condition
from ..compat.matrix import CompiledMatrix
from ..compat.platforms import Platform, PlatformJudgement, judge_platform
from ..compat.versions import Version
from ..products.detection import Detection
from . import policy
from .findings import FindingCode
from .judgement import (
    DEFAULT_HORIZON_DAYS,
    OUT_OF_SUPPORT,
    AgreementTerm,
    Judgement,
    VersionVerdict,
    agreement_term,
    horizon_days,
    judge,
    judge_version,
    owner_words,
    reduce_eligibility,
    service_credits,
    worst_first,
)
from .messages import shorten
from .platform_status import platform_reason, platform_status_of
from .spec_checks import spec_problems

__all__ = [
    "CONDITION_TYPES",
    "DEFAULT_HORIZON_DAYS",
    "Judgement",
    "Platform",
    "VersionVerdict",
    "agreement_term",
    "evaluate",
    "horizon_days",
    "judge",
    "judge_version",
    "owner_words",
    "reduce_eligibility",
    "service_credits",
]

MAX_LISTED_WORKLOADS = 20
READY, ELIGIBLE, AGREEMENT, VERSIONS, PLATFORM, UPGRADE = (
    ConditionType.READY,
    ConditionType.ELIGIBLE,
    ConditionType.AGREEMENT_IN_FORCE,
    ConditionType.VERSIONS_SUPPORTED,
    ConditionType.PLATFORM_COMPATIBLE,
    ConditionType.UPGRADE_RECOMMENDED,
)
CONDITION_TYPES = (READY, ELIGIBLE, AGREEMENT, VERSIONS, PLATFORM, UPGRADE)


# ---------------------------------------------------------- the evaluation


@dataclass
class _Group:
    product: str
    edition: Edition | None
    version: Version | None
    detection: Detection
    workloads: list[str] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)  # what gave the version (image tag, chart label, ...)


@dataclass(frozen=True)
class _Judged:
    status: ProductStatus
    verdict: VersionVerdict
    where: str  # workloads in words


@dataclass(frozen=True)
class Evaluation:
    status: SupportEngagementStatus
    reasons: tuple[str, ...]  # every finding that reduced eligibility, human-readable


def _group(found: Iterable[tuple[str, Detection]]) -> list[_Group]:
    groups: dict[tuple[str, Edition | None, str, bool], _Group] = {}
    for workload, det in found:
        key = (det.product, det.edition, det.version_text, det.matrix_behind)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(det.product, det.edition, det.version, det)
        group.workloads.append(workload)
        if det.source:
            group.sources.add(det.source)
    return sorted(groups.values(), key=lambda g: (g.product, g.version.core if g.version else (-1,), str(g.edition)))


def _workload_text(workloads: list[str]) -> str:
    shown = ", ".join(workloads[:3])
    return shown + (f" and {len(workloads) - 3} more" if len(workloads) > 3 else "")


def _edition_label(edition: Edition | None) -> str:
    return f" ({edition})" if edition == Edition.ENTERPRISE else ""


def _judge_groups(
    spec: SupportEngagementSpec,
    matrix: CompiledMatrix,
    found: Iterable[tuple[str, Detection]],
    platform: Platform,
    today: dt.date,
) -> tuple[list[_Judged], list[ProductStatus]]:
    """Step 1: group detections by product version and judge each covered one."""
    covered = {p.name for p in spec.products} if spec.products else None
    judged: list[_Judged] = []
    uncovered: list[ProductStatus] = []
    for g in _group(found):
        listed = sorted(set(g.workloads))  # an OLM install's Deployments report as their one CSV
        version_text = g.detection.version_text
        entry = matrix.products.get(g.product)
        common = {
            "product": g.product,
            "edition": g.edition,
            "version": version_text,
            "workloads": listed[:MAX_LISTED_WORKLOADS],
            "workload_count": len(listed),
        }
        if entry is None or (covered is not None and g.product not in covered):
            why = "not in the matrix" if entry is None else "not covered by this engagement"
            uncovered.append(ProductStatus(reason=why, codes=[str(FindingCode.PRODUCT_NOT_COVERED)], **common))
            continue
        verdict = judge_version(spec, entry, g.detection, platform, today, matrix.newest_platform_lines)
        j = verdict.judgement
        reason = "; ".join(verdict.notes)
        status = ProductStatus(
            lifecycle=j.lifecycle,
            end_of_support=j.end_of_support,
            recommended_version=j.recommended,
            eligibility=verdict.eligibility,
            action_owner=verdict.owner,
            codes=[str(code) for code in verdict.codes] or None,
            reason=shorten(reason),
            version_source=", ".join(sorted(g.sources)) or None,
            matrix_behind=True if j.matrix_behind else None,
            **common,
        )
        judged.append(_Judged(status, verdict, _workload_text(listed)))
    return judged, uncovered


def _cond(type_: str, ok: bool | None, reason: str, message: str, generation: int | None) -> Condition:
    """A condition whose message drops whole findings to fit ("; and 3 more (see status.products)")."""
    return condition(type_, ok, reason, shorten(message), generation)


def _finding_lines(judged: Sequence[_Judged], counted: bool) -> list[str]:
    """'<owner>: <finding> in <workloads>' for the findings that do (or, Stakater's, do not) count."""
    lines: list[str] = []
    for item in judged:
        verdict = item.verdict
        if verdict.counted == counted:
            lines.extend(f"{owner_words(verdict.owner)}: {finding} in {item.where}" for finding in verdict.findings)
        if not counted:
            lines.extend(f"{owner_words(Party.STAKATER)}: {task} in {item.where}" for task in verdict.stakater_items)
    return lines


def _subject(item: _Judged) -> str:
    return f"{item.status.product} {item.status.version}{_edition_label(item.status.edition)}"


def _eligible_message(
    eligibility: Eligibility, judged: Sequence[_Judged], term: AgreementTerm, stakater_items: list[str]
) -> tuple[str, str, tuple[str, ...]]:
    """(short reason for the printer column, the Eligible condition's message, the reducing findings)."""
    reducing = tuple(_finding_lines(judged, counted=True))
    affected = [j for j in judged if j.status.eligibility != Eligibility.ELIGIBLE]
    fine = [_subject(j) for j in judged if j.status.eligibility == Eligibility.ELIGIBLE]
    stakater_note = (
        f"; {len(stakater_items)} Stakater action item(s), not counted against eligibility: {'; '.join(stakater_items)}"
        if stakater_items
        else ""
    )
    if not term.status.in_force:
        short = term.status.message.split(";")[0]
        return short, term.status.message + "; ".join(("", *reducing)) + stakater_note, (term.status.message, *reducing)
    if not judged:
        short = "no covered Stakater product found"
        return short, short + " in the covered namespaces", ()
    if eligibility == Eligibility.ELIGIBLE:
        short = "all covered product versions are eligible"
        if stakater_items:
            short += f"; {len(stakater_items)} Stakater action item(s)"
        return short, "all covered product versions are eligible" + stakater_note, ()
    names = ", ".join(f"{_subject(j)} ({owner_words(j.verdict.owner)})" for j in affected[:3])
    names += f" (+{len(affected) - 3} more)" if len(affected) > 3 else ""
    if eligibility == Eligibility.LIMITED:
        short = f"Limited Support: {names}"
        message = (
            f"Limited Support: support cannot be confirmed or does not apply for {len(affected)} of {len(judged)} "
            f"covered product versions: {'; '.join(reducing)}. Still fully supported: {', '.join(fine)}"
        )
    else:
        short = f"no covered product version is eligible: {names}"
        message = f"no covered product version is eligible: {'; '.join(reducing)}"
    return short, message + stakater_note, reducing


def _out_of_support(j: Judgement) -> bool:
    """EndOfLife or Unknown; a version newer than the matrix lists is neither (the matrix is behind)."""
    return j.lifecycle in OUT_OF_SUPPORT and not j.matrix_behind


def _versions_condition(judged: Sequence[_Judged], stakater: bool, generation: int | None) -> Condition:
    lines = []
    behind = [
        f"{item.verdict.judgement.reason} in {item.where} [{owner_words(Party.STAKATER)}]"
        for item in judged
        if item.verdict.judgement.matrix_behind
    ]
    for item in judged:
        j = item.verdict.judgement
        if _out_of_support(j):
            state = "is end of life" if j.lifecycle == Lifecycle.END_OF_LIFE else "has an unknown lifecycle"
            lines.append(f"{_subject(item)} {state} ({j.reason}) in {item.where} [{owner_words(item.verdict.owner)}]")
    reason = "AllVersionsSupported"
    if any(j.verdict.judgement.lifecycle == Lifecycle.END_OF_LIFE for j in judged):
        reason = "EndOfLifeVersions"
    elif lines:
        reason = "UnknownVersions"
    message = "; ".join(lines) or "all covered product versions are supported"
    if lines and stakater:
        message += " (version maintenance is Stakater's under this managed-service agreement)"
    if behind:
        # Newer than the matrix lists: not a finding against the versions (upgrading is never punished).
        reason = "MatrixBehind" if not lines else reason
        message = "; ".join(
            (*lines, *behind) if lines else ("covered versions are supported or newer than the matrix lists", *behind)
        )
    return _cond(VERSIONS, not lines, reason, message, generation)


def _upgrade_condition(
    spec: SupportEngagementSpec,
    judged: Sequence[_Judged],
    platform_status: PlatformStatus,
    platform_judgement: PlatformJudgement | None,
    generation: int | None,
) -> Condition:
    lines = []
    for item in judged:
        j, owner = item.verdict.judgement, item.verdict.owner
        if j.lifecycle in (Lifecycle.END_OF_LIFE, Lifecycle.DEPRECATED):
            target = f" to {j.recommended}" if j.recommended else ""
            lines.append(f"{owner_words(owner)}: upgrade {_subject(item)}{target} in {item.where} ({j.reason})")
    reason = "EndOfLife" if any(j.verdict.judgement.lifecycle == Lifecycle.END_OF_LIFE for j in judged) else ""
    if platform_status.action_owner is not None and platform_judgement is not None:
        target = f" (newest listed: {platform_judgement.newest})" if platform_judgement.newest else ""
        lines.append(
            f"{owner_words(platform_status.action_owner)}: upgrade the platform from "
            f"{platform_judgement.release}{target}: {platform_judgement.reason}"
        )
        if not reason and platform_judgement.lifecycle == Lifecycle.END_OF_LIFE:
            reason = "PlatformEndOfMaintenance"
    if not reason:
        reason = "EndOfSupportApproaching" if lines else "NoUpgradeNeeded"
    message = "; ".join(lines) or "no upgrade needed"
    if spec.plan == Plan.STANDARD and spec.upgrade_horizon_days is not None:
        message += (
            f"; spec.upgradeHorizonDays ({spec.upgrade_horizon_days}) is ignored under the Standard plan: "
            "upgrade guidance is reactive (on request), so there is no advance warning"
        )
    return _cond(UPGRADE, bool(lines), reason, message, generation)


def evaluate(
    spec: SupportEngagementSpec,
    matrix: CompiledMatrix,
    found: Iterable[tuple[str, Detection]],
    platform: Platform,
    today: dt.date,
    generation: int | None = None,
) -> Evaluation:
    """The one evaluation entry point (operator, ``check``, ``triage``, benchmark, test oracle).

    ``found`` holds the detections in the engagement's covered namespaces only; a spec with
    semantic problems is not evaluated (``Ready=False/InvalidSpec``).
    """
    problems = spec_problems(spec, matrix)
    if problems:
        return Evaluation(status=not_ready("InvalidSpec", "; ".join(problems), generation, None), reasons=())
    judged, uncovered = _judge_groups(spec, matrix, found, platform, today)
    term = agreement_term(spec, today)
    eligibility = reduce_eligibility(
        (j.status.eligibility or Eligibility.ELIGIBLE for j in judged), term.status.in_force
    )
    stakater = policy.stakater_maintains_versions(spec)
    stakater_items = _finding_lines(judged, counted=False)
    short, eligible_msg, reasons = _eligible_message(eligibility, judged, term, stakater_items)

    platform_judgement = judge_platform(matrix.platforms, platform, today, horizon_days(spec))
    verdicts = [j.verdict for j in judged]
    platform_status = platform_status_of(spec, verdicts, platform, platform_judgement)
    compatible = platform_status.compatible
    agreement_reason = "InForce"
    if not term.status.in_force:
        agreement_reason = "Expired" if term.status.expires_on and today > term.status.expires_on else "NotYetEffective"
    elif term.expiring:
        agreement_reason = "ExpiresSoon"
    conditions = [
        _cond(READY, True, "Evaluated", f"evaluated against CompatibilityMatrix {matrix.name!r}", generation),
        _cond(ELIGIBLE, eligibility == Eligibility.ELIGIBLE, str(eligibility), eligible_msg, generation),
        _cond(AGREEMENT, term.status.in_force, agreement_reason, term.status.message, generation),
        _versions_condition(judged, stakater, generation),
        _cond(
            PLATFORM,
            compatible,
            platform_reason(compatible, verdicts, platform),
            platform_status.message or "every detected product supports this platform",
            generation,
        ),
        _upgrade_condition(spec, judged, platform_status, platform_judgement, generation),
    ]
    integrations = sorted({i for j in judged for i in matrix.products[j.status.product].spec.integrations})
    status = SupportEngagementStatus(
        observed_generation=generation,
        eligibility=eligibility,
        reason=short[:256],
        products_out_of_support=sum(1 for j in judged if _out_of_support(j.verdict.judgement)),
        products_not_eligible=sum(1 for j in judged if j.status.eligibility != Eligibility.ELIGIBLE),
        conditions=conditions,
        products=worst_first([j.status for j in judged]),
        products_total=len(judged),
        uncovered_products=worst_first(uncovered),
        uncovered_products_total=len(uncovered),
        platform=platform_status,
        responsibilities=policy.responsibilities(spec),
        scope=policy.scope(spec, integrations),
        response_targets=policy.response_targets(spec),
        service_credits=service_credits(spec, eligibility),
        agreement=term.status,
        support_terms=policy.support_terms(spec),
        matrix=matrix.name,
        matrix_revision=matrix.revision,
    )
    return Evaluation(status=status, reasons=reasons)


def not_ready(
    reason: str, message: str, generation: int | None, previous: SupportEngagementStatus | None
) -> SupportEngagementStatus:
    """Status when the engagement cannot be evaluated: keep the last good evaluation, say why."""
    base = previous or SupportEngagementStatus(eligibility=Eligibility.UNKNOWN, reason=message[:256])
    conditions = [c for c in base.conditions if c.type != READY]
    conditions.insert(0, _cond(READY, False, reason, message, generation))
    if previous is None:
        conditions.append(_cond(ELIGIBLE, None, reason, "not evaluated yet: " + message, generation))
    return base.model_copy(update={"conditions": conditions, "observed_generation": generation})

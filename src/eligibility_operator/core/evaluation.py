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

from ..api.models import (
    MAX_STATUS_PRODUCTS,
    AgreementStatus,
    Condition,
    ConditionStatus,
    ConditionType,
    Edition,
    Eligibility,
    Lifecycle,
    Party,
    Plan,
    PlatformStatus,
    ProductStatus,
    ServiceCreditStatus,
    SupportEngagementSpec,
    SupportEngagementStatus,
)
from . import policy
from .detection import Detection
from .matrix import CompiledMatrix, ProductEntry
from .messages import shorten
from .platforms import Platform, PlatformJudgement, in_range, judge_platform
from .versions import Version, parse_version

__all__ = ["Platform", "evaluate", "judge", "judge_version", "reduce_eligibility", "service_credits"]

MAX_LISTED_WORKLOADS = 20
DEFAULT_HORIZON_DAYS = 90
READY, ELIGIBLE, AGREEMENT, VERSIONS, PLATFORM, UPGRADE = (
    ConditionType.READY,
    ConditionType.ELIGIBLE,
    ConditionType.AGREEMENT_IN_FORCE,
    ConditionType.VERSIONS_SUPPORTED,
    ConditionType.PLATFORM_COMPATIBLE,
    ConditionType.UPGRADE_RECOMMENDED,
)
CONDITION_TYPES = (READY, ELIGIBLE, AGREEMENT, VERSIONS, PLATFORM, UPGRADE)
OUT_OF_SUPPORT = (Lifecycle.END_OF_LIFE, Lifecycle.UNKNOWN)


@dataclass(frozen=True, slots=True)
class Judgement:
    """The lifecycle of one product version."""

    lifecycle: Lifecycle
    end_of_support: dt.date | None
    recommended: str | None  # never lower than the version judged
    reason: str
    # The version is newer than the newest line the matrix lists (or the matrix lists no line of the
    # product): the matrix is behind, which is Stakater's to fix; upgrading must never lower eligibility.
    matrix_behind: bool = False


def horizon_days(spec: SupportEngagementSpec) -> int:
    """Premium is warned ``upgradeHorizonDays`` (default 90) ahead; Standard gets no advance warning."""
    if spec.plan != Plan.PREMIUM:
        return 0
    return DEFAULT_HORIZON_DAYS if spec.upgrade_horizon_days is None else spec.upgrade_horizon_days


def owner_words(owner: Party | None) -> str:
    """How a message says who acts: "customer action" or "Stakater action item"."""
    return "Stakater action item" if owner == Party.STAKATER else "customer action"


# ------------------------------------------------------------ step 1: judge


def judge(
    entry: ProductEntry, version: Version | None, today: dt.date, horizon: int, unknown_reason: str = ""
) -> Judgement:
    """Lifecycle of ``version`` of ``entry`` on ``today``."""
    recommended = entry.recommended
    if version is not None and recommended is not None:
        target = parse_version(recommended)
        if target is not None and version.core > target.core:
            recommended = None  # never recommend a downgrade
    if version is None:
        return Judgement(Lifecycle.UNKNOWN, None, recommended, unknown_reason or "version could not be determined")
    if version.parts == 1:
        return Judgement(
            Lifecycle.UNKNOWN,
            None,
            recommended,
            f"{version} names a major version only (a floating tag); pin a full version",
        )
    line = entry.line_for(version)
    if line is None:
        if not entry.lines:
            return Judgement(
                Lifecycle.UNKNOWN,
                None,
                recommended,
                f"matrix behind: {entry.name} {version} is not listed yet "
                f"(the matrix lists no releases of {entry.name})",
                matrix_behind=True,
            )
        oldest, newest = entry.lines[0], entry.lines[-1]
        if version.core < oldest.line.core:
            return Judgement(
                Lifecycle.END_OF_LIFE,
                None,
                recommended,
                f"{version} is older than the oldest release line in the matrix ({oldest.label})",
            )
        if version.core > newest.line.core:
            return Judgement(
                Lifecycle.UNKNOWN,
                None,
                recommended,
                f"matrix behind: {entry.name} {version} is not listed yet (newest listed release line: {newest.label})",
                matrix_behind=True,
            )
        return Judgement(Lifecycle.UNKNOWN, None, recommended, f"{version} is not a release listed in the matrix")
    eos = line.end_of_support
    if eos is None:
        return Judgement(Lifecycle.SUPPORTED, None, recommended, f"release line {line.label} is supported")
    if today > eos:
        return Judgement(
            Lifecycle.END_OF_LIFE, eos, recommended, f"release line {line.label} reached end of support on {eos}"
        )
    days = (eos - today).days
    if days <= horizon:
        return Judgement(
            Lifecycle.DEPRECATED,
            eos,
            recommended,
            f"release line {line.label} ends support on {eos}, in {days} days "
            f"(within the {horizon}-day upgrade horizon)",
        )
    return Judgement(Lifecycle.SUPPORTED, eos, recommended, f"release line {line.label} is supported until {eos}")


def platform_problems(entry: ProductEntry, platform: Platform) -> list[str]:
    """Where the cluster's platform is outside the product's documented compatibility."""
    problems = []
    compat = entry.spec.compatibility
    for label, text, want in (
        ("Kubernetes", platform.kubernetes, compat.kubernetes),
        ("OpenShift", platform.openshift, compat.openshift),
    ):
        have = parse_version(text or "")
        if have is None or want is None or in_range(have, want):
            continue
        problems.append(
            f"{entry.name} supports {label} {want.min or 'any'}..{want.max or 'any'}, the cluster runs {label} {have}"
        )
    return problems


@dataclass(frozen=True)
class VersionVerdict:
    """One product version: its lifecycle, eligibility, who acts, and why, in words."""

    judgement: Judgement
    eligibility: Eligibility
    owner: Party | None  # who acts on the findings or the advice; None when there is nothing to do
    findings: tuple[str, ...]  # actions that make the version Limited or Ineligible (unless not counted)
    advice: tuple[str, ...]  # actions that do not touch eligibility (upgrade before end of support)
    notes: tuple[str, ...]  # the product's status reason
    platform: tuple[str, ...]  # platform incompatibilities among the findings
    counted: bool  # False when the findings are Stakater's items and do not reduce eligibility
    # Stakater's action items that never reduce eligibility, whoever maintains versions (matrix behind)
    stakater_items: tuple[str, ...] = ()


def _enterprise_image(entry: ProductEntry) -> str:
    repos = [i.repository for i in entry.spec.recognition.images if i.edition == Edition.ENTERPRISE]
    return f" ({repos[0]})" if repos else ""


def judge_version(
    spec: SupportEngagementSpec,
    entry: ProductEntry,
    detection: Detection,
    platform: Platform,
    today: dt.date,
) -> VersionVerdict:
    """The per-product rule (README, "Eligibility rules"): lifecycle, platform and edition -> eligibility.

    Findings belong to whoever maintains versions; under a ManagedService with
    ``versionManagement: Stakater`` they are Stakater's action items and do not reduce eligibility.
    """
    j = judge(entry, detection.version, today, horizon_days(spec), detection.reason)
    subject = f"{entry.name} {detection.version_text}"
    upgrade = f"upgrade {subject} to {j.recommended}" if j.recommended else f"upgrade {subject}"
    notes = [j.reason]
    ineligible: list[str] = []
    limited: list[str] = []
    advice: list[str] = []
    if j.lifecycle == Lifecycle.END_OF_LIFE:
        ineligible.append(f"{upgrade} ({j.reason})")
        if j.recommended:
            notes.append(f"upgrade to {j.recommended}")
    elif j.lifecycle == Lifecycle.DEPRECATED:
        advice.append(f"{upgrade} before {j.end_of_support} ({j.reason})")
        if j.recommended:
            notes.append(f"upgrade to {j.recommended}")
    elif j.matrix_behind:
        pass  # Stakater's item (below), never the customer's finding
    elif j.lifecycle == Lifecycle.UNKNOWN:
        target = f" (recommended: {j.recommended})" if j.recommended else ""
        limited.append(f"run a version of {entry.name} the matrix lists{target} ({j.reason})")
    problems = platform_problems(entry, platform)
    ineligible.extend(f"{p}: upgrade {entry.name} or the platform" for p in problems)
    notes.extend(problems)
    contracted = next((p for p in spec.products if p.name == entry.name), None)
    if contracted and contracted.edition == Edition.ENTERPRISE and detection.edition == Edition.COMMUNITY:
        mismatch = "the contract covers Enterprise, the cluster runs the Community image"
        limited.append(f"run the Enterprise image of {entry.name}{_enterprise_image(entry)} ({mismatch})")
        notes.append(mismatch)
    stakater = policy.stakater_maintains_versions(spec)
    if ineligible and not stakater:
        eligibility = Eligibility.INELIGIBLE
    elif limited and not stakater:
        eligibility = Eligibility.LIMITED
    else:
        eligibility = Eligibility.ELIGIBLE
    findings = (*ineligible, *limited)
    stakater_items = (f"list {subject} in the CompatibilityMatrix ({j.reason})",) if j.matrix_behind else ()
    owner = (Party.STAKATER if stakater else Party.CUSTOMER) if findings or advice else None
    if owner is None and stakater_items:
        owner = Party.STAKATER
    return VersionVerdict(
        j,
        eligibility,
        owner,
        findings,
        tuple(advice),
        tuple(notes),
        tuple(problems),
        counted=not stakater,
        stakater_items=stakater_items,
    )


# ----------------------------------------------------------- step 2: reduce


def reduce_eligibility(products: Iterable[Eligibility], agreement_in_force: bool) -> Eligibility:
    """The engagement's eligibility from its product versions' (README, "Engagement").

    Ineligible outside the agreement's term or when no product version is eligible;
    Limited when some are and some are not; Eligible when all are (or none was found).
    """
    if not agreement_in_force:
        return Eligibility.INELIGIBLE
    found = list(products)
    eligible = sum(1 for e in found if e == Eligibility.ELIGIBLE)
    if eligible == len(found):
        return Eligibility.ELIGIBLE
    return Eligibility.LIMITED if eligible else Eligibility.INELIGIBLE


# ---------------------------------------------------------- step 3: terms


@dataclass(frozen=True)
class AgreementTerm:
    status: AgreementStatus
    expiring: str | None  # Premium: the expiry is within the horizon


def agreement_term(spec: SupportEngagementSpec, today: dt.date) -> AgreementTerm:
    """Whether the agreement is in force today (UTC), and whether its end is near (Premium)."""
    agreement = spec.agreement
    name = policy.agreement_name(spec)
    start, end = agreement.effective_from, agreement.expires_on
    in_force, owner, expiring = True, None, None
    if start and today < start:
        in_force, owner = False, Party.CUSTOMER
        message = f"{name} takes effect on {start}; support does not apply before it"
    elif end and today > end:
        in_force, owner = False, Party.CUSTOMER
        message = f"{name} expired on {end}; customer action: renew it with Stakater"
    elif end:
        message = f"{name} is in force until {end}"
        left = (end - today).days
        if spec.plan == Plan.PREMIUM and left <= horizon_days(spec):
            expiring = f"{name} expires on {end}, in {left} days; customer action: renew it with Stakater"
            message = expiring
    elif start:
        message = f"{name} is in force since {start}"
    else:
        message = f"{name} states no term (spec.agreement.effectiveFrom/expiresOn)"
    status = AgreementStatus(
        reference=agreement.reference,
        in_force=in_force,
        effective_from=start,
        expires_on=end,
        action_owner=owner,
        message=message,
    )
    return AgreementTerm(status, expiring)


def service_credits(spec: SupportEngagementSpec, eligibility: Eligibility) -> ServiceCreditStatus:
    """Section 8: only if the agreement defines them, and (by default) only while Eligible."""
    terms = spec.service_credits
    where = terms.reference or policy.agreement_name(spec)
    if not terms.defined_in_agreement:
        return ServiceCreditStatus(applicable=False, reason="the commercial agreement does not define service credits")
    if eligibility == Eligibility.ELIGIBLE:
        return ServiceCreditStatus(applicable=True, reason=f"defined in {where}")
    if eligibility == Eligibility.LIMITED and terms.apply_under_limited_support:
        return ServiceCreditStatus(applicable=True, reason=f"{where} grants them under Limited Support too")
    if eligibility == Eligibility.LIMITED:
        return ServiceCreditStatus(
            applicable=False,
            reason="denied under Limited Support (as in Stakater's managed-platform SLA); "
            "set spec.serviceCredits.applyUnderLimitedSupport if the agreement grants them",
        )
    return ServiceCreditStatus(applicable=False, reason=f"service credits do not apply while {eligibility}")


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
    groups: dict[tuple[str, Edition | None, str], _Group] = {}
    for workload, det in found:
        key = (det.product, det.edition, det.version_text)
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
            uncovered.append(ProductStatus(reason=why, **common))
            continue
        verdict = judge_version(spec, entry, g.detection, platform, today)
        j = verdict.judgement
        reason = "; ".join(verdict.notes)
        status = ProductStatus(
            lifecycle=j.lifecycle,
            end_of_support=j.end_of_support,
            recommended_version=j.recommended,
            eligibility=verdict.eligibility,
            action_owner=verdict.owner,
            reason=shorten(reason),
            version_source=", ".join(sorted(g.sources)) or None,
            matrix_behind=True if j.matrix_behind else None,
            **common,
        )
        judged.append(_Judged(status, verdict, _workload_text(listed)))
    return judged, uncovered


def _platform_status(
    spec: SupportEngagementSpec, judged: Sequence[_Judged], platform: Platform, lifecycle: PlatformJudgement | None
) -> PlatformStatus:
    problems = list(dict.fromkeys(p for j in judged for p in j.verdict.platform))
    known = parse_version(platform.kubernetes or "") is not None or parse_version(platform.openshift or "") is not None
    unmaintained = lifecycle is not None and lifecycle.lifecycle in (Lifecycle.END_OF_LIFE, Lifecycle.DEPRECATED)
    owner = Party.STAKATER if policy.stakater_manages_infrastructure(spec) else Party.CUSTOMER
    return PlatformStatus(
        kubernetes_version=platform.kubernetes,
        openshift_version=platform.openshift,
        compatible=(not problems) if known else None,
        message="; ".join(problems) if problems else ("" if known else "platform version unknown"),
        lifecycle=lifecycle.lifecycle if lifecycle else None,
        release=lifecycle.release if lifecycle else None,
        end_of_maintenance=lifecycle.end_of_maintenance if lifecycle else None,
        action_owner=owner if unmaintained else None,
    )


_SEVERITY = {Lifecycle.END_OF_LIFE: 0, Lifecycle.UNKNOWN: 1, Lifecycle.DEPRECATED: 2, Lifecycle.SUPPORTED: 3}
_ELIGIBILITY_RANK = {Eligibility.INELIGIBLE: 0, Eligibility.LIMITED: 1, Eligibility.ELIGIBLE: 2}


def _rank(entry: ProductStatus) -> tuple[int, int]:
    eligibility = _ELIGIBILITY_RANK.get(Eligibility(entry.eligibility), 2) if entry.eligibility else 2
    return eligibility, _SEVERITY.get(Lifecycle(entry.lifecycle or "Unknown"), 1)


def _worst_first(entries: list[ProductStatus], limit: int = MAX_STATUS_PRODUCTS) -> list[ProductStatus]:
    """At most ``limit`` entries: the least eligible, then worst lifecycles are kept, in their original order."""
    if len(entries) <= limit:
        return entries
    rank = sorted(range(len(entries)), key=lambda i: _rank(entries[i]))
    return [entries[i] for i in sorted(rank[:limit])]


def _cond(type_: str, ok: bool | None, reason: str, message: str, generation: int | None) -> Condition:
    status = ConditionStatus.UNKNOWN if ok is None else (ConditionStatus.TRUE if ok else ConditionStatus.FALSE)
    return Condition(type=type_, status=status, reason=reason, message=shorten(message), observed_generation=generation)


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
    """Evaluate one engagement. ``found`` holds detections in its covered namespaces only."""
    judged, uncovered = _judge_groups(spec, matrix, found, platform, today)
    term = agreement_term(spec, today)
    eligibility = reduce_eligibility(
        (j.status.eligibility or Eligibility.ELIGIBLE for j in judged), term.status.in_force
    )
    stakater = policy.stakater_maintains_versions(spec)
    stakater_items = _finding_lines(judged, counted=False)
    short, eligible_msg, reasons = _eligible_message(eligibility, judged, term, stakater_items)

    platform_judgement = judge_platform(matrix.platforms, platform, today, horizon_days(spec))
    platform_status = _platform_status(spec, judged, platform, platform_judgement)
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
            {True: "Compatible", False: "Incompatible", None: "PlatformUnknown"}[compatible],
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
        products=_worst_first([j.status for j in judged]),
        products_total=len(judged),
        uncovered_products=_worst_first(uncovered),
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

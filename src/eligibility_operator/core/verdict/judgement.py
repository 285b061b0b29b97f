"""Judging one product version against the matrix (step 1), reducing the products' eligibilities to the
engagement's (step 2), and the agreement's terms (step 3). Pure; :mod:`.evaluation` composes them.

Every judgement names who must act: the customer, or Stakater (a managed service's version management, a
matrix behind the releases)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from ...api.models import (
    MAX_STATUS_PRODUCTS,
    AgreementStatus,
    Edition,
    Eligibility,
    Lifecycle,
    Party,
    Plan,
    ProductStatus,
    ServiceCreditStatus,
    SupportEngagementSpec,
)
from ..compat.matrix import ProductEntry
from ..compat.platforms import (
    KnownLines,
    Platform,
    above,
    in_range,
    line_lifecycle,
    newer_than_known,
)
from ..compat.versions import Version, parse_version
from ..products.detection import Detection
from . import policy
from .findings import FindingCode

DEFAULT_HORIZON_DAYS = 90
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
    entry: ProductEntry,
    version: Version | None,
    today: dt.date,
    horizon: int,
    unknown_reason: str = "",
    behind: bool = False,
) -> Judgement:
    """Lifecycle of ``version`` of ``entry`` on ``today``; ``behind``: the version is unknown because what
    gave it (a chart version) is newer than the matrix maps, so the matrix is behind."""
    recommended = entry.recommended
    if version is not None and recommended is not None:
        target = parse_version(recommended)
        if target is not None and version.core > target.core:
            recommended = None  # never recommend a downgrade
    if version is None:
        return Judgement(
            Lifecycle.UNKNOWN, None, recommended, unknown_reason or "version could not be determined", behind
        )
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
        # compared at the line's precision: a pre-release inside a listed line is neither older nor newer
        if version.core[: oldest.line.parts] < oldest.line.core[: oldest.line.parts]:
            return Judgement(
                Lifecycle.END_OF_LIFE,
                None,
                recommended,
                f"{version} is older than the oldest release line in the matrix ({oldest.label})",
            )
        if version.core[: newest.line.parts] > newest.line.core[: newest.line.parts]:
            return Judgement(
                Lifecycle.UNKNOWN,
                None,
                recommended,
                f"matrix behind: {entry.name} {version} is not listed yet (newest listed release line: {newest.label})",
                matrix_behind=True,
            )
        what = "is a pre-release, not a release" if version.prerelease else "is not a release"
        return Judgement(Lifecycle.UNKNOWN, None, recommended, f"{version} {what} listed in the matrix")
    lifecycle, words = line_lifecycle(line.end_of_support, today, horizon, ends="support", kept="supported")
    return Judgement(lifecycle, line.end_of_support, recommended, f"release line {line.label} {words}")


def platform_problems(entry: ProductEntry, platform: Platform, known: KnownLines) -> tuple[list[str], list[str]]:
    """Where the cluster's platform is outside the product's documented compatibility: (problems, and
    platforms newer than the documented maximum on a line newer than the matrix knows, ``known``).

    The second kind is the matrix behind (Stakater's item), never the customer's finding: upgrading the
    platform to a release the matrix has not caught up with must not cost support.
    """
    problems, behind = [], []
    compat = entry.spec.compatibility
    for label, reported, want in (
        ("Kubernetes", platform.kubernetes, compat.kubernetes),
        ("OpenShift", platform.openshift, compat.openshift),
    ):
        have = parse_version(reported or "")
        if have is None or want is None or in_range(have, want):
            continue
        what = (
            f"{entry.name} supports {label} {want.min or 'any'}..{want.max or 'any'}, the cluster runs {label} {have}"
        )
        if above(have, want) and newer_than_known(have, known.get(label)):
            behind.append(f"{what}, newer than the matrix lists")
        else:
            problems.append(what)
    return problems, behind


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
    platform_behind: tuple[str, ...] = ()  # platforms newer than the documented range and than the matrix lists
    codes: tuple[FindingCode, ...] = ()  # stable codes of every finding and item above, worst first


def _enterprise_image(entry: ProductEntry) -> str:
    repos = [i.repository for i in entry.spec.recognition.images if i.edition == Edition.ENTERPRISE]
    return f" ({repos[0]})" if repos else ""


def _unknown_finding(entry: ProductEntry, detection: Detection, j: Judgement) -> str:
    """What the customer does about a version that is not known: what the detection says makes it known
    (pin the chart version, show the installed ClusterServiceVersion), else run a version the matrix lists."""
    if detection.action and detection.version is None:
        return f"{detection.action} of {entry.name} ({j.reason})"
    target = f" (recommended: {j.recommended})" if j.recommended else ""
    return f"run a version of {entry.name} the matrix lists{target} ({j.reason})"


def judge_version(
    spec: SupportEngagementSpec,
    entry: ProductEntry,
    detection: Detection,
    platform: Platform,
    today: dt.date,
    known: KnownLines,
) -> VersionVerdict:
    """The per-product rule (README, "Eligibility rules"): lifecycle, platform and edition -> eligibility.
    ``known``: the newest platform lines the matrix knows (:attr:`CompiledMatrix.newest_platform_lines`).

    Findings belong to whoever maintains versions; under a ManagedService with
    ``versionManagement: Stakater`` they are Stakater's action items and do not reduce eligibility.
    """
    j = judge(entry, detection.version, today, horizon_days(spec), detection.reason, detection.matrix_behind)
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
        limited.append(_unknown_finding(entry, detection, j))
    problems, platform_behind = platform_problems(entry, platform, known)
    ineligible.extend(f"{p}: upgrade {entry.name} or the platform" for p in problems)
    notes.extend((*problems, *platform_behind))
    contracted = next((p for p in spec.products if p.name == entry.name), None)
    mismatched = bool(
        contracted and contracted.edition == Edition.ENTERPRISE and detection.edition == Edition.COMMUNITY
    )
    if mismatched:
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
    stakater_items: tuple[str, ...] = ()
    if j.matrix_behind:
        stakater_items = (f"list {subject} in the CompatibilityMatrix ({j.reason})",)
    stakater_items += tuple(
        f"document {entry.name}'s compatibility in the CompatibilityMatrix ({b})" for b in platform_behind
    )
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
        platform_behind=tuple(platform_behind),
        codes=_codes(j, bool(problems), bool(platform_behind), mismatched),
    )


def _codes(j: Judgement, incompatible: bool, platform_behind: bool, mismatched: bool) -> tuple[FindingCode, ...]:
    """The stable codes of one version's findings and items, worst first."""
    found = {
        FindingCode.END_OF_LIFE: j.lifecycle == Lifecycle.END_OF_LIFE,
        FindingCode.PLATFORM_INCOMPATIBLE: incompatible,
        FindingCode.VERSION_UNKNOWN: j.lifecycle == Lifecycle.UNKNOWN and not j.matrix_behind,
        FindingCode.EDITION_MISMATCH: mismatched,
        FindingCode.END_OF_SUPPORT_APPROACHING: j.lifecycle == Lifecycle.DEPRECATED,
        FindingCode.MATRIX_BEHIND: j.matrix_behind,
        FindingCode.PLATFORM_MATRIX_BEHIND: platform_behind,
    }
    return tuple(code for code in _CODE_ORDER if found[code])


_CODE_ORDER = [  # worst first: what makes a version Ineligible, then Limited, then what does not count
    FindingCode.END_OF_LIFE,
    FindingCode.PLATFORM_INCOMPATIBLE,
    FindingCode.VERSION_UNKNOWN,
    FindingCode.EDITION_MISMATCH,
    FindingCode.END_OF_SUPPORT_APPROACHING,
    FindingCode.MATRIX_BEHIND,
    FindingCode.PLATFORM_MATRIX_BEHIND,
]


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


# ------------------------------------------------------------- worst first

_LIFECYCLE_RANK = {Lifecycle.END_OF_LIFE: 0, Lifecycle.UNKNOWN: 1, Lifecycle.DEPRECATED: 2, Lifecycle.SUPPORTED: 3}
_ELIGIBILITY_RANK = {Eligibility.INELIGIBLE: 0, Eligibility.LIMITED: 1, Eligibility.ELIGIBLE: 2}


def _rank(entry: ProductStatus) -> tuple[int, int]:
    eligibility = _ELIGIBILITY_RANK.get(Eligibility(entry.eligibility), 2) if entry.eligibility else 2
    return eligibility, _LIFECYCLE_RANK.get(Lifecycle(entry.lifecycle or "Unknown"), 1)


def worst_first(entries: list[ProductStatus], limit: int = MAX_STATUS_PRODUCTS) -> list[ProductStatus]:
    """At most ``limit`` entries: the least eligible, then worst lifecycles are kept, in their original order."""
    if len(entries) <= limit:
        return entries
    rank = sorted(range(len(entries)), key=lambda i: _rank(entries[i]))
    return [entries[i] for i in sorted(rank[:limit])]

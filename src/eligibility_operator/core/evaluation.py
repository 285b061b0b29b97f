"""Engagement evaluation: inventory + matrix + engagement -> status. Pure.

Shared by the operator, the admission webhook and the offline ``check``.
The rules are listed in the README ("Eligibility rules"); each downgrade
carries a reason that names product, version and workloads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..api.models import (
    MAX_STATUS_PRODUCTS,
    Condition,
    ConditionStatus,
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
from .versions import Version, parse_version

MAX_LISTED_WORKLOADS = 20
READY, ELIGIBLE, VERSIONS, PLATFORM, UPGRADE = (
    "Ready",
    "Eligible",
    "VersionsSupported",
    "PlatformCompatible",
    "UpgradeRecommended",
)
CONDITION_TYPES = (READY, ELIGIBLE, VERSIONS, PLATFORM, UPGRADE)


@dataclass(frozen=True, slots=True)
class Platform:
    kubernetes: str | None = None
    openshift: str | None = None


@dataclass(frozen=True, slots=True)
class Judgement:
    """The lifecycle of one product version."""

    lifecycle: Lifecycle
    end_of_support: dt.date | None
    recommended: str | None
    reason: str


def horizon_days(spec: SupportEngagementSpec) -> int:
    """Premium is warned ``upgradeHorizonDays`` ahead; Standard gets no advance warning."""
    return spec.upgrade_horizon_days if spec.plan == Plan.PREMIUM else 0


def judge(
    entry: ProductEntry, version: Version | None, today: dt.date, horizon: int, unknown_reason: str = ""
) -> Judgement:
    """Lifecycle of ``version`` of ``entry`` on ``today``."""
    recommended = entry.recommended
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
            return Judgement(Lifecycle.UNKNOWN, None, recommended, f"matrix lists no releases of {entry.name}")
        oldest, newest = entry.lines[0], entry.lines[-1]
        if version.core < oldest.line.core:
            return Judgement(
                Lifecycle.END_OF_LIFE,
                None,
                recommended,
                f"{version} is older than the oldest release line in the matrix ({oldest.label})",
            )
        where = "newer than any" if version.core > newest.line.core else "not a"
        return Judgement(Lifecycle.UNKNOWN, None, recommended, f"{version} is {where} release listed in the matrix")
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


@dataclass
class _Group:
    product: str
    edition: Edition | None
    version: Version | None
    reason: str
    workloads: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Evaluation:
    status: SupportEngagementStatus
    reasons: tuple[str, ...]  # every downgrade, human-readable


def _group(found: Iterable[tuple[str, Detection]]) -> list[_Group]:
    groups: dict[tuple[str, Edition | None, str], _Group] = {}
    for workload, det in found:
        key = (det.product, det.edition, det.version_text)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(det.product, det.edition, det.version, det.reason)
        group.workloads.append(workload)
    return sorted(groups.values(), key=lambda g: (g.product, g.version.core if g.version else (-1,), str(g.edition)))


def _workload_text(workloads: list[str]) -> str:
    shown = ", ".join(workloads[:3])
    return shown + (f" and {len(workloads) - 3} more" if len(workloads) > 3 else "")


def _in_range(version: Version, low: str | None, high: str | None) -> bool:
    lo, hi = parse_version(low or ""), parse_version(high or "")
    if lo and version.core[: lo.parts] < lo.core[: lo.parts]:
        return False
    return not (hi and version.core[: hi.parts] > hi.core[: hi.parts])


def _platform(matrix: CompiledMatrix, products: set[str], platform: Platform) -> tuple[PlatformStatus, list[str]]:
    problems: list[str] = []
    kube, ocp = parse_version(platform.kubernetes or ""), parse_version(platform.openshift or "")
    for name in sorted(products):
        compat = matrix.products[name].spec.compatibility
        for label, have, want in (("Kubernetes", kube, compat.kubernetes), ("OpenShift", ocp, compat.openshift)):
            if have is None or want is None or _in_range(have, want.min, want.max):
                continue
            bounds = f"{want.min or 'any'}..{want.max or 'any'}"
            problems.append(f"{name} supports {label} {bounds}, the cluster runs {label} {have}")
    known = kube is not None or ocp is not None
    return PlatformStatus(
        kubernetes_version=platform.kubernetes,
        openshift_version=platform.openshift,
        compatible=(not problems) if known else None,
        message="; ".join(problems) if problems else ("" if known else "platform version unknown"),
    ), problems


_SEVERITY = {Lifecycle.END_OF_LIFE: 0, Lifecycle.UNKNOWN: 1, Lifecycle.DEPRECATED: 2, Lifecycle.SUPPORTED: 3}


def _worst_first(entries: list[ProductStatus], limit: int = MAX_STATUS_PRODUCTS) -> list[ProductStatus]:
    """At most ``limit`` entries: the worst lifecycles are kept, in their original order."""
    if len(entries) <= limit:
        return entries
    rank = sorted(range(len(entries)), key=lambda i: _SEVERITY.get(Lifecycle(entries[i].lifecycle or "Unknown"), 1))
    return [entries[i] for i in sorted(rank[:limit])]


def _cond(type_: str, ok: bool | None, reason: str, message: str, generation: int | None) -> Condition:
    status = ConditionStatus.UNKNOWN if ok is None else (ConditionStatus.TRUE if ok else ConditionStatus.FALSE)
    return Condition(type=type_, status=status, reason=reason, message=message[:1024], observed_generation=generation)


def evaluate(
    spec: SupportEngagementSpec,
    matrix: CompiledMatrix,
    found: Iterable[tuple[str, Detection]],
    platform: Platform,
    today: dt.date,
    generation: int | None = None,
) -> Evaluation:
    """Evaluate one engagement. ``found`` holds detections in its covered namespaces only."""
    covered = {p.name: p for p in spec.products} if spec.products else None
    stakater_versions = policy.stakater_maintains_versions(spec)
    owner = Party.STAKATER if stakater_versions else Party.CUSTOMER
    horizon = horizon_days(spec)

    products: list[ProductStatus] = []
    uncovered: list[ProductStatus] = []
    ineligible: list[str] = []
    limited: list[str] = []
    version_issues: list[str] = []
    stakater_items: list[str] = []
    upgrades: list[str] = []
    judged_products: set[str] = set()
    out_of_support = 0

    for g in _group(found):
        listed = sorted(g.workloads)
        version_text = str(g.version) if g.version else "Unknown"
        entry = matrix.products.get(g.product)
        if entry is None or (covered is not None and g.product not in covered):
            why = "not in the matrix" if entry is None else "not covered by this engagement"
            uncovered.append(
                ProductStatus(
                    product=g.product,
                    edition=g.edition,
                    version=version_text,
                    reason=why,
                    workloads=listed[:MAX_LISTED_WORKLOADS],
                    workload_count=len(listed),
                )
            )
            continue
        judged_products.add(g.product)
        j = judge(entry, g.version, today, horizon, g.reason)
        where = _workload_text(listed)
        subject = f"{g.product} {version_text}"
        acting = owner if j.lifecycle in (Lifecycle.END_OF_LIFE, Lifecycle.UNKNOWN, Lifecycle.DEPRECATED) else None
        if j.lifecycle in (Lifecycle.END_OF_LIFE, Lifecycle.UNKNOWN):
            out_of_support += 1
            state = "is end of life" if j.lifecycle == Lifecycle.END_OF_LIFE else "has an unknown lifecycle"
            text = f"{subject} {state} ({j.reason}) in {where}"
            if j.recommended:
                text += f"; upgrade to {j.recommended}"
            version_issues.append(text)
            if stakater_versions:
                stakater_items.append(text)
            elif j.lifecycle == Lifecycle.END_OF_LIFE:
                ineligible.append(text)
            else:
                limited.append(text)
        if j.lifecycle in (Lifecycle.END_OF_LIFE, Lifecycle.DEPRECATED):
            upgrades.append(f"{subject}: {j.reason}" + (f"; upgrade to {j.recommended}" if j.recommended else ""))
        contracted = covered.get(g.product) if covered else None
        if contracted and contracted.edition == Edition.ENTERPRISE and g.edition == Edition.COMMUNITY:
            limited.append(f"{subject} runs the Community edition but the contract covers Enterprise, in {where}")
        products.append(
            ProductStatus(
                product=g.product,
                edition=g.edition,
                version=version_text,
                lifecycle=j.lifecycle,
                end_of_support=j.end_of_support,
                recommended_version=j.recommended,
                action_owner=acting,
                reason=j.reason,
                workloads=listed[:MAX_LISTED_WORKLOADS],
                workload_count=len(listed),
            )
        )

    platform_status, platform_problems = _platform(matrix, judged_products, platform)
    limited.extend(f"platform: {p}" for p in platform_problems)

    if ineligible:
        eligibility = Eligibility.INELIGIBLE
    elif limited:
        eligibility = Eligibility.LIMITED
    else:
        eligibility = Eligibility.ELIGIBLE
    reasons = tuple(ineligible + limited)

    if reasons:
        short = reasons[0].split(" (", 1)[0] if ineligible else reasons[0]
        short = short + (f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else "")
        eligible_msg = "; ".join(reasons)
    elif products:
        short = "all covered product versions are supported"
        eligible_msg = short + (f"; Stakater's action items: {'; '.join(stakater_items)}" if stakater_items else "")
    else:
        short = "no covered Stakater product found"
        eligible_msg = short + " in the covered namespaces"
    if stakater_items and reasons:
        eligible_msg += f"; Stakater's action items (not counted against eligibility): {'; '.join(stakater_items)}"

    credits_defined = spec.service_credits.defined_in_agreement
    if not credits_defined:
        credits = ServiceCreditStatus(
            applicable=False, reason="the commercial agreement does not define service credits"
        )
    elif eligibility == Eligibility.INELIGIBLE:
        credits = ServiceCreditStatus(
            applicable=False, reason="service credits do not apply while the engagement is ineligible"
        )
    else:
        credits = ServiceCreditStatus(applicable=True, reason="defined in the commercial agreement")

    versions_reason = "AllVersionsSupported"
    if any(p.lifecycle == Lifecycle.END_OF_LIFE for p in products):
        versions_reason = "EndOfLifeVersions"
    elif any(p.lifecycle == Lifecycle.UNKNOWN for p in products):
        versions_reason = "UnknownVersions"
    versions_msg = "; ".join(version_issues)
    if stakater_items:
        versions_msg += " (version maintenance is Stakater's under this managed-service agreement)"
    upgrade_reason = "NoUpgradeNeeded"
    if any(p.lifecycle == Lifecycle.END_OF_LIFE for p in products):
        upgrade_reason = "EndOfLife"
    elif upgrades:
        upgrade_reason = "EndOfSupportApproaching"

    integrations = sorted({i for name in judged_products for i in matrix.products[name].spec.integrations})
    conditions = [
        _cond(READY, True, "Evaluated", f"evaluated against CompatibilityMatrix {matrix.name!r}", generation),
        _cond(ELIGIBLE, eligibility == Eligibility.ELIGIBLE, str(eligibility), eligible_msg, generation),
        _cond(
            VERSIONS,
            not version_issues,
            versions_reason,
            versions_msg or "all covered product versions are supported",
            generation,
        ),
        _cond(
            PLATFORM,
            platform_status.compatible,
            {True: "Compatible", False: "Incompatible", None: "PlatformUnknown"}[platform_status.compatible],
            platform_status.message or "every detected product supports this platform",
            generation,
        ),
        _cond(UPGRADE, bool(upgrades), upgrade_reason, "; ".join(upgrades) or "no upgrade needed", generation),
    ]
    status = SupportEngagementStatus(
        observed_generation=generation,
        eligibility=eligibility,
        reason=short[:256],
        products_out_of_support=out_of_support,
        conditions=conditions,
        products=_worst_first(products),
        products_total=len(products),
        uncovered_products=_worst_first(uncovered),
        uncovered_products_total=len(uncovered),
        platform=platform_status,
        responsibilities=policy.responsibilities(spec),
        scope=policy.scope(spec, integrations),
        response_targets=policy.response_targets(spec),
        service_credits=credits,
        matrix=matrix.name,
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

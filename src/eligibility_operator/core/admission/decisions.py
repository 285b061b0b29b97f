"""Admission decisions for workloads: audit, warn or refuse versions that would be Ineligible. Pure.

The mode comes from the engagements covering the workload's namespace
(``spec.enforcement.mode``; the strictest wins). Only versions that a request
*introduces* can be refused: an update that leaves an already-running
end-of-life version as it is (a label, a replica count) is allowed with a
warning, so nobody is locked out of operating a workload. Deletes, scale and
status never reach this code (the webhook configuration matches the main
resource on CREATE and UPDATE only), and it allows them anyway if they do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...api.models import Eligibility, Enforcement, EnforcementMode, Lifecycle, SupportEngagementSpec
from ..compat.matrix import CompiledMatrix
from ..compat.platforms import Platform
from ..products.coverage import covers
from ..products.detection import detect
from ..products.workloads import MAX_CONTAINERS, OPT_OUT_LABEL, WORKLOAD_KINDS, facts_from_object
from ..verdict.evaluation import VersionVerdict, judge_version

MAX_WARNINGS = 10
MAX_WARNING_CHARS = 256  # the API server truncates longer warnings
MAX_MESSAGE_CHARS = 1024
_STRICTNESS = {EnforcementMode.AUDIT: 0, EnforcementMode.WARN: 1, EnforcementMode.ENFORCE: 2}


@dataclass(frozen=True)
class Guard:
    """An engagement covering the request's namespace, with what it needs to judge."""

    namespace: str
    name: str
    spec: SupportEngagementSpec
    matrix: CompiledMatrix
    platform: Platform = field(default_factory=Platform)  # the cluster's, for platform compatibility


def guards_for(
    namespace: str,
    labels: Mapping[str, str] | None,
    engagements: Iterable[tuple[str, str, SupportEngagementSpec | None]],
    matrix: Callable[[str], CompiledMatrix | None],
    platform: Platform | None = None,
) -> list[Guard]:
    """The engagements that guard ``namespace``: valid, covering it, and with a usable matrix.

    ``labels`` is None for a namespace not seen yet: an engagement that selects namespaces by label
    then does not guard it (fail open), unless it lists the namespace by name. ``engagements`` yields
    (namespace, name, spec or None when invalid); ``matrix`` gives a matrix's last valid version;
    ``platform`` is the cluster's, for platform compatibility.
    """
    found = []
    for ns, name, spec in engagements:
        if spec is None:
            continue
        if labels is None and namespace not in spec.coverage.namespaces and spec.coverage.namespace_selector:
            continue
        if not covers(spec.coverage, namespace, labels):
            continue
        compiled = matrix(spec.matrix_name)
        if compiled is not None:
            found.append(Guard(ns, name, spec, compiled, platform or Platform()))
    return found


def guarding_mode(guards: Sequence[Guard]) -> EnforcementMode | None:
    """The mode a request is judged in: the strictest of its guards'; None when nothing guards it."""
    if not guards:
        return None
    return max((EnforcementMode(g.spec.enforcement.mode) for g in guards), key=_STRICTNESS.__getitem__)


@dataclass(frozen=True)
class Finding:
    guard: Guard
    product: str
    version: str
    lifecycle: Lifecycle
    end_of_support: dt.date | None
    recommended: str | None
    reason: str
    introduced: bool  # False when the old object already ran the same product version
    eligibility: Eligibility = Eligibility.ELIGIBLE  # the version's eligibility under the guard's engagement
    platform: tuple[str, ...] = ()  # platform incompatibilities
    matrix_behind: bool = False  # newer than the matrix lists: never the reason for a warning or refusal

    def text(self, workload: str) -> str:
        """Product, version, end of support and upgrade target first: warnings get cut at 256 characters."""
        if self.platform and self.lifecycle in (Lifecycle.SUPPORTED, Lifecycle.DEPRECATED):
            state = f"does not support this platform ({'; '.join(self.platform)})"
        elif self.lifecycle == Lifecycle.END_OF_LIFE:
            since = f"since {self.end_of_support}" if self.end_of_support else f"({self.reason})"
            state = f"is end of life {since}"
        elif self.lifecycle == Lifecycle.DEPRECATED:
            state = f"reaches end of support on {self.end_of_support}"
        elif self.lifecycle == Lifecycle.SUPPORTED or self.matrix_behind:
            state = f"has Limited Support ({self.reason})"
        else:
            state = f"has an unknown support lifecycle ({self.reason})"
        upgrade = f"; upgrade to {self.recommended}" if self.recommended not in (None, self.version) else ""
        return (
            f"{self.product} {self.version} {state}{upgrade} "
            f"[{workload}; SupportEngagement {self.guard.namespace}/{self.guard.name}]"
        )


@dataclass
class Decision:
    allowed: bool = True
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    mode: EnforcementMode | None = None  # None: not covered or not judged
    outcome: str = "skipped"  # skipped, allowed, warned, denied
    audit: list[tuple[Guard, str]] = field(default_factory=list)  # Events to record (not on dry runs)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _findings(guard: Guard, obj: Mapping[str, Any], old: Mapping[str, Any] | None, today: dt.date) -> list[Finding]:
    facts = facts_from_object(obj)
    if facts is None:
        return []
    old_facts = facts_from_object(old) if old else None
    before = {(d.product, d.version_text) for d in detect(guard.matrix, old_facts)} if old_facts else set()
    covered = {p.name for p in guard.spec.products} or set(guard.matrix.products)
    found = []
    for detection in detect(guard.matrix, facts):
        entry = guard.matrix.products.get(detection.product)
        if entry is None or detection.product not in covered:
            continue
        verdict: VersionVerdict = judge_version(
            guard.spec, entry, detection, guard.platform, today, guard.matrix.newest_platform_lines
        )
        j = verdict.judgement
        if not verdict.findings and not verdict.advice:
            continue
        # A version newer than the matrix lists has no finding of its own (the matrix is behind, Stakater's
        # item): it reaches here only with another finding (edition, platform), which is then the reason.
        own = j.lifecycle != Lifecycle.SUPPORTED and not j.matrix_behind
        # Stakater's items (a platform newer than the matrix lists) are not the customer's to read here.
        reason = j.reason if own else "; ".join(n for n in verdict.notes[1:] if n not in verdict.platform_behind)
        found.append(
            Finding(
                guard,
                detection.product,
                detection.version_text,
                j.lifecycle,
                j.end_of_support,
                j.recommended,
                reason,
                (detection.product, detection.version_text) not in before,
                verdict.eligibility,
                verdict.platform,
                j.matrix_behind,
            )
        )
    return found


def refuses(finding: Finding) -> bool:
    """The verdict rule: Enforce refuses what a request introduces that would make a product version
    Ineligible under the guarding engagement (end of life, or a platform the product does not support).

    Limited (unknown versions, a Community image under an Enterprise contract) is warned, never refused;
    findings that are Stakater's action items (versions Stakater maintains) leave the version Eligible.
    """
    return (
        finding.eligibility == Eligibility.INELIGIBLE
        and finding.introduced
        and EnforcementMode(finding.guard.spec.enforcement.mode) == EnforcementMode.ENFORCE
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def judged(
    request: Mapping[str, Any], guards: Sequence[Guard], exempt_namespaces: frozenset[str]
) -> EnforcementMode | None:
    """Rule 1: the mode a review is judged under, or None when it is not judged at all: not a CREATE or
    UPDATE of a workload itself (subresources pass), an exempt namespace, or no engagement guards it."""
    obj = _mapping(request.get("object"))
    namespace = request.get("namespace") or _mapping(obj.get("metadata")).get("namespace") or ""
    if request.get("operation") not in ("CREATE", "UPDATE") or request.get("subResource"):
        return None
    if obj.get("kind") not in WORKLOAD_KINDS or namespace in exempt_namespaces:
        return None
    return guarding_mode(guards)


def opted_out(obj: Mapping[str, Any]) -> bool:
    """Rule 2: the workload's opt-out label. Whoever may edit a workload may label it, so it only lowers
    the treatment to Audit (recorded, never refused or warned); only the namespace label opts out."""
    return _mapping(_mapping(obj.get("metadata")).get("labels")).get(OPT_OUT_LABEL) == "true"


def refusal(findings: Sequence[Finding], workload: str) -> str | None:
    """Rule 4: why the review is refused (the findings that refuse under their engagement's mode), or None."""
    refusing = [f for f in findings if refuses(f)]
    if not refusing:
        return None
    reasons = "; ".join(f.text(workload) for f in refusing)
    what = (
        "end-of-life Stakater product version"
        if all(f.lifecycle == Lifecycle.END_OF_LIFE for f in refusing)
        else "Stakater product version ineligible for support"
    )
    return _clip(
        f"{what} refused: {reasons}. Use a supported version; the engagement's status lists what is supported.",
        MAX_MESSAGE_CHARS,
    )


def decide(
    request: Mapping[str, Any], guards: Sequence[Guard], today: dt.date, exempt_namespaces: frozenset[str]
) -> Decision:
    """Decide an AdmissionReview ``request`` for a workload by the rules above, in order; never raises on
    odd input."""
    decision = Decision()
    mode = judged(request, guards, exempt_namespaces)
    if mode is None:
        return decision
    obj = _mapping(request.get("object"))
    meta = _mapping(obj.get("metadata"))
    namespace = request.get("namespace") or meta.get("namespace") or ""
    labelled = opted_out(obj)
    if labelled:
        guards = [audit_only(g) for g in guards]
        mode = EnforcementMode.AUDIT
    old = _mapping(request.get("oldObject")) if request.get("operation") == "UPDATE" else None
    decision.mode, decision.outcome = mode, "allowed"
    workload = f"{namespace}/{obj.get('kind')}/{meta.get('name', '')}"
    if mode == EnforcementMode.ENFORCE and _newly_capped(obj, old):
        # Rule 3: only the first MAX_CONTAINERS containers are read; under Enforce, what cannot be judged is
        # refused (a product image placed after them would otherwise pass unjudged).
        decision.allowed, decision.outcome = False, "denied"
        decision.message = (
            f"{workload} has more than {MAX_CONTAINERS} containers, more than the webhook reads; "
            "Enforce refuses what it cannot judge"
        )
        return decision
    findings = [f for guard in guards for f in _findings(guard, obj, old, today)]
    refused = refusal(findings, workload)
    if refused is not None:
        decision.allowed, decision.outcome, decision.message = False, "denied", refused
    if mode != EnforcementMode.AUDIT:  # rule 5: the other findings warn
        others = [f for f in findings if not refuses(f)]
        decision.warnings = [_clip(f.text(workload), MAX_WARNING_CHARS) for f in others[:MAX_WARNINGS]]
        if decision.allowed and decision.warnings:
            decision.outcome = "warned"
    note = f" (audited only: the workload is labelled {OPT_OUT_LABEL}=true)" if labelled else ""
    for f in findings:  # rule 6: Audit engagements record every finding
        if EnforcementMode(f.guard.spec.enforcement.mode) == EnforcementMode.AUDIT:
            decision.audit.append((f.guard, _clip(f.text(workload) + note, MAX_MESSAGE_CHARS)))
    return decision


def _newly_capped(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    facts = facts_from_object(obj)
    if facts is None or not facts.capped:
        return False
    old_facts = facts_from_object(old) if old else None
    return old_facts is None or not old_facts.capped  # a workload that was capped already stays operable


def audit_only(guard: Guard) -> Guard:
    """``guard`` with its engagement's enforcement lowered to Audit."""
    spec = guard.spec.model_copy(update={"enforcement": Enforcement(mode=EnforcementMode.AUDIT)})
    return dataclasses.replace(guard, spec=spec)


def response(uid: str, decision: Decision) -> dict[str, Any]:
    """An AdmissionReview v1 response for ``decision``."""
    body: dict[str, Any] = {"uid": uid, "allowed": decision.allowed}
    if not decision.allowed:
        body["status"] = {"code": 403, "reason": "Forbidden", "message": decision.message}
    if decision.warnings:
        body["warnings"] = decision.warnings
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": body}

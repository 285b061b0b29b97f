"""Stable finding codes: one identifier per kind of finding, for tools (SARIF rules, JUnit, JSON, Events).

Defined once here with what each means, who owns it and what to do; ``docs/reference/findings.md`` is
generated from this table. A code is never renumbered or reused: a retired code stays reserved.
``EO1xx`` are findings on one product version, ``EO2xx`` on the engagement or the platform,
``EO3xx`` on the matrix, ``EO4xx`` on the input (``check`` exits 4, no verdict).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ...api.models import Eligibility


class FindingCode(StrEnum):
    END_OF_LIFE = "EO101"
    END_OF_SUPPORT_APPROACHING = "EO102"
    MATRIX_BEHIND = "EO103"
    PLATFORM_MATRIX_BEHIND = "EO104"
    PLATFORM_INCOMPATIBLE = "EO105"
    VERSION_UNKNOWN = "EO106"
    EDITION_MISMATCH = "EO107"
    PRODUCT_NOT_COVERED = "EO108"
    AGREEMENT_NOT_IN_FORCE = "EO201"
    AGREEMENT_EXPIRES_SOON = "EO202"
    PLATFORM_END_OF_MAINTENANCE = "EO203"
    MATRIX_STALE = "EO301"
    MATRIX_UNVERIFIED = "EO302"
    INVALID_INPUT = "EO401"
    INVALID_ENGAGEMENT = "EO402"
    INVALID_MATRIX = "EO403"


@dataclass(frozen=True)
class FindingRule:
    code: FindingCode
    name: str  # PascalCase, the SARIF rule name
    meaning: str
    owner: str  # who acts, in words
    action: str  # what to do
    effect: Eligibility | None  # what it does to the product's eligibility when counted; None: nothing


_E, _L, _I = Eligibility.ELIGIBLE, Eligibility.LIMITED, Eligibility.INELIGIBLE

RULES: dict[FindingCode, FindingRule] = {
    rule.code: rule
    for rule in (
        FindingRule(
            FindingCode.END_OF_LIFE,
            "EndOfLife",
            "The product version is end of life: its release line's end of support has passed, or it is older than "
            "the oldest line the matrix lists.",
            "Customer; Stakater under a ManagedService with versionManagement Stakater (then it does not count).",
            "Upgrade to the recommended version.",
            _I,
        ),
        FindingRule(
            FindingCode.END_OF_SUPPORT_APPROACHING,
            "EndOfSupportApproaching",
            "The version is deprecated: its release line reaches end of support within the upgrade horizon "
            "(Premium), or the matrix marks it deprecated. Still eligible.",
            "Customer; Stakater under a ManagedService with versionManagement Stakater.",
            "Plan the upgrade before the end-of-support date.",
            None,
        ),
        FindingRule(
            FindingCode.MATRIX_BEHIND,
            "MatrixBehind",
            "The version (or the chart version that installs it) is newer than the newest release the matrix lists. "
            "Upgrading never costs support: the product stays Eligible.",
            "Stakater.",
            "Nothing for the customer; Stakater lists the release in the CompatibilityMatrix.",
            None,
        ),
        FindingRule(
            FindingCode.PLATFORM_MATRIX_BEHIND,
            "PlatformMatrixBehind",
            "The cluster's Kubernetes or OpenShift release is newer than the product's documented maximum and than "
            "every line the matrix lists. Not counted against eligibility.",
            "Stakater.",
            "Nothing for the customer; Stakater documents the product's compatibility in the matrix.",
            None,
        ),
        FindingRule(
            FindingCode.PLATFORM_INCOMPATIBLE,
            "PlatformIncompatible",
            "The product version does not support the cluster's Kubernetes or OpenShift version.",
            "Customer; Stakater under a ManagedService with versionManagement Stakater.",
            "Upgrade the product or the platform into the documented range.",
            _I,
        ),
        FindingRule(
            FindingCode.VERSION_UNKNOWN,
            "VersionUnknown",
            "The version could not be determined (a floating or non-version tag, a digest only, a chart version "
            "without a map) or is not a release the matrix lists.",
            "Customer; Stakater under a ManagedService with versionManagement Stakater.",
            "Pin a released version (image tag or chart version) the matrix lists.",
            _L,
        ),
        FindingRule(
            FindingCode.EDITION_MISMATCH,
            "EditionMismatch",
            "The contract covers the Enterprise edition and the cluster runs the Community image.",
            "Customer; Stakater under a ManagedService with versionManagement Stakater.",
            "Run the Enterprise image.",
            _L,
        ),
        FindingRule(
            FindingCode.PRODUCT_NOT_COVERED,
            "ProductNotCovered",
            "A Stakater product runs that the engagement does not cover (or that the matrix does not list): "
            "not judged, not supported under this engagement.",
            "Customer.",
            "Add the product to spec.products, or accept that it is not supported.",
            None,
        ),
        FindingRule(
            FindingCode.AGREEMENT_NOT_IN_FORCE,
            "AgreementNotInForce",
            "Today is outside the agreement's term (before effectiveFrom or after expiresOn): the engagement is "
            "Ineligible whatever runs.",
            "Customer.",
            "Renew the agreement with Stakater, or correct its dates.",
            _I,
        ),
        FindingRule(
            FindingCode.AGREEMENT_EXPIRES_SOON,
            "AgreementExpiresSoon",
            "Premium: the agreement expires within the upgrade horizon. Still in force.",
            "Customer.",
            "Renew the agreement before it expires.",
            None,
        ),
        FindingRule(
            FindingCode.PLATFORM_END_OF_MAINTENANCE,
            "PlatformEndOfMaintenance",
            "The cluster's Kubernetes or OpenShift release line is past (or, Premium, near) its end of maintenance.",
            "Customer; Stakater when it manages the infrastructure.",
            "Upgrade the platform to a maintained release.",
            None,
        ),
        FindingRule(
            FindingCode.MATRIX_STALE,
            "MatrixStale",
            "The CompatibilityMatrix fetched from its source could not be refreshed for longer than spec.source.maxAge:"
            " the verdicts rest on an old copy (the matrix's condition Current=False/Stale).",
            "The cluster's operator (the matrix source's reachability), then Stakater.",
            "Restore access to the matrix source; see the CompatibilityMatrix's status.",
            None,
        ),
        FindingRule(
            FindingCode.MATRIX_UNVERIFIED,
            "MatrixUnverified",
            "The fetched matrix document failed its digest or signature check and was not applied (the matrix's "
            "condition Fetched=False/SignatureInvalid; check --matrix exits 4).",
            "The cluster's operator.",
            "Check spec.source (digest, public key) against what Stakater published.",
            None,
        ),
        FindingRule(
            FindingCode.INVALID_INPUT,
            "InvalidInput",
            "An input could not be read: an unreadable path, bytes that are not text, a stream that is not YAML, "
            "a malformed Kubernetes object, nothing to check, an unreachable cluster. No verdict is given.",
            "Whoever runs the check.",
            "Fix the input named in the error (exit code 4).",
            None,
        ),
        FindingRule(
            FindingCode.INVALID_ENGAGEMENT,
            "InvalidEngagement",
            "The SupportEngagement cannot be evaluated (schema or semantic problems): Ready=False/InvalidSpec.",
            "Customer.",
            "Correct the engagement's spec as the message says.",
            None,
        ),
        FindingRule(
            FindingCode.INVALID_MATRIX,
            "InvalidMatrix",
            "The CompatibilityMatrix is invalid, missing or could not be fetched and verified.",
            "Stakater (a published matrix), or whoever wrote a local one.",
            "Use a valid matrix; see the error.",
            None,
        ),
    )
}


def rule(code: FindingCode | str) -> FindingRule:
    return RULES[FindingCode(code)]

"""Stakater's service scope and responsibilities policy, as data.

Section numbers refer to ``Service Scope & Responsibilities``. Response
targets are the published first-response targets of the support plans.
"""

from __future__ import annotations

from ..api.models import (
    EngagementType,
    Party,
    Plan,
    ResponseTargetStatus,
    ResponsibilityStatus,
    ScopeStatus,
    SupportEngagementSpec,
    VersionOwner,
)

MAINTAINING_VERSIONS = "Maintaining supported versions"

# Section 3, in the policy's order, with the policy's default owner.
_RESPONSIBILITIES: tuple[tuple[str, Party], ...] = (
    ("Stability and functionality of supported Stakater products", Party.STAKATER),
    ("Management of supported infrastructure components", Party.STAKATER),
    ("Incident response and mitigation within the supported scope", Party.STAKATER),
    ("Maintaining operational processes and escalation paths", Party.STAKATER),
    ("Implementing fixes for product defects", Party.STAKATER),
    ("Accurate severity classification", Party.CUSTOMER),
    ("Providing timely and complete information during investigation", Party.CUSTOMER),
    (MAINTAINING_VERSIONS, Party.CUSTOMER),
    ("Secure configuration of customer workloads", Party.CUSTOMER),
    ("Application-level debugging and validation", Party.CUSTOMER),
    ("Compliance with licensing obligations for third-party software", Party.CUSTOMER),
    ("Acting on recommendations provided by Stakater", Party.CUSTOMER),
    # Section 5: Stakater diagnoses and coordinates; the vendor resolves.
    ("Third-party and upstream vendor issues", Party.SHARED),
)

_INCLUDED = (
    "Incident investigation and remediation",
    "Troubleshooting of Stakater products and managed environments",
    "Configuration guidance",
    "Operational best practice recommendations",
    "Coordination with upstream vendors when related to supported components",
)

_EXCLUDED = (
    "Custom feature development",
    "Major architectural redesign projects",
    "New environment design or migration projects",
    "Customer application debugging (unless directly caused by Stakater platform issues)",
    "Third-party software licensing or compliance management",
    "Performance tuning of customer workloads beyond platform-level guidance",
    "Business process consulting",
    "Security assessments or audits (unless separately contracted)",
)

_SEPARATE = (
    "New capabilities",
    "Structural design changes",
    "Custom automation",
    "Platform expansion",
    "Activities excluded from support, under a Professional Services agreement",
)

# First-response targets (initial engagement, not resolution).
_RESPONSE_TARGETS: dict[Plan, tuple[tuple[str, str], ...]] = {
    Plan.STANDARD: (
        ("P1", "8 business hours"),
        ("P2", "12 business hours"),
        ("P3", "24 business hours"),
        ("P4", "24 business hours"),
    ),
    Plan.PREMIUM: (
        ("P1", "1 hour"),
        ("P2", "2 hours"),
        ("P3", "4 hours"),
        ("P4", "1 business day"),
    ),
}


def stakater_maintains_versions(spec: SupportEngagementSpec) -> bool:
    """Section 3: versions are the customer's unless a managed-service agreement says otherwise."""
    return spec.type == EngagementType.MANAGED_SERVICE and spec.version_management == VersionOwner.STAKATER


def responsibilities(spec: SupportEngagementSpec) -> list[ResponsibilityStatus]:
    managed = spec.type == EngagementType.MANAGED_SERVICE
    table = []
    for item, default_owner in _RESPONSIBILITIES:
        owner, note = default_owner, ""
        if item == MAINTAINING_VERSIONS and stakater_maintains_versions(spec):
            owner, note = Party.STAKATER, "the managed-service agreement assigns version maintenance to Stakater"
        elif item == "Management of supported infrastructure components" and not managed:
            owner, note = Party.CUSTOMER, "product support does not cover infrastructure management unless contracted"
        table.append(ResponsibilityStatus(item=item, owner=owner, note=note))
    return table


def scope(spec: SupportEngagementSpec, integrations: list[str]) -> ScopeStatus:
    guidance = (
        "Upgrade and lifecycle guidance (proactive)"
        if spec.plan == Plan.PREMIUM
        else "Upgrade and lifecycle guidance (reactive, on request)"
    )
    if spec.type == EngagementType.MANAGED_SERVICE:
        boundary_in = ["Managed infrastructure components", "Platform-level monitoring and remediation"]
        boundary_out = ["Customer application code (unless separately agreed)"]
    else:
        boundary_in = ["The covered Stakater products"] + [f"Documented integration: {i}" for i in integrations]
        boundary_out = ["Full infrastructure management (unless explicitly contracted)"]
    return ScopeStatus(
        included=[*_INCLUDED, guidance, *boundary_in],
        excluded=[*_EXCLUDED, *boundary_out],
        separate_agreement=list(_SEPARATE),
    )


def response_targets(spec: SupportEngagementSpec) -> list[ResponseTargetStatus]:
    overrides = {o.severity: o.first_response for o in spec.response_targets}
    return [
        ResponseTargetStatus(severity=sev, first_response=overrides.get(sev, target))
        for sev, target in _RESPONSE_TARGETS[Plan(spec.plan)]
    ]

"""Stakater's service scope and responsibilities policy, as data.

Section numbers refer to ``Service Scope & Responsibilities``. Response
targets are the published first-response targets of the support plans.
"""

from __future__ import annotations

from ...api.models import (
    ContractedService,
    EngagementType,
    Party,
    Plan,
    ResponseTargetStatus,
    ResponsibilityStatus,
    ScopeStatus,
    SupportEngagementSpec,
    SupportTermsStatus,
    VersionOwner,
)

MAINTAINING_VERSIONS = "Maintaining supported versions"
MANAGING_INFRASTRUCTURE = "Management of supported infrastructure components"
APPLICATION_DEBUGGING = "Application-level debugging and validation"
SECURE_CONFIGURATION = "Secure configuration of customer workloads"

# Section 3, in the policy's order, with the policy's default owner.
_RESPONSIBILITIES: tuple[tuple[str, Party], ...] = (
    ("Stability and functionality of supported Stakater products", Party.STAKATER),
    (MANAGING_INFRASTRUCTURE, Party.STAKATER),
    ("Incident response and mitigation within the supported scope", Party.STAKATER),
    ("Maintaining operational processes and escalation paths", Party.STAKATER),
    ("Implementing fixes for product defects", Party.STAKATER),
    ("Accurate severity classification", Party.CUSTOMER),
    ("Providing timely and complete information during investigation", Party.CUSTOMER),
    (MAINTAINING_VERSIONS, Party.CUSTOMER),
    (SECURE_CONFIGURATION, Party.CUSTOMER),
    (APPLICATION_DEBUGGING, Party.CUSTOMER),
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

CUSTOM_FEATURES = "Custom feature development"
ARCHITECTURE = "Major architectural redesign projects"
ENVIRONMENTS = "New environment design or migration projects"
APPLICATION_DEBUG_SCOPE = "Customer application debugging (unless directly caused by Stakater platform issues)"
PERFORMANCE = "Performance tuning of customer workloads beyond platform-level guidance"
SECURITY = "Security assessments or audits (unless separately contracted)"
INFRASTRUCTURE_SCOPE = "Full infrastructure management (unless explicitly contracted)"
APPLICATION_CODE_SCOPE = "Customer application code (unless separately agreed)"
NEW_CAPABILITIES = "New capabilities"
STRUCTURAL_DESIGN = "Structural design changes"
CUSTOM_AUTOMATION = "Custom automation"
PLATFORM_EXPANSION = "Platform expansion"

_EXCLUDED = (
    CUSTOM_FEATURES,
    ARCHITECTURE,
    ENVIRONMENTS,
    APPLICATION_DEBUG_SCOPE,
    "Third-party software licensing or compliance management",
    PERFORMANCE,
    "Business process consulting",
    SECURITY,
)

_SEPARATE = (
    NEW_CAPABILITIES,
    STRUCTURAL_DESIGN,
    CUSTOM_AUTOMATION,
    PLATFORM_EXPANSION,
    "Activities excluded from support, under a Professional Services agreement",
)

# What each contracted service moves from excluded/separate agreement to included (sections 2, 4, 6).
CONTRACTED_SCOPE: dict[ContractedService, tuple[str, ...]] = {
    ContractedService.INFRASTRUCTURE_MANAGEMENT: (INFRASTRUCTURE_SCOPE,),
    ContractedService.APPLICATION_CODE: (APPLICATION_CODE_SCOPE, APPLICATION_DEBUG_SCOPE),
    ContractedService.SECURITY_ASSESSMENT: (SECURITY,),
    ContractedService.PERFORMANCE_TUNING: (PERFORMANCE,),
    ContractedService.ARCHITECTURE_DESIGN: (ARCHITECTURE, STRUCTURAL_DESIGN),
    ContractedService.ENVIRONMENT_DESIGN: (ENVIRONMENTS, PLATFORM_EXPANSION),
    ContractedService.CUSTOM_DEVELOPMENT: (CUSTOM_FEATURES, NEW_CAPABILITIES, CUSTOM_AUTOMATION),
}

# Which responsibility row each contracted service moves, and to whom (section 3).
CONTRACTED_RESPONSIBILITIES: dict[ContractedService, tuple[str, Party]] = {
    ContractedService.INFRASTRUCTURE_MANAGEMENT: (MANAGING_INFRASTRUCTURE, Party.STAKATER),
    ContractedService.APPLICATION_CODE: (APPLICATION_DEBUGGING, Party.STAKATER),
    ContractedService.SECURITY_ASSESSMENT: (SECURE_CONFIGURATION, Party.SHARED),
}

# Support plans (Stakater support docs): hours, channels, and what the plan adds.
_SUPPORT_TERMS: dict[Plan, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    Plan.STANDARD: (
        "8x5 business hours (Monday to Friday, excluding public holidays)",
        ("Support portal",),
        ("Upgrade and lifecycle guidance on request",),
    ),
    Plan.PREMIUM: (
        "24x7x365",
        ("Support portal (priority queue)", "Slack or phone for P1, where agreed"),
        ("Named technical contact", "Quarterly service review", "Proactive upgrade and lifecycle guidance"),
    ),
}

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


def agreement_name(spec: SupportEngagementSpec) -> str:
    """How messages cite the agreement."""
    reference = spec.agreement.reference
    return f"the agreement {reference}" if reference else "the agreement"


def stakater_manages_infrastructure(spec: SupportEngagementSpec) -> bool:
    """Section 4: managed services cover infrastructure; product support only if explicitly contracted."""
    return spec.type == EngagementType.MANAGED_SERVICE or spec.contracts(ContractedService.INFRASTRUCTURE_MANAGEMENT)


def responsibilities(spec: SupportEngagementSpec) -> list[ResponsibilityStatus]:
    managed = spec.type == EngagementType.MANAGED_SERVICE
    contracted = {
        item: (owner, service)
        for service, (item, owner) in CONTRACTED_RESPONSIBILITIES.items()
        if spec.contracts(service)
    }
    table = []
    for item, default_owner in _RESPONSIBILITIES:
        owner, note = default_owner, ""
        if item == MAINTAINING_VERSIONS and stakater_maintains_versions(spec):
            owner, note = Party.STAKATER, "the managed-service agreement assigns version maintenance to Stakater"
        elif item in contracted:
            owner, service = contracted[item]
            note = f"{service} is contracted in {agreement_name(spec)}"
        elif item == MANAGING_INFRASTRUCTURE and not managed:
            owner, note = Party.CUSTOMER, "product support does not cover infrastructure management unless contracted"
        table.append(ResponsibilityStatus(item=item, owner=owner, note=note))
    return table


def support_terms(spec: SupportEngagementSpec) -> SupportTermsStatus:
    hours, channels, benefits = _SUPPORT_TERMS[Plan(spec.plan)]
    return SupportTermsStatus(plan=spec.plan, coverage_hours=hours, channels=list(channels), benefits=list(benefits))


def scope(spec: SupportEngagementSpec, integrations: list[str]) -> ScopeStatus:
    guidance = (
        "Upgrade and lifecycle guidance (proactive)"
        if spec.plan == Plan.PREMIUM
        else "Upgrade and lifecycle guidance (reactive, on request)"
    )
    if spec.type == EngagementType.MANAGED_SERVICE:
        boundary_in = ["Managed infrastructure components", "Platform-level monitoring and remediation"]
        boundary_out = [APPLICATION_CODE_SCOPE]
    else:
        boundary_in = ["The covered Stakater products"] + [f"Documented integration: {i}" for i in integrations]
        boundary_out = [INFRASTRUCTURE_SCOPE]
    moved = {
        item: service for service in spec.contracted_services for item in CONTRACTED_SCOPE[ContractedService(service)]
    }
    excluded = [item for item in (*_EXCLUDED, *boundary_out) if item not in moved]
    separate = [item for item in _SEPARATE if item not in moved]
    contracted = [
        f"{item.split(' (unless')[0]} (contracted: {service} in {agreement_name(spec)})"
        for item, service in moved.items()
        if item in (*_EXCLUDED, *boundary_out, *_SEPARATE)
    ]
    return ScopeStatus(
        included=[*_INCLUDED, guidance, *boundary_in, *contracted],
        excluded=excluded,
        separate_agreement=separate,
    )


def response_targets(spec: SupportEngagementSpec) -> list[ResponseTargetStatus]:
    overrides = {o.severity: o.first_response for o in spec.response_targets}
    return [
        ResponseTargetStatus(severity=sev, first_response=overrides.get(sev, target))
        for sev, target in _RESPONSE_TARGETS[Plan(spec.plan)]
    ]

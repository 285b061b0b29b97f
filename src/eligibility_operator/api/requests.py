"""The SupportRequest API (support.stakater.com/v1alpha1), defined once.

A SupportRequest is what an SRE is about to raise with Stakater (or has just
raised). The operator triages it against the engagement, the detected products
and the policy; the CRD is generated from these models like the others.
Every string and list has a schema limit, so oversized requests are refused at
``kubectl apply``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from .common import _Status
from .models import Condition, Eligibility, Lifecycle, Party, ResponsibilityStatus, _Model

MAX_WORKLOADS = 20
WORKLOAD_REF_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[A-Za-z][A-Za-z0-9]*/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$"


class RequestCategory(StrEnum):
    INCIDENT = "Incident"
    QUESTION = "Question"  # question or configuration guidance
    UPGRADE_GUIDANCE = "UpgradeGuidance"
    CHANGE_REQUEST = "ChangeRequest"
    FEATURE_REQUEST = "FeatureRequest"
    SECURITY_ASSESSMENT = "SecurityAssessment"
    PERFORMANCE_TUNING = "PerformanceTuning"
    ARCHITECTURE_DESIGN = "ArchitectureDesign"
    INFRASTRUCTURE = "Infrastructure"
    APPLICATION_CODE = "ApplicationCode"
    THIRD_PARTY = "ThirdParty"


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Impact(StrEnum):
    """The policy's severity definitions, as the customer states them."""

    PRODUCTION_OUTAGE = "ProductionOutage"
    MAJOR_DEGRADATION = "MajorDegradation"
    LIMITED = "Limited"
    NO_PRODUCTION_IMPACT = "NoProductionImpact"


class Workaround(StrEnum):
    NONE = "None"
    NOT_SUSTAINABLE = "NotSustainable"
    REASONABLE = "Reasonable"


class Scope(StrEnum):
    IN_SCOPE = "InScope"
    EXCLUDED = "Excluded"
    CHANGE_REQUEST = "ChangeRequest"
    THIRD_PARTY = "ThirdParty"
    NOT_COVERED = "NotCovered"
    UNKNOWN = "Unknown"


class RequestConditionType(StrEnum):
    """A SupportRequest's condition types."""

    READY = "Ready"
    IN_SCOPE = "InScope"
    COMPLETE = "Complete"
    ELIGIBLE = "Eligible"


class Route(StrEnum):
    SUPPORT = "Support"
    PROFESSIONAL_SERVICES = "ProfessionalServices"
    SCOPED_ENGAGEMENT = "ScopedEngagement"
    COMMERCIAL_APPROVAL = "CommercialApproval"
    SHARED = "Shared"
    UNKNOWN = "Unknown"


Text = Annotated[str, Field(min_length=1, max_length=253)]


# ------------------------------------------------------------------------- spec


class EngagementRef(_Model):
    name: Annotated[str, Field(min_length=1, max_length=253)] = Field(description="SupportEngagement name.")
    namespace: Annotated[str, Field(min_length=1, max_length=63)] | None = Field(
        default=None, description="Its namespace. Default: the request's namespace."
    )


class Ticket(_Model):
    reference: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        default=None, description="Ticket number in Stakater's support portal (or your own tracker)."
    )
    opened_at: dt.datetime | None = Field(
        default=None,
        description="When the ticket was opened; the first-response due time counts from it. "
        "Default: the request's creation time.",
    )


class SupportRequestSpec(_Model):
    engagement_ref: EngagementRef | None = Field(
        default=None,
        description="The engagement the request falls under. Default: the engagement covering the request's "
        "namespace (it must be unique).",
    )
    category: RequestCategory = Field(
        description="Incident, Question (incl. configuration guidance), UpgradeGuidance, ChangeRequest, "
        "FeatureRequest, SecurityAssessment, PerformanceTuning, ArchitectureDesign, Infrastructure, "
        "ApplicationCode or ThirdParty."
    )
    product: Annotated[str, Field(min_length=1, max_length=63, pattern="^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] | None = (
        Field(default=None, description="Affected product, as named in the compatibility matrix.")
    )
    workloads: Annotated[
        list[Annotated[str, Field(max_length=400, pattern=WORKLOAD_REF_PATTERN)]], Field(max_length=MAX_WORKLOADS)
    ] = Field(default_factory=list, description="Affected workloads as namespace/Kind/name (at most 20).")
    version: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="Version of the affected product, when no workload shows it."
    )
    severity: Severity = Field(
        default=Severity.P3, description="Proposed severity P1-P4 (the customer classifies; Stakater may reclassify)."
    )
    impact: Impact | None = Field(
        default=None,
        description="ProductionOutage, MajorDegradation, Limited or NoProductionImpact.",
    )
    workaround: Workaround | None = Field(
        default=None, description="None, NotSustainable or Reasonable: whether a workaround exists."
    )
    vendor: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        default=None, description="Third-party or upstream vendor involved (e.g. cert-manager)."
    )
    title: Annotated[str, Field(min_length=1, max_length=200)] = Field(description="One-line summary.")
    description: Annotated[str, Field(max_length=8192)] | None = Field(default=None, description="What happens.")
    reproduction: Annotated[str, Field(max_length=8192)] | None = Field(default=None, description="Steps to reproduce.")
    ticket: Ticket = Field(
        default_factory=Ticket, json_schema_extra={"default": {}}, description="External ticket reference."
    )


# ----------------------------------------------------------------------- status


class AffectedProduct(_Status):
    product: str = Field(max_length=63, description="Product name from the matrix.")
    version: str = Field(max_length=64, description="Detected (or stated) version, or Unknown.")
    lifecycle: Lifecycle | None = Field(default=None, description="Supported, Deprecated, EndOfLife or Unknown.")
    eligibility: Eligibility | None = Field(default=None, description="Eligible, Limited or Ineligible.")
    action_owner: Party | None = Field(default=None, description="Who must act when the version is not Supported.")
    recommended_version: str | None = Field(default=None, max_length=64, description="Upgrade target.")
    note: str = Field(default="", max_length=1024, description="Why, and what to do first.")
    workloads: list[str] = Field(default_factory=list, max_length=MAX_WORKLOADS, description="Workloads running it.")


class SeverityStatus(_Status):
    proposed: Severity = Field(description="Severity the customer proposed.")
    suggested: Severity = Field(description="Severity the policy's definitions suggest.")
    note: str = Field(default="", max_length=1024, description="Why they differ, when they do.")


class FirstResponse(_Status):
    target: str = Field(max_length=64, description="The plan's (or agreement's) first-response target.")
    due: dt.datetime | None = Field(default=None, description="When the first response is due (UTC).")
    business_hours: bool = Field(default=False, description="True when counted in business hours.")
    calendar: str = Field(default="", max_length=128, description="Time zone and holiday calendar used.")
    note: str = Field(default="", max_length=1024, description="What the target does not promise.")


class WorkloadDiagnostics(_Status):
    workload: str = Field(max_length=400, description="namespace/Kind/name.")
    found: bool = Field(description="Whether the workload exists.")
    replicas: str = Field(default="", max_length=64, description="ready/desired, when known.")
    conditions: list[str] = Field(default_factory=list, max_length=10, description="type=status reason: message.")
    events: list[str] = Field(default_factory=list, max_length=10, description="Recent Events (newest first).")


class Diagnostics(_Status):
    platform: str = Field(default="", max_length=256, description="Kubernetes / OpenShift versions.")
    products: list[str] = Field(default_factory=list, max_length=MAX_WORKLOADS, description="product version.")
    workloads: list[WorkloadDiagnostics] = Field(
        default_factory=list, max_length=MAX_WORKLOADS, description="Conditions and recent Events of the workloads."
    )


class SupportRequestStatus(_Status):
    observed_generation: int | None = Field(default=None, description="Spec generation last triaged.")
    engagement: str | None = Field(default=None, max_length=320, description="namespace/name of the engagement.")
    plan: str | None = Field(default=None, max_length=32, description="The engagement's plan.")
    scope: Scope = Field(
        default=Scope.UNKNOWN, description="InScope, Excluded, ChangeRequest, ThirdParty, NotCovered or Unknown."
    )
    route: Route = Field(
        default=Route.UNKNOWN,
        description="Support, ProfessionalServices, ScopedEngagement, CommercialApproval, Shared or Unknown.",
    )
    reason: str = Field(default="", max_length=512, description="Why this scope and route (policy section).")
    severity: SeverityStatus | None = Field(default=None, description="Proposed and suggested severity.")
    first_response: FirstResponse | None = Field(
        default=None, description="First-response target and due time (support requests only)."
    )
    products: list[AffectedProduct] = Field(
        default_factory=list, max_length=MAX_WORKLOADS, description="Eligibility snapshot of each affected product."
    )
    missing_information: list[str] = Field(
        default_factory=list, max_length=10, description="What the policy asks for that the request lacks."
    )
    responsibilities: list[ResponsibilityStatus] = Field(
        default_factory=list, max_length=20, description="Who does what next for this request."
    )
    diagnostics: Diagnostics | None = Field(
        default=None, description="Bounded summary to attach to the ticket (never Secrets, env values or logs)."
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="Ready, InScope, Complete and Eligible (kstatus-style)."
    )
    last_triage_time: dt.datetime | None = Field(
        default=None, description="Time of the triage that produced this status (written only when it changes)."
    )

"""The SupportEngagement: the contract (spec) and what the operator found (status).
:mod:`.models` re-exports all of it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from .common import (
    _EMPTY_OBJECT_DEFAULT,
    DEFAULT_MATRIX_NAME,
    MAX_STATUS_PRODUCTS,
    MAX_STATUS_WORKLOADS,
    Condition,
    ContractedService,
    Edition,
    Eligibility,
    EnforcementMode,
    EngagementType,
    LabelSelector,
    Lifecycle,
    Name,
    Party,
    Plan,
    VersionOwner,
    _Model,
    _Status,
)

# ------------------------------------------------------------ SupportEngagement spec


class AgreementRefs(_Model):
    order_form: str | None = Field(
        default=None, description="Reference of the Order Form that defines this engagement's scope."
    )
    master_agreement: str | None = Field(
        default=None, description="Reference of the Master Agreement the order form falls under."
    )
    effective_from: dt.date | None = Field(
        default=None,
        description="First day the agreement is in force (UTC). Before it the engagement is Ineligible.",
    )
    expires_on: dt.date | None = Field(
        default=None,
        description="Last day the agreement is in force (UTC). After it the engagement is Ineligible; "
        "Premium is warned upgradeHorizonDays ahead.",
    )

    time_zone: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$")] = Field(
        default="UTC",
        description="IANA time zone of the agreement's business hours (e.g. Europe/Berlin); "
        "SupportRequest due times are computed in it.",
    )
    holiday_calendar: Annotated[str, Field(max_length=16, pattern=r"^[A-Z]{2,3}(-[A-Z0-9]{1,10})?$")] | None = Field(
        default=None,
        description="Public holidays excluded from business hours: ISO 3166 country code, optionally with a "
        "subdivision (DE, DE-BY, US-CA, GB-ENG). Absent: weekends only.",
    )

    @property
    def reference(self) -> str | None:
        """How messages cite the agreement: the order form, else the master agreement."""
        return self.order_form or self.master_agreement


class CoveredProduct(_Model):
    name: Name = Field(description="Product name as listed in the compatibility matrix, e.g. reloader.")
    edition: Edition = Field(
        default=Edition.COMMUNITY,
        description="Edition under contract. Enterprise carries upgrade and compatibility guarantees.",
    )


class Coverage(_Model):
    """Which namespaces the engagement covers. Empty means the whole cluster."""

    namespaces: list[Name] = Field(default_factory=list, description="Namespaces covered by name.")
    namespace_selector: LabelSelector | None = Field(
        default=None, description="Namespaces covered by label. Unioned with `namespaces`."
    )


class ServiceCreditTerms(_Model):
    defined_in_agreement: bool = Field(
        default=False,
        description="True only if the commercial agreement explicitly defines service credits (policy section 8).",
    )
    reference: str | None = Field(
        default=None, description="Clause or document in the agreement that defines the credits."
    )
    apply_under_limited_support: bool = Field(
        default=False,
        description="True only if the agreement grants credits under Limited Support too; by default "
        "(as in Stakater's managed-platform SLA) credits are denied unless the engagement is Eligible.",
    )


class ResponseTargetOverride(_Model):
    severity: Annotated[str, Field(pattern="^P[1-4]$")] = Field(description="P1, P2, P3 or P4.")
    first_response: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="Agreed first-response target, e.g. '30 minutes'."
    )


class Enforcement(_Model):
    mode: EnforcementMode = Field(
        default=EnforcementMode.AUDIT,
        description="Admission behaviour in covered namespaces: "
        "Audit records, Warn warns, Enforce refuses end-of-life versions.",
    )


class MatrixRef(_Model):
    name: Name = Field(description="Name of the cluster-scoped CompatibilityMatrix.")


class SupportEngagementSpec(_Model):
    customer: Annotated[str, Field(min_length=1, max_length=253)] = Field(
        description="Customer the engagement belongs to."
    )
    agreement: AgreementRefs = Field(
        default_factory=AgreementRefs,
        json_schema_extra=_EMPTY_OBJECT_DEFAULT,
        description="Contract documents that define the scope.",
    )
    type: EngagementType = Field(
        description="ProductSupport covers Stakater products and their documented integrations; "
        "ManagedService covers managed infrastructure components and platform monitoring."
    )
    plan: Plan = Field(description="Standard (8x5, reactive guidance) or Premium (24x7, proactive guidance).")
    products: list[CoveredProduct] = Field(
        default_factory=list,
        description="Products under contract. Empty: every product in the matrix.",
    )
    coverage: Coverage = Field(
        default_factory=Coverage,
        json_schema_extra=_EMPTY_OBJECT_DEFAULT,
        description="Covered namespaces. Empty: the whole cluster.",
    )
    version_management: VersionOwner = Field(
        default=VersionOwner.CUSTOMER,
        description="Who maintains supported versions. Stakater is valid only for ManagedService "
        "agreements that say so; then end-of-life versions are Stakater's action item.",
    )
    service_credits: ServiceCreditTerms = Field(
        default_factory=ServiceCreditTerms,
        json_schema_extra=_EMPTY_OBJECT_DEFAULT,
        description="Service-credit terms of the agreement.",
    )
    upgrade_horizon_days: Annotated[int, Field(ge=0, le=3650)] | None = Field(
        default=None,
        description="Premium only: warn this many days before a version's, the platform's or the "
        "agreement's end (default 90). Ignored under Standard (guidance is reactive); the status says so.",
    )
    contracted_services: Annotated[list[ContractedService], Field(max_length=7)] = Field(
        default_factory=list,
        description="Services the agreement contracts beyond standard support (policy sections 2 and 4): "
        "InfrastructureManagement, ApplicationCode, SecurityAssessment, PerformanceTuning, "
        "ArchitectureDesign, EnvironmentDesign, CustomDevelopment. Each moves the matching scope "
        "items to included and the matching responsibilities to Stakater, citing the agreement.",
    )
    matrix_ref: MatrixRef | None = Field(
        default=None, description="CompatibilityMatrix to judge against. Default: the matrix named 'default'."
    )
    response_targets: list[ResponseTargetOverride] = Field(
        default_factory=list, description="Per-severity first-response targets that override the plan's."
    )
    enforcement: Enforcement = Field(
        default_factory=Enforcement,
        json_schema_extra=_EMPTY_OBJECT_DEFAULT,
        description="Admission enforcement for covered namespaces.",
    )

    @property
    def matrix_name(self) -> str:
        return self.matrix_ref.name if self.matrix_ref else DEFAULT_MATRIX_NAME

    def contracts(self, service: ContractedService) -> bool:
        return service in self.contracted_services


# ---------------------------------------------------------- SupportEngagement status


class ProductStatus(_Status):
    product: str = Field(description="Product name from the matrix.")
    edition: Edition | None = Field(default=None, description="Edition detected from the image.")
    version: str = Field(description="Detected version, or Unknown.")
    lifecycle: Lifecycle | None = Field(
        default=None, description="Supported, Deprecated, EndOfLife or Unknown; absent for uncovered products."
    )
    end_of_support: dt.date | None = Field(default=None, description="End of support of this release line.")
    recommended_version: str | None = Field(
        default=None,
        description="Recommended upgrade target, never lower than version; absent for a version newer than the matrix.",
    )
    eligibility: Eligibility | None = Field(
        default=None,
        description="Eligible (Supported or Deprecated), Ineligible (EndOfLife, or the platform is not supported), "
        "Limited (version unknown, Community image under an Enterprise contract); Eligible for a version newer "
        "than the matrix lists (matrixBehind: Stakater's action item) and under a ManagedService with "
        "versionManagement Stakater (the findings are Stakater's action items); absent for uncovered products.",
    )
    action_owner: Party | None = Field(
        default=None, description="Who must act on this version's findings (Customer or Stakater); absent if none."
    )
    codes: Annotated[list[Annotated[str, Field(pattern=r"^EO[0-9]{3}$")]], Field(max_length=16)] | None = Field(
        default=None,
        description="Stable codes of this version's findings, worst first (EO101 end of life, EO105 platform "
        "incompatible, ...): see docs/reference/findings.md. Absent when there is nothing to report.",
    )
    reason: str = Field(default="", description="Why this lifecycle and eligibility were given, and what to do.")
    matrix_behind: bool | None = Field(
        default=None,
        description="True when the version is newer than the newest release line the matrix lists (or the matrix "
        "lists no release of the product, or the chart version is newer than the matrix's chart map): the matrix "
        "is behind. Lifecycle Unknown, owner Stakater (it updates "
        "the matrix); it never lowers eligibility. Absent otherwise.",
    )
    version_source: str | None = Field(
        default=None,
        description="What gave the version: image tag, ClusterServiceVersion, main container image tag, "
        "label olm.owner, chart label <key>, label <key>, annotation support.stakater.com/version, "
        "chart values image tag or chart <name> <version> (a HelmRelease, Argo CD Application or kustomize "
        "helmCharts entry), Subscription status.installedCSV, Subscription startingCSV (manual approval), "
        "InstallPlan <name> or <namespace>/ClusterServiceVersion/<name> (an OLM Subscription's version told "
        "by another object of its package).",
    )
    workloads: list[str] = Field(
        default_factory=list,
        max_length=MAX_STATUS_WORKLOADS,
        description="Workloads running it, as namespace/Kind/name (first 20).",
    )
    workload_count: int = Field(default=0, description="Number of workloads running it.")


class PlatformStatus(_Status):
    kubernetes_version: str | None = Field(default=None, description="Kubernetes version from /version.")
    openshift_version: str | None = Field(default=None, description="OpenShift version from ClusterVersion.")
    compatible: bool | None = Field(default=None, description="Whether every detected product supports it.")
    message: str = Field(default="", description="Incompatibilities found.")
    lifecycle: Lifecycle | None = Field(
        default=None,
        description="Maintenance of the cluster's Kubernetes or OpenShift release line per the matrix: "
        "Supported, Deprecated (Premium horizon), EndOfLife (end of maintenance passed) or Unknown.",
    )
    release: str | None = Field(default=None, description="Platform release line judged, e.g. OpenShift 4.16.")
    end_of_maintenance: dt.date | None = Field(default=None, description="End of maintenance of that release line.")
    action_owner: Party | None = Field(
        default=None,
        description="Who upgrades the platform when it is not maintained: the customer, or Stakater when "
        "it manages the infrastructure (ManagedService, or InfrastructureManagement contracted).",
    )


class ResponsibilityStatus(_Status):
    item: str = Field(description="Responsibility from the shared responsibility model.")
    owner: Party = Field(description="Stakater, Customer or Shared.")
    note: str = Field(default="", description="Why this owner, when it is not the policy's default.")


class ScopeStatus(_Status):
    included: list[str] = Field(default_factory=list, description="What support includes.")
    excluded: list[str] = Field(default_factory=list, description="What support excludes.")
    separate_agreement: list[str] = Field(
        default_factory=list, description="What needs a Professional Services agreement or commercial approval."
    )


class ResponseTargetStatus(_Status):
    severity: str = Field(description="P1 to P4.")
    first_response: str = Field(description="First-response target (resolution time is not guaranteed).")


class ServiceCreditStatus(_Status):
    applicable: bool = Field(description="Whether service credits apply now.")
    reason: str = Field(default="", description="Why they do or do not.")


class AgreementStatus(_Status):
    reference: str | None = Field(default=None, description="Order form, else master agreement.")
    in_force: bool = Field(description="Whether today (UTC) is within effectiveFrom..expiresOn.")
    effective_from: dt.date | None = Field(default=None, description="From spec.agreement.effectiveFrom.")
    expires_on: dt.date | None = Field(default=None, description="From spec.agreement.expiresOn.")
    action_owner: Party | None = Field(default=None, description="Who must act (renewal) when not in force.")
    message: str = Field(default="", description="The term in words.")


class SupportTermsStatus(_Status):
    plan: Plan = Field(description="Standard or Premium.")
    coverage_hours: str = Field(description="When support is staffed.")
    channels: list[str] = Field(default_factory=list, description="How to raise a request.")
    benefits: list[str] = Field(default_factory=list, description="What the plan adds beyond response targets.")


class SupportEngagementStatus(_Status):
    observed_generation: int | None = Field(default=None, description="Spec generation last evaluated.")
    eligibility: Eligibility = Field(
        default=Eligibility.UNKNOWN,
        description="Eligible: the agreement is in force and every covered product version found is eligible. "
        "Limited (Limited Support): some covered product versions are Limited or Ineligible, at least one is "
        "eligible. Ineligible: the agreement is not in force, or no covered product version is eligible. "
        "Unknown: not evaluated (Ready=False).",
    )
    reason: str = Field(default="", description="Short reason for the eligibility, shown by kubectl get.")
    products_out_of_support: int = Field(
        default=0,
        description="Covered product versions whose lifecycle is EndOfLife or Unknown, not counting versions newer "
        "than the matrix lists (matrixBehind).",
    )
    products_not_eligible: int = Field(
        default=0, description="Covered product versions whose eligibility is Limited or Ineligible."
    )
    conditions: list[Condition] = Field(default_factory=list, description="kstatus-style conditions.")
    products: list[ProductStatus] = Field(
        default_factory=list,
        max_length=MAX_STATUS_PRODUCTS,
        description="Covered product versions found, worst first when there are more than 50.",
    )
    products_total: int = Field(default=0, description="Covered product versions found (products lists at most 50).")
    uncovered_products: list[ProductStatus] = Field(
        default_factory=list,
        max_length=MAX_STATUS_PRODUCTS,
        description="Stakater products found that this engagement does not cover (not judged); at most 50.",
    )
    uncovered_products_total: int = Field(default=0, description="Uncovered product versions found.")
    platform: PlatformStatus | None = Field(default=None, description="Platform found.")
    responsibilities: list[ResponsibilityStatus] = Field(
        default_factory=list, description="Shared responsibility table resolved for this engagement."
    )
    scope: ScopeStatus | None = Field(default=None, description="Scope for the engagement type.")
    response_targets: list[ResponseTargetStatus] = Field(
        default_factory=list, description="First-response targets for the plan."
    )
    service_credits: ServiceCreditStatus | None = Field(default=None, description="Service-credit applicability.")
    agreement: AgreementStatus | None = Field(default=None, description="The agreement's term and reference.")
    support_terms: SupportTermsStatus | None = Field(
        default=None, description="Coverage hours, channels and benefits of the plan."
    )
    matrix: str | None = Field(default=None, description="CompatibilityMatrix used.")
    matrix_revision: str | None = Field(
        default=None, description="Revision (sha256) of the fetched matrix document used (matrices with spec.source)."
    )
    last_evaluation_time: dt.datetime | None = Field(
        default=None,
        description="Time of the evaluation that produced this status (status is written only when it changes).",
    )

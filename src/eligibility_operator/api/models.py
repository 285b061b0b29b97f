"""The API of support.stakater.com/v1alpha1, defined once.

These pydantic models are the single source of truth: the CRD YAML under
``crds/`` is generated from them (see :mod:`eligibility_operator.api.crdgen`),
and the operator, the webhook and ``check`` parse resources with them.
Field names are camelCase on the wire (aliases), snake_case in Python.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

GROUP = "support.stakater.com"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
DEFAULT_MATRIX_NAME = "default"


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        use_enum_values=True,
        frozen=True,
    )


# An object default, so that the API server fills in nested defaults when the field is omitted.
_EMPTY_OBJECT_DEFAULT: JsonDict = {"default": {}}

# --------------------------------------------------------------------------- enums


class EngagementType(StrEnum):
    PRODUCT_SUPPORT = "ProductSupport"
    MANAGED_SERVICE = "ManagedService"


class Plan(StrEnum):
    STANDARD = "Standard"
    PREMIUM = "Premium"


class Edition(StrEnum):
    COMMUNITY = "Community"
    ENTERPRISE = "Enterprise"


class Party(StrEnum):
    STAKATER = "Stakater"
    CUSTOMER = "Customer"
    SHARED = "Shared"


class VersionOwner(StrEnum):
    CUSTOMER = "Customer"
    STAKATER = "Stakater"


class EnforcementMode(StrEnum):
    AUDIT = "Audit"
    WARN = "Warn"
    ENFORCE = "Enforce"


class Eligibility(StrEnum):
    ELIGIBLE = "Eligible"
    LIMITED = "Limited"
    INELIGIBLE = "Ineligible"
    UNKNOWN = "Unknown"


class Lifecycle(StrEnum):
    SUPPORTED = "Supported"
    DEPRECATED = "Deprecated"
    END_OF_LIFE = "EndOfLife"
    UNKNOWN = "Unknown"


class ContractedService(StrEnum):
    """Services the policy excludes "unless separately contracted" (sections 2 and 4)."""

    INFRASTRUCTURE_MANAGEMENT = "InfrastructureManagement"
    APPLICATION_CODE = "ApplicationCode"
    SECURITY_ASSESSMENT = "SecurityAssessment"
    PERFORMANCE_TUNING = "PerformanceTuning"
    ARCHITECTURE_DESIGN = "ArchitectureDesign"
    ENVIRONMENT_DESIGN = "EnvironmentDesign"
    CUSTOM_DEVELOPMENT = "CustomDevelopment"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    """Condition types in status; a CompatibilityMatrix has only ``Ready``."""

    READY = "Ready"
    ELIGIBLE = "Eligible"
    AGREEMENT_IN_FORCE = "AgreementInForce"
    VERSIONS_SUPPORTED = "VersionsSupported"
    PLATFORM_COMPATIBLE = "PlatformCompatible"
    UPGRADE_RECOMMENDED = "UpgradeRecommended"


# ------------------------------------------------------------------ shared pieces

Name = Annotated[str, Field(min_length=1, max_length=253)]
# Status lists the operator caps itself (worst first; the totals say how many there were).
MAX_STATUS_PRODUCTS = 50
MAX_STATUS_WORKLOADS = 20


class LabelSelectorRequirement(_Model):
    key: Name = Field(description="Label key the selector applies to.")
    operator: Annotated[str, Field(pattern="^(In|NotIn|Exists|DoesNotExist)$")] = Field(
        description="One of In, NotIn, Exists, DoesNotExist."
    )
    values: list[str] = Field(default_factory=list, description="Values for In/NotIn; empty for Exists/DoesNotExist.")


class LabelSelector(_Model):
    """A Kubernetes label selector (same semantics as metav1.LabelSelector)."""

    match_labels: dict[str, str] = Field(
        default_factory=dict, description="Labels that must all be present with these values."
    )
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, description="Set-based requirements; all must hold."
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


class Condition(_Model):
    type: str = Field(
        description="Ready, Eligible, AgreementInForce, VersionsSupported, PlatformCompatible or UpgradeRecommended."
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason for the status.")
    message: str = Field(default="", description="Human-readable explanation.")
    last_transition_time: dt.datetime | None = Field(default=None, description="When the status last changed.")
    observed_generation: int | None = Field(
        default=None, description="Spec generation the condition was computed from."
    )


class ProductStatus(_Model):
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
    reason: str = Field(default="", description="Why this lifecycle and eligibility were given, and what to do.")
    matrix_behind: bool | None = Field(
        default=None,
        description="True when the version is newer than the newest release line the matrix lists (or the matrix "
        "lists no release of the product): the matrix is behind. Lifecycle Unknown, owner Stakater (it updates "
        "the matrix); it never lowers eligibility. Absent otherwise.",
    )
    version_source: str | None = Field(
        default=None,
        description="What gave the version: image tag, ClusterServiceVersion, main container image tag, "
        "label olm.owner, chart label <key>, label <key>, annotation support.stakater.com/version, "
        "chart values image tag or chart <name> <version> (a HelmRelease or Argo CD Application).",
    )
    workloads: list[str] = Field(
        default_factory=list,
        max_length=MAX_STATUS_WORKLOADS,
        description="Workloads running it, as namespace/Kind/name (first 20).",
    )
    workload_count: int = Field(default=0, description="Number of workloads running it.")


class PlatformStatus(_Model):
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


class ResponsibilityStatus(_Model):
    item: str = Field(description="Responsibility from the shared responsibility model.")
    owner: Party = Field(description="Stakater, Customer or Shared.")
    note: str = Field(default="", description="Why this owner, when it is not the policy's default.")


class ScopeStatus(_Model):
    included: list[str] = Field(default_factory=list, description="What support includes.")
    excluded: list[str] = Field(default_factory=list, description="What support excludes.")
    separate_agreement: list[str] = Field(
        default_factory=list, description="What needs a Professional Services agreement or commercial approval."
    )


class ResponseTargetStatus(_Model):
    severity: str = Field(description="P1 to P4.")
    first_response: str = Field(description="First-response target (resolution time is not guaranteed).")


class ServiceCreditStatus(_Model):
    applicable: bool = Field(description="Whether service credits apply now.")
    reason: str = Field(default="", description="Why they do or do not.")


class AgreementStatus(_Model):
    reference: str | None = Field(default=None, description="Order form, else master agreement.")
    in_force: bool = Field(description="Whether today (UTC) is within effectiveFrom..expiresOn.")
    effective_from: dt.date | None = Field(default=None, description="From spec.agreement.effectiveFrom.")
    expires_on: dt.date | None = Field(default=None, description="From spec.agreement.expiresOn.")
    action_owner: Party | None = Field(default=None, description="Who must act (renewal) when not in force.")
    message: str = Field(default="", description="The term in words.")


class SupportTermsStatus(_Model):
    plan: Plan = Field(description="Standard or Premium.")
    coverage_hours: str = Field(description="When support is staffed.")
    channels: list[str] = Field(default_factory=list, description="How to raise a request.")
    benefits: list[str] = Field(default_factory=list, description="What the plan adds beyond response targets.")


class SupportEngagementStatus(_Model):
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


# ------------------------------------------------------------- CompatibilityMatrix


class ImageRecognition(_Model):
    repository: Name = Field(
        description="Image repository path without registry host, e.g. stakater/reloader. "
        "Matches any registry or mirror prefix."
    )
    edition: Edition = Field(default=Edition.COMMUNITY, description="Edition this image belongs to.")


class ChartVersion(_Model):
    chart: Annotated[str, Field(pattern=r"^v?\d{1,9}(\.\d{1,9}){0,2}$")] = Field(
        description="A chart version ('2.2.16') or a line of them ('1.0' covers 1.0.x); exact versions win."
    )
    app: Annotated[str, Field(pattern=r"^v?\d{1,9}(\.\d{1,9}){0,2}$")] | None = Field(
        default=None, description="App version this chart version installs; absent: the same as the chart version."
    )


class ChartRecognition(_Model):
    name: Name = Field(description="Helm chart name, e.g. reloader.")
    repositories: list[str] = Field(
        default_factory=list,
        description="The product's chart repositories, as URL prefixes (https://stakater.github.io/stakater-charts, "
        "oci://ghcr.io/stakater/charts). A chart of this name from another repository is not the product; "
        "a chart whose repository is not known (a Flux HelmRepository that is not in the input) is.",
    )
    versions: list[ChartVersion] = Field(
        default_factory=list,
        description="Which chart versions install which app version (from the published charts' appVersion). "
        "A chart version not covered here gives the version Unknown.",
    )
    image_tag_values: list[str] = Field(
        default_factory=list,
        description="Dotted paths of chart values that override the image tag (e.g. image.tag); they win over "
        "the chart version.",
    )


class Recognition(_Model):
    images: list[ImageRecognition] = Field(default_factory=list, description="Image repositories (strongest signal).")
    labels: list[dict[str, str]] = Field(
        default_factory=list,
        description="Label sets; a workload matches when all labels of one set match. Values may end in '*'. "
        "Each set must hold a label specific to the vendor (a chart, provider, part-of or managed-by label): "
        "a generic name alone (app, app.kubernetes.io/name) is refused, other vendors use the same names.",
    )
    version_labels: list[str] = Field(
        default_factory=list,
        description="Labels trusted to carry the app version, used only when no image tag gives it.",
    )
    olm_packages: list[str] = Field(
        default_factory=list,
        description="OLM package names (ClusterServiceVersion prefix); Deployments OLM creates for them "
        "(label olm.owner) take the CSV's version.",
    )
    foreign_images: list[Name] = Field(
        default_factory=list,
        description="Image repositories of other vendors' look-alikes (e.g. external-secrets-inc/reloader): a "
        "workload running one is never this product, whatever its labels say.",
    )
    charts: list[ChartRecognition] = Field(
        default_factory=list,
        description="Helm charts of the product, for Flux HelmReleases and Argo CD Applications.",
    )


class Release(_Model):
    version: Annotated[str, Field(pattern=r"^v?\d{1,9}(\.\d{1,9}){0,2}$")] = Field(
        description="A release line ('1.4' matches 1.4.x) or an exact version ('2.0.1')."
    )
    released: dt.date | None = Field(
        default=None, description="Release date of the line's first version; absent when it could not be verified."
    )
    end_of_support: dt.date | None = Field(default=None, description="End of support; absent while supported.")
    latest: str | None = Field(default=None, description="Latest version in this line.")
    source: str | None = Field(
        default=None, description="Where the dates and the latest version come from (tags, chart index, bundles)."
    )


class VersionRange(_Model):
    min: str | None = Field(default=None, description="Lowest supported version, inclusive (e.g. 1.19).")
    max: str | None = Field(default=None, description="Highest supported version, inclusive (e.g. 4.18).")


class Compatibility(_Model):
    kubernetes: VersionRange | None = Field(default=None, description="Supported Kubernetes versions.")
    openshift: VersionRange | None = Field(default=None, description="Supported OpenShift versions.")


class MatrixProduct(_Model):
    name: Annotated[str, Field(pattern="^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)] = Field(
        description="Product name, referenced by engagements."
    )
    display_name: str | None = Field(default=None, description="Human-readable name.")
    recognition: Recognition = Field(default_factory=Recognition, description="How to find the product in a cluster.")
    releases: list[Release] = Field(default_factory=list, description="Release lines with lifecycle dates.")
    recommended_version: str | None = Field(default=None, description="Upgrade target to recommend.")
    compatibility: Compatibility = Field(default_factory=Compatibility, description="Supported platforms.")
    integrations: list[str] = Field(default_factory=list, description="Documented integrations (in scope).")
    third_party_dependencies: list[str] = Field(
        default_factory=list, description="Upstream dependencies whose resolution times Stakater cannot guarantee."
    )


class Exclusion(_Model):
    name: Name = Field(description="What this exclusion is, e.g. stakater-application-chart.")
    labels: dict[str, str] = Field(
        description="Workloads whose labels all match (values may end in '*') are customer applications."
    )


class PlatformRelease(_Model):
    version: Annotated[str, Field(pattern=r"^v?\d{1,9}\.\d{1,9}$")] = Field(
        description="A platform release line, major.minor (e.g. 1.34 or 4.18)."
    )
    released: dt.date = Field(description="General availability of the line.")
    end_of_maintenance: dt.date | None = Field(default=None, description="End of maintenance; absent while maintained.")


class PlatformLifecycles(_Model):
    kubernetes: list[PlatformRelease] = Field(default_factory=list, description="Kubernetes release lines.")
    openshift: list[PlatformRelease] = Field(
        default_factory=list, description="OpenShift release lines (judged instead of Kubernetes on OpenShift)."
    )


class CompatibilityMatrixSpec(_Model):
    products: list[MatrixProduct] = Field(description="Products this matrix knows.")
    platforms: PlatformLifecycles = Field(
        default_factory=PlatformLifecycles,
        json_schema_extra=_EMPTY_OBJECT_DEFAULT,
        description="Platform release lines with their end of maintenance; a cluster on an unmaintained "
        "line is a finding with its owner. Lines not listed are not judged.",
    )
    customer_applications: list[Exclusion] = Field(
        default_factory=list,
        description="Workloads that are customer applications, never products (e.g. Stakater's application chart).",
    )


# Durations such as 30s, 15m, 6h, 7d or 1h30m (spec.source.interval, maxAge).
DURATION_PATTERN = r"^([0-9]{1,6}(s|m|h|d)){1,4}$"


class MatrixSource(_Model):
    """Where the operator fetches this matrix's document, and what the document must satisfy."""

    url: Annotated[str, Field(pattern=r"^(https|oci)://[^\s]+$", max_length=1024)] = Field(
        description="https://host/path/matrix.yaml (signature at the same URL + .sig) or "
        "oci://registry/repository:tag (document and signature as layers of one artifact)."
    )
    interval: Annotated[str, Field(pattern=DURATION_PATTERN, max_length=32)] = Field(
        default="6h", description="How often to fetch, e.g. 6h, 30m."
    )
    max_age: Annotated[str, Field(pattern=DURATION_PATTERN, max_length=32)] = Field(
        default="7d", description="The matrix is Stale (condition Current=False) when the last good fetch is older."
    )
    digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")] | None = Field(
        default=None, description="Pinned sha256:<hex> of the document: only that exact document is applied."
    )
    public_key: Annotated[str, Field(pattern=r"-----BEGIN PUBLIC KEY-----", max_length=4096)] | None = Field(
        default=None,
        description="Ed25519 public key (PEM) whose detached signature the document must carry. "
        "A source needs digest or publicKey; a document failing either is never applied.",
    )
    ca_bundle: Annotated[str, Field(max_length=65536)] | None = Field(
        default=None, description="PEM CA certificates to trust for this source instead of the system's."
    )


class CompatibilityMatrixObjectSpec(CompatibilityMatrixSpec):
    """The applied spec: the matrix itself, or (with ``source``) only where to fetch it."""

    products: list[MatrixProduct] = Field(
        default_factory=list, description="Products this matrix knows; required unless spec.source is set."
    )
    source: MatrixSource | None = Field(
        default=None,
        description="Fetch the matrix document from here instead (then products, platforms and "
        "customerApplications must be empty: the fetched document supplies them).",
    )


class CompatibilityMatrixStatus(_Model):
    observed_generation: int | None = Field(default=None, description="Spec generation last validated.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready tells whether the matrix is valid; with spec.source also Fetched (the last attempt) "
        "and Current (the copy in use is the source's latest and younger than maxAge).",
    )
    products: int = Field(default=0, description="Number of products in the matrix.")
    revision: str | None = Field(default=None, description="sha256 digest of the fetched document in use.")
    last_fetched: dt.datetime | None = Field(default=None, description="Last successful fetch of spec.source.")
    last_changed: dt.datetime | None = Field(default=None, description="When the fetched document last changed.")

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


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


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
    upgrade_horizon_days: Annotated[int, Field(ge=0, le=3650)] = Field(
        default=90,
        description="Premium only: warn this many days before a version's end of support.",
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


# ---------------------------------------------------------- SupportEngagement status


class Condition(_Model):
    type: str = Field(description="Ready, Eligible, VersionsSupported, PlatformCompatible or UpgradeRecommended.")
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
    recommended_version: str | None = Field(default=None, description="Recommended upgrade target.")
    action_owner: Party | None = Field(default=None, description="Who must act when the version is not Supported.")
    reason: str = Field(default="", description="Why this lifecycle was given.")
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


class SupportEngagementStatus(_Model):
    observed_generation: int | None = Field(default=None, description="Spec generation last evaluated.")
    eligibility: Eligibility = Field(
        default=Eligibility.UNKNOWN, description="Eligible, Limited, Ineligible or Unknown."
    )
    reason: str = Field(default="", description="Short reason for the eligibility, shown by kubectl get.")
    products_out_of_support: int = Field(
        default=0, description="Covered product versions that are EndOfLife or Unknown."
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
    matrix: str | None = Field(default=None, description="CompatibilityMatrix used.")
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


class Recognition(_Model):
    images: list[ImageRecognition] = Field(default_factory=list, description="Image repositories (strongest signal).")
    labels: list[dict[str, str]] = Field(
        default_factory=list,
        description="Label sets; a workload matches when all labels of one set match. Values may end in '*'.",
    )
    version_labels: list[str] = Field(
        default_factory=list,
        description="Labels trusted to carry the app version, used only when the image has no tag.",
    )
    olm_packages: list[str] = Field(
        default_factory=list, description="OLM package names (ClusterServiceVersion prefix)."
    )


class Release(_Model):
    version: Annotated[str, Field(pattern=r"^v?\d{1,9}(\.\d{1,9}){0,2}$")] = Field(
        description="A release line ('1.4' matches 1.4.x) or an exact version ('2.0.1')."
    )
    released: dt.date = Field(description="Release date of the line's first version.")
    end_of_support: dt.date | None = Field(default=None, description="End of support; absent while supported.")
    latest: str | None = Field(default=None, description="Latest version in this line.")


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


class CompatibilityMatrixSpec(_Model):
    products: list[MatrixProduct] = Field(description="Products this matrix knows.")
    customer_applications: list[Exclusion] = Field(
        default_factory=list,
        description="Workloads that are customer applications, never products (e.g. Stakater's application chart).",
    )


class CompatibilityMatrixStatus(_Model):
    observed_generation: int | None = Field(default=None, description="Spec generation last validated.")
    conditions: list[Condition] = Field(default_factory=list, description="Ready tells whether the matrix is valid.")
    products: int = Field(default=0, description="Number of products in the matrix.")

"""What every resource of support.stakater.com/v1alpha1 shares: the base model, enums, label selectors and
status conditions (:mod:`.models` re-exports all of it)."""

from __future__ import annotations

import datetime as dt
import types
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

from annotated_types import MaxLen
from pydantic import BaseModel, ConfigDict, Field, SerializationInfo, SerializerFunctionWrapHandler, model_serializer
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


# The CRDs' limit for a string whose model sets none (crdgen gives every string one).
DEFAULT_MAX_LENGTH = 1024


def clip(text: str, limit: int = DEFAULT_MAX_LENGTH) -> str:
    """``text`` cut to ``limit`` characters (JSON Schema's maxLength counts characters), marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unwrap(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return options[0] if len(options) == 1 else annotation
    return annotation


@cache
def _string_limits(model: type[BaseModel]) -> dict[str, tuple[int, int]]:
    """Field name -> (limit for the string itself, limit for each string in a list), from the model's own
    ``max_length`` on string fields, else the CRDs' default."""
    limits: dict[str, tuple[int, int]] = {}
    for name, field in model.model_fields.items():
        own = next((m.max_length for m in field.metadata if isinstance(m, MaxLen)), None)
        annotation = _unwrap(field.annotation)
        is_str = isinstance(annotation, type) and issubclass(annotation, str)
        limits[name] = ((own if is_str and own else DEFAULT_MAX_LENGTH), DEFAULT_MAX_LENGTH)
    return limits


class _Status(_Model):
    """Base of every status model, of every kind: each string is clipped to its schema limit when the
    status is serialized. Statuses quote spec strings (an order form of 1,000 characters in "the agreement
    ..."), and the API server refuses a whole status for one string over its maxLength; clipping here, in
    one place, covers every message built anywhere, copies (``model_copy``) included."""

    @model_serializer(mode="wrap")
    def _clipped(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        fields = type(self).model_fields
        for name, (limit, item_limit) in _string_limits(type(self)).items():
            alias = fields[name].alias
            key = alias if info.by_alias and alias and alias in data else name
            value = data.get(key)
            if isinstance(value, str):
                data[key] = clip(value, limit)
            elif isinstance(value, list):
                data[key] = [clip(v, item_limit) if isinstance(v, str) else v for v in value]
        return data


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


class Condition(_Status):
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

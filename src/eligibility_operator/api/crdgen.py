"""Generate the CustomResourceDefinitions from the pydantic models.

Pydantic emits JSON Schema (draft 2020-12) with ``$ref``/``$defs`` and
``anyOf: [X, null]`` for optional fields; Kubernetes wants a *structural*
OpenAPI v3 schema: everything inlined, a ``type`` on every node, no ``title``.

Every string, list and map gets a size limit (``maxLength``, ``maxItems``, ``maxProperties``):
the model's own where it sets one, else the defaults below, so that the API server refuses an
oversized object at ``kubectl apply`` instead of the operator meeting it in a watch event.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from . import models as m
from . import requests as r
from .common import DEFAULT_MAX_LENGTH

_KEEP = {
    "type",
    "description",
    "properties",
    "required",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "additionalProperties",
    "minItems",
    "maxItems",
    "maxProperties",
}
# Limits for fields whose model sets none (README, "API"); the status models clip strings to the same.
DEFAULT_MAX_ITEMS = 256
DEFAULT_MAX_PROPERTIES = 64
_UNBOUNDED_FORMATS = {"date", "date-time"}  # fixed-size by format


def _bounded(node: dict[str, Any]) -> dict[str, Any]:
    kind = node.get("type")
    if kind == "string" and "enum" not in node and node.get("format") not in _UNBOUNDED_FORMATS:
        node.setdefault("maxLength", DEFAULT_MAX_LENGTH)
    elif kind == "array":
        node.setdefault("maxItems", DEFAULT_MAX_ITEMS)
    elif kind == "object" and isinstance(node.get("additionalProperties"), dict):
        node.setdefault("maxProperties", DEFAULT_MAX_PROPERTIES)
    return node


def _structural(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _structural(merged, defs)
    if "anyOf" in node:
        # Optional[X] -> X (absence means None; Kubernetes has no null values in specs).
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"unsupported union in schema: {node}")
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if rest.get("default", ...) is None:
            del rest["default"]
        return _structural({**options[0], **rest}, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in _KEEP:
            continue
        if key == "properties":
            out[key] = {name: _structural(sub, defs) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _structural(value, defs)
        else:
            out[key] = value
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if out.get("default") in ("", []):
        # Empty defaults add nothing, and Kubernetes 1.20 reads a '' default as null.
        del out["default"]
    return _bounded(out)


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of a pydantic model."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return _structural(raw, raw.get("$defs", {}))


def _crd(
    *,
    kind: str,
    plural: str,
    scope: str,
    short_names: list[str],
    spec: type[BaseModel],
    status: type[BaseModel],
    description: str,
    columns: list[dict[str, Any]],
) -> dict[str, Any]:
    """A CRD of one served and stored version with a status subresource; every kind lists its Age last."""
    columns = [*columns, _column("Age", ".metadata.creationTimestamp", "date")]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{m.GROUP}"},
        "spec": {
            "group": m.GROUP,
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": ["stakater", "support"],
            },
            "versions": [
                {
                    "name": m.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": schema_of(spec),
                                "status": schema_of(status),
                            },
                        }
                    },
                }
            ],
        },
    }


def _column(
    name: str, path: str, type: str = "string", *, description: str | None = None, wide: bool = False
) -> dict[str, Any]:
    """A printer column; ``wide`` ones show only with ``kubectl get -o wide``."""
    column: dict[str, Any] = {"name": name, "type": type, "jsonPath": path}
    if description is not None:
        column["description"] = description
    if wide:
        column["priority"] = 1
    return column


def _condition_column(condition: str) -> dict[str, Any]:
    return _column(condition, f'.status.conditions[?(@.type=="{condition}")].status')


def support_engagement_crd() -> dict[str, Any]:
    return _crd(
        kind="SupportEngagement",
        plural="supportengagements",
        scope="Namespaced",
        short_names=["se"],
        spec=m.SupportEngagementSpec,
        status=m.SupportEngagementStatus,
        description="A support contract with Stakater: type, plan, products and terms. "
        "Its status tells whether the cluster is eligible for support, and why not.",
        columns=[
            _column("Customer", ".spec.customer"),
            _column("Eligibility", ".status.eligibility"),
            _condition_column("Ready"),
            _column("Plan", ".spec.plan"),
            _column(
                "Not-eligible",
                ".status.productsNotEligible",
                "integer",
                description="Covered product versions that are Limited or Ineligible.",
            ),
            _column("Type", ".spec.type", wide=True),
            _column(
                "Out-of-support",
                ".status.productsOutOfSupport",
                "integer",
                description="Covered product versions that are end-of-life or unknown.",
                wide=True,
            ),
            _column("Reason", ".status.reason", wide=True),
        ],
    )


def compatibility_matrix_crd() -> dict[str, Any]:
    return _crd(
        kind="CompatibilityMatrix",
        plural="compatibilitymatrices",
        scope="Cluster",
        short_names=["cmx"],
        spec=m.CompatibilityMatrixObjectSpec,
        status=m.CompatibilityMatrixStatus,
        description="Stakater products, how to recognise them, their releases with lifecycle dates, "
        "and the platforms they support. Data that a support team maintains.",
        columns=[
            _condition_column("Ready"),
            _column("Products", ".status.products", "integer"),
            _condition_column("Current"),
            _column("Revision", ".status.revision", wide=True),
            _column("Source", ".spec.source.url", wide=True),
        ],
    )


def support_request_crd() -> dict[str, Any]:
    return _crd(
        kind="SupportRequest",
        plural="supportrequests",
        scope="Namespaced",
        short_names=["sr"],
        spec=r.SupportRequestSpec,
        status=r.SupportRequestStatus,
        description="A support request an SRE is about to raise with Stakater. Its status triages it by the "
        "policy: scope and route, severity, first-response due time, eligibility and missing information.",
        columns=[
            _column("Scope", ".status.scope"),
            _column("Route", ".status.route"),
            _column("Severity", ".spec.severity", description="Proposed."),
            _column("Suggested", ".status.severity.suggested"),
            _column("Due", ".status.firstResponse.due", description="First-response due time (UTC)."),
            _condition_column("Eligible"),
            _condition_column("Complete"),
            _column("Category", ".spec.category", wide=True),
            _column("Engagement", ".status.engagement", wide=True),
            _column("Reason", ".status.reason", wide=True),
        ],
    )


CRD_FILES = {
    "supportengagements.yaml": support_engagement_crd,
    "compatibilitymatrices.yaml": compatibility_matrix_crd,
    "supportrequests.yaml": support_request_crd,
}


def render(builder: Any) -> str:
    header = "# Generated from src/eligibility_operator/api/models.py by `make crds`. Do not edit.\n"
    return header + yaml.safe_dump(builder(), sort_keys=False, width=100)


def render_all() -> str:
    return "---\n".join(render(b) for b in CRD_FILES.values())

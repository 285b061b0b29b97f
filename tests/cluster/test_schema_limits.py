"""Every string, list and map of the CRDs has a size limit, and the API server enforces it at apply."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from eligibility_operator.api import crdgen
from eligibility_operator.offline.loading import default_matrix_text

from ..conftest import Kubectl


def _nodes(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from _nodes(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _nodes(node["additionalProperties"], f"{path}{{}}")


def _unbounded(crd: dict[str, Any]) -> list[str]:
    found = []
    for version in crd["spec"]["versions"]:
        schema = version["schema"]["openAPIV3Schema"]
        for part in ("spec", "status"):
            for path, node in _nodes(schema["properties"][part], part):
                kind = node.get("type")
                if kind == "string" and not ({"maxLength", "enum"} & node.keys() or node.get("format")):
                    found.append(f"{path}: string without maxLength")
                elif kind == "array" and "maxItems" not in node:
                    found.append(f"{path}: list without maxItems")
                elif kind == "object" and "additionalProperties" in node and "maxProperties" not in node:
                    found.append(f"{path}: map without maxProperties")
    return found


@pytest.mark.parametrize("filename", sorted(crdgen.CRD_FILES))
def test_every_string_list_and_map_is_bounded(filename: str) -> None:
    assert _unbounded(crdgen.CRD_FILES[filename]()) == []


def _engagement(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "support.stakater.com/v1alpha1",
        "kind": "SupportEngagement",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"customer": "ACME", "type": "ProductSupport", "plan": "Standard", **spec},
    }


OVERSIZED_ENGAGEMENTS = [
    ("long-customer", {"customer": "A" * 2000}, "spec.customer"),
    ("many-products", {"products": [{"name": f"p{i}"} for i in range(300)]}, "spec.products"),
    ("many-namespaces", {"coverage": {"namespaces": [f"ns{i}" for i in range(300)]}}, "spec.coverage.namespaces"),
    (
        "huge-selector",
        {"coverage": {"namespaceSelector": {"matchLabels": {f"k{i}": "v" for i in range(100)}}}},
        "spec.coverage.namespaceSelector.matchLabels",
    ),
    ("long-order-form", {"agreement": {"orderForm": "x" * 5000}}, "spec.agreement.orderForm"),
]


@pytest.mark.cluster
@pytest.mark.parametrize(("name", "spec", "field"), OVERSIZED_ENGAGEMENTS, ids=[o[0] for o in OVERSIZED_ENGAGEMENTS])
def test_oversized_engagement_is_refused_at_apply(
    kubectl: Kubectl, namespace: str, name: str, spec: dict[str, Any], field: str
) -> None:
    kubectl.assert_refused(_engagement(namespace, name, **spec), field)


@pytest.mark.cluster
def test_oversized_matrix_is_refused_at_apply(kubectl: Kubectl) -> None:
    doc = yaml.safe_load(default_matrix_text())
    doc["metadata"]["name"] = "oversized"
    doc["spec"]["products"][0]["recognition"]["labels"] = [{f"k{i}": "v" for i in range(100)}]
    doc["spec"]["products"][0]["integrations"] = [f"integration {i}" for i in range(1000)]
    result = kubectl.apply(doc, check=False)
    assert result.returncode != 0
    assert "spec.products.integrations" in result.stderr, result.stderr
    assert "spec.products.recognition.labels" in result.stderr, result.stderr

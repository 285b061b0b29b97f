"""Every spec string at its maximum length, for every kind, on the real API server: each object gets a
status (issue 37: an order form of 1,000 characters, allowed by the CRD, left an engagement without any
status, fallback included, and `kubectl wait` hung)."""

from __future__ import annotations

import json
from typing import Any

from eligibility_operator.api import crdgen

from ..builders import API, engagement, matrix
from ..conftest import Kubectl, OperatorProcess, wait_for


def _free(node: dict[str, Any]) -> bool:
    """A free-text string: any characters up to maxLength (no enum, pattern or format)."""
    return node.get("type") == "string" and not ({"enum", "pattern", "format"} & node.keys())


def longest(value: Any, node: dict[str, Any]) -> Any:
    """``value`` with every free-text string at its maxLength, and the free-text strings its objects leave
    out added at their maxLength."""
    kind = node.get("type")
    if kind == "object" and isinstance(value, dict):
        out = dict(value)
        for key, sub in (node.get("properties") or {}).items():
            if key in out:
                out[key] = longest(out[key], sub)
            elif _free(sub):
                out[key] = "x" * sub["maxLength"]
        return out
    if kind == "array" and isinstance(value, list):
        return [longest(v, node["items"]) for v in value]
    if _free(node) and isinstance(value, str):
        return "x" * node["maxLength"]
    return value


def _spec_schema(plural: str) -> dict[str, Any]:
    filename = next(f for f in crdgen.CRD_FILES if plural in f)
    crd = crdgen.CRD_FILES[filename]()
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def _status(kubectl: Kubectl, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
    args = ["get", kind, name, "-o", "json", *(["-n", namespace] if namespace else [])]
    result = kubectl.run(*args, check=False)
    if result.returncode != 0:
        return None
    status = json.loads(result.stdout).get("status") or {}
    return status if any(c.get("type") == "Ready" for c in status.get("conditions", [])) else None


def test_every_kind_gets_a_status_with_every_spec_string_at_its_maximum(
    kubectl: Kubectl, namespace: str, operator: OperatorProcess
) -> None:
    matrix_name, valid_matrix = f"long-{namespace}"[:63], f"ok-{namespace}"[:63]
    long_matrix = matrix(matrix_name)  # may be invalid at these lengths: its status must land either way
    long_matrix["spec"] = longest(long_matrix["spec"], _spec_schema("compatibilitymatrices"))
    # Valid apart from its length: the evaluated status quotes these ("the agreement <order form>").
    quoted = engagement(
        namespace,
        "quoted",
        customer="C" * 253,
        matrixRef={"name": valid_matrix},
        agreement={"orderForm": "O" * 1024, "masterAgreement": "M" * 1024},
    )
    quoted["spec"] = longest(quoted["spec"], {"type": "object", "properties": {}})
    # Every free-text string at its maximum (some are then semantically invalid: that status must land too).
    everything = engagement(
        namespace,
        "everything",
        matrixRef={"name": valid_matrix},
        agreement={"orderForm": "o", "masterAgreement": "m"},
        serviceCredits={"definedInAgreement": True, "reference": "r"},
    )
    everything["spec"] = longest(everything["spec"], _spec_schema("supportengagements"))
    request = {
        "apiVersion": API,
        "kind": "SupportRequest",
        "metadata": {"name": "long", "namespace": namespace},
        "spec": {
            "category": "Incident",
            "title": "t",
            "description": "d",
            "reproduction": "r",
            "engagementRef": {"name": "quoted"},
        },
    }
    request["spec"] = longest(request["spec"], _spec_schema("supportrequests"))
    kubectl.apply(long_matrix, matrix(valid_matrix))
    try:
        kubectl.apply(quoted, everything, request)
        assert wait_for(lambda: _status(kubectl, "compatibilitymatrix", matrix_name), timeout=60, what="matrix")
        for name in ("quoted", "everything"):
            status = wait_for(
                lambda n=name: _status(kubectl, "se", n, namespace), timeout=60, what=f"engagement {name}"
            )
            assert "StatusWriteFailed" not in json.dumps(status), status
        status = wait_for(lambda: _status(kubectl, "sr", "long", namespace), timeout=60, what="the request's status")
        assert "StatusWriteFailed" not in json.dumps(status), status
        quoted_status = _status(kubectl, "se", "quoted", namespace) or {}
        assert quoted_status.get("eligibility") in ("Eligible", "Limited", "Ineligible"), quoted_status
        assert len(quoted_status["agreement"]["message"]) <= 1024
    finally:
        kubectl.run("delete", "compatibilitymatrix", matrix_name, valid_matrix, "--wait=false", check=False)

"""Every string of every kind's status fits its CRD maxLength, however long the spec strings it quotes
(issue 37: an order form of 1,000 characters made "the agreement ..." 1,014+ characters, over the 1,024
limit, and the API server refused the whole status, the fallback included)."""

from __future__ import annotations

import datetime as dt
import enum
import types
from collections.abc import Iterator
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from eligibility_operator.api import crdgen
from eligibility_operator.api.matrix import CompatibilityMatrixStatus
from eligibility_operator.api.models import Condition, SupportEngagementStatus
from eligibility_operator.api.requests import SupportRequestStatus
from eligibility_operator.core.base.status_wire import to_wire
from eligibility_operator.runtime.controllers.writer import minimal_status

LONG = 5000


def _filled(annotation: Any) -> Any:
    """A value of ``annotation`` whose every string is LONG characters (one item per list)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _filled(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return _filled(next(a for a in get_args(annotation) if a is not type(None)))
    if origin is list:
        return [_filled(get_args(annotation)[0])]
    if origin is dict:
        return {"k": _filled(get_args(annotation)[1])}
    if isinstance(annotation, type):
        return _filled_type(annotation)
    raise AssertionError(f"no filler for {annotation!r}")


def _filled_type(annotation: type) -> Any:
    if issubclass(annotation, enum.Enum):
        return next(iter(annotation))
    if issubclass(annotation, BaseModel):
        return annotation.model_construct(
            **{name: _filled(f.annotation) for name, f in annotation.model_fields.items()}
        )
    if issubclass(annotation, str):
        return "é" * LONG  # characters, not bytes, are what maxLength counts
    if issubclass(annotation, bool):
        return True
    if issubclass(annotation, int):
        return 1
    if issubclass(annotation, dt.datetime):
        return dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    if issubclass(annotation, dt.date):
        return dt.date(2026, 1, 1)
    raise AssertionError(f"no filler for {annotation!r}")


def _too_long(value: Any, node: dict[str, Any], path: str) -> Iterator[str]:
    if isinstance(value, str):
        limit = node.get("maxLength")
        if limit is not None and len(value) > limit:
            yield f"{path}: {len(value)} > {limit}"
    elif isinstance(value, dict):
        for key, sub in value.items():
            schema = node.get("properties", {}).get(key) or node.get("additionalProperties")
            assert isinstance(schema, dict), f"{path}.{key} is not in the schema"
            yield from _too_long(sub, schema, f"{path}.{key}")
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _too_long(sub, node["items"], f"{path}[{i}]")


def _status_schema(filename: str) -> dict[str, Any]:
    crd = crdgen.CRD_FILES[filename]()
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    return schema


KINDS = {
    "SupportEngagement": (SupportEngagementStatus, "supportengagements"),
    "SupportRequest": (SupportRequestStatus, "supportrequests"),
    "CompatibilityMatrix": (CompatibilityMatrixStatus, "compatibilitymatrices"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_status_string_is_clipped_to_its_schema_limit(kind: str) -> None:
    model, plural = KINDS[kind]
    filename = next(f for f in crdgen.CRD_FILES if plural in f)
    status = _filled(model)
    wire = to_wire(status)
    assert not list(_too_long(wire, _status_schema(filename), "status"))
    copied = status.model_copy(update={"conditions": [_filled(Condition)]})  # copies are not validated
    assert not list(_too_long(to_wire(copied), _status_schema(filename), "status"))


def test_clipping_keeps_short_strings_and_marks_cut_ones() -> None:
    short = Condition(type="Ready", status="True", reason="Evaluated", message="fine")
    assert to_wire(short)["message"] == "fine"
    long = to_wire(short.model_copy(update={"message": "x" * 2000}))["message"]
    assert len(long) == 1024 and long.endswith("…")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_fallback_status_is_minimal(kind: str) -> None:
    _, plural = KINDS[kind]
    filename = next(f for f in crdgen.CRD_FILES if plural in f)
    ready = Condition(
        type="Ready", status="False", reason="StatusWriteFailed", message="x" * 5000, observed_generation=3
    )
    wire = minimal_status(ready)
    assert set(wire) == {"conditions", "observedGeneration"}
    assert not list(_too_long(wire, _status_schema(filename), "status"))

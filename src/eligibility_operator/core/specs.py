"""An object's spec as its model, or what is wrong with it in words a human can act on. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .matrix import describe_validation_error

M = TypeVar("M", bound=BaseModel)


def spec_of(body: Mapping[str, Any], model: type[M]) -> tuple[M | None, str | None]:
    """The validated ``spec`` of ``body`` and None, or None and why it is invalid."""
    try:
        return model.model_validate(body.get("spec") or {}), None
    except ValidationError as exc:
        return None, describe_validation_error(exc)

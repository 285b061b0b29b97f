"""An object's spec as its model, or what is wrong with it in words a human can act on. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def spec_of(body: Mapping[str, Any], model: type[M]) -> tuple[M | None, str | None]:
    """The validated ``spec`` of ``body`` and None, or None and why it is invalid."""
    try:
        return model.model_validate(body.get("spec") or {}), None
    except ValidationError as exc:
        return None, describe_validation_error(exc)


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """What is wrong with a spec, the first ``limit`` problems with their field paths."""
    problems = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        problems.append(f"spec.{where}: {err['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")

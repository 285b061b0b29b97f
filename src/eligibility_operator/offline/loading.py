"""The engagement and the matrix ``check`` and ``triage`` judge by: from files, or the default matrix
shipped in the package."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..api.models import SupportEngagementSpec
from ..core.base.specs import describe_validation_error
from ..core.compat.matrix import CompiledMatrix, MatrixError, load_matrix
from .files import InputError, Unreadable, decode, read_bytes
from .manifests import constructor_error, yaml_loader

DEFAULT_MATRIX_FILE = "default-matrix.yaml"


@lru_cache(maxsize=1)
def default_matrix_text() -> str:
    return resources.files("eligibility_operator.data").joinpath(DEFAULT_MATRIX_FILE).read_text()


def default_matrix() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(default_matrix_text())
    return document


# ---------------------------------------------------- engagement and matrix


def _load_single(path: Path, what: str) -> Any:
    try:
        return yaml.load(decode(read_bytes(path, 16 * 1024 * 1024)), Loader=yaml_loader)
    except Unreadable as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc}") from None
    except Exception as exc:  # YAML errors, invalid dates, unknown tags, recursion
        raise InputError(f"{path}: cannot read the {what}: {constructor_error(exc)}") from None


def load_engagement(path: Path) -> SupportEngagementSpec:
    doc = _load_single(path, "engagement")
    if not isinstance(doc, dict) or doc.get("kind") != "SupportEngagement":
        raise InputError(f"{path}: expected a SupportEngagement")
    spec = doc.get("spec")
    if spec is not None and not isinstance(spec, dict):
        raise InputError(f"{path}: invalid SupportEngagement: spec must be a mapping")
    try:
        return SupportEngagementSpec.model_validate(spec or {})
    except ValidationError as exc:
        raise InputError(f"{path}: invalid SupportEngagement: {describe_validation_error(exc)}") from None


def load_matrix_file(path: Path | None) -> CompiledMatrix:
    doc = default_matrix() if path is None else _load_single(path, "matrix")
    if not isinstance(doc, dict) or doc.get("kind") != "CompatibilityMatrix":
        raise InputError(f"{path}: expected a CompatibilityMatrix")
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    spec = doc.get("spec")
    if spec is not None and not isinstance(spec, dict):
        raise InputError(f"{path}: invalid CompatibilityMatrix: spec must be a mapping")
    try:
        return load_matrix(name if isinstance(name, str) and name else "default", 0, spec)
    except MatrixError as exc:
        raise InputError(f"{path or 'default matrix'}: invalid CompatibilityMatrix: {exc}") from None

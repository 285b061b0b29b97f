"""The default CompatibilityMatrix shipped in the package."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

DEFAULT_MATRIX_FILE = "default-matrix.yaml"


@lru_cache(maxsize=1)
def default_matrix_text() -> str:
    return resources.files("eligibility_operator.data").joinpath(DEFAULT_MATRIX_FILE).read_text()


def default_matrix() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(default_matrix_text())
    return document

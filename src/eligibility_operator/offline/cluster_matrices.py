"""The matrix each SupportEngagement listed from a cluster names (``check --cluster --engagements-from-cluster``).

The operator judges an engagement against the CompatibilityMatrix its ``matrixRef`` names: the matrix
written inline, or the document fetched from its ``spec.source`` and verified (pinned digest or
signature). ``check`` does the same with the matrices listed from the same cluster, so that its verdict
is the operator's. A matrix it cannot use (missing, invalid, a source that fails) leaves the engagements
naming it without a verdict, with the operator's words; the other engagements are still judged. Each
matrix is compiled (or fetched) once, however many engagements name it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from ..api.models import CompatibilityMatrixObjectSpec, MatrixSource
from ..core.base.specs import describe_validation_error
from ..core.compat.matrix import CompiledMatrix, MatrixError, load_matrix, settings_problem
from ..core.verdict.engagements import matrix_not_found
from ..matrix_source import Integrity, SourceError, fetch_matrix
from ..matrix_source.duration import seconds

MatrixFetcher = Callable[[str, MatrixSource, int], CompiledMatrix]


def fetch_source(name: str, source: MatrixSource, generation: int) -> CompiledMatrix:
    """The document at ``source``, verified as the operator verifies it, compiled as matrix ``name``."""
    integrity = Integrity(digest=source.digest, public_key=source.public_key)
    return fetch_matrix(
        source.url,
        integrity,
        ca_bundle=source.ca_bundle,
        timeout=seconds(source.timeout),
        name=name,
        generation=generation,
    )


class ClusterMatrices:
    """The CompatibilityMatrix objects of one cluster, compiled on first use."""

    def __init__(self, objects: Iterable[Mapping[str, Any]], fetcher: MatrixFetcher = fetch_source) -> None:
        self._objects = {str((obj.get("metadata") or {}).get("name")): obj for obj in objects}
        self._fetcher = fetcher
        self._found: dict[str, CompiledMatrix | str] = {}

    def get(self, name: str) -> CompiledMatrix | str:
        """Matrix ``name`` compiled, or why there is none (a message a human can act on)."""
        if name not in self._found:
            self._found[name] = self._compile(name)
        return self._found[name]

    def _compile(self, name: str) -> CompiledMatrix | str:
        obj = self._objects.get(name)
        if obj is None:
            return matrix_not_found(name)
        raw = obj.get("spec")
        generation = int((obj.get("metadata") or {}).get("generation") or 0)
        if not isinstance(raw, Mapping) or raw.get("source") is None:
            try:
                return load_matrix(name, generation, raw)
            except MatrixError as exc:
                return f"CompatibilityMatrix {name!r} is invalid: {exc}"
        try:
            spec = CompatibilityMatrixObjectSpec.model_validate(raw)
        except ValidationError as exc:
            return f"CompatibilityMatrix {name!r} is invalid: {describe_validation_error(exc)}"
        problem = settings_problem(spec)
        if problem or spec.source is None:
            return f"CompatibilityMatrix {name!r} is invalid: {problem or 'spec.source is missing'}"
        try:
            return self._fetcher(name, spec.source, generation)
        except (SourceError, MatrixError, ValueError) as exc:
            return f"CompatibilityMatrix {name!r}: spec.source {spec.source.url} not usable: {exc}"

"""What ``eligibility-operator matrix build | diff`` do, behind the thin click layer in ``cli.py``.

Exit codes follow the project's convention: 4 is an input (or internal) error and never a verdict;
``diff`` exits 0 when the matrices judge alike, 1 when they differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ...core.matrix_diff import diff_matrices
from ..loading import default_matrix
from .build import STAKATER_CHARTS, build_matrix, matrix_spec
from .sources import SourceError, read_json, read_yaml

EXIT_SAME, EXIT_DIFFERENT, EXIT_INPUT_ERROR = 0, 1, 4
DEFAULT_BASE = "the shipped default matrix"


@dataclass(frozen=True)
class Output:
    text: str
    notes: tuple[str, ...]  # for stderr
    exit_code: int = EXIT_SAME


def _platform_sources(values: Sequence[str]) -> dict[str, tuple[Any, str]]:
    platforms: dict[str, tuple[Any, str]] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise SourceError(f"--platform-eol {value!r}: expected NAME=FILE (kubernetes=k8s.json, openshift=...)")
        if name in platforms:
            raise SourceError(f"--platform-eol {name} is given twice")
        platforms[name] = (read_json(path), path)
    return platforms


def repository_of(chart_index: str, repository: str | None) -> str:
    """The chart repository the index belongs to: given, else its URL without ``/index.yaml``, else Stakater's."""
    if repository:
        return repository
    if chart_index.startswith("https://"):
        return chart_index.removesuffix("/index.yaml").removesuffix("/")
    return STAKATER_CHARTS


def build(
    chart_index: str,
    base: str | None,
    products: Sequence[str],
    platform_eol: Sequence[str],
    repository: str | None = None,
) -> Output:
    base_doc = default_matrix() if base is None else read_yaml(base)
    platforms = _platform_sources(platform_eol)
    index = read_yaml(chart_index)
    repo = repository_of(chart_index, repository)
    built = build_matrix(base_doc, base or DEFAULT_BASE, index, chart_index, products, platforms, repo)
    header = (
        f"# Built by `eligibility-operator matrix build` from the chart index {chart_index} ({repo})\n"
        f"# and {base or DEFAULT_BASE}.\n"
        '# Lifecycle rule: see README, "The compatibility matrix". Review with `matrix diff`, then sign it.\n'
    )
    body = yaml.safe_dump(built.document, sort_keys=False, width=120, allow_unicode=True)
    return Output(header + body, tuple(built.notes))


def diff(old: str, new: str) -> Output:
    _, before = matrix_spec(read_yaml(old), old)
    _, after = matrix_spec(read_yaml(new), new)
    changes = diff_matrices(before, after)
    if not changes:
        return Output("no differences", (), EXIT_SAME)
    return Output("\n".join(changes), (), EXIT_DIFFERENT)

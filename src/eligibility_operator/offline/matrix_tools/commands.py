"""What ``eligibility-operator matrix build | diff`` do, behind the thin click layer in ``cli.py``.

Exit codes follow the project's convention: 4 is an input (or internal) error and never a verdict;
``diff`` exits 0 when the matrices judge alike, 1 when they differ.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ...core.compat.matrix_diff import diff_matrices
from ...matrix_source.duration import seconds
from ..loading import default_matrix
from .build import STAKATER_CHARTS, build_matrix, matrix_spec
from .sources import TIMEOUT_SECONDS, SourceError, read_json, read_yaml, tls_context

EXIT_SAME, EXIT_DIFFERENT, EXIT_INPUT_ERROR = 0, 1, 4
DEFAULT_BASE = "the shipped default matrix"


@dataclass(frozen=True)
class Output:
    text: str
    notes: tuple[str, ...]  # for stderr
    exit_code: int = EXIT_SAME
    warnings: tuple[str, ...] = ()  # for stderr: what a reviewer must check before publishing


@dataclass(frozen=True)
class Fetching:
    """How ``matrix build`` reads URLs: one deadline per input, and the CA bundle to trust."""

    timeout: float = TIMEOUT_SECONDS
    tls: ssl.SSLContext | None = None

    @classmethod
    def from_options(cls, timeout: str | None, ca_bundle: str | None) -> Fetching:
        try:
            limit = seconds(timeout) if timeout else TIMEOUT_SECONDS
        except ValueError as exc:
            raise SourceError(f"--timeout: {exc}") from None
        return cls(limit, tls_context(ca_bundle))


def provenance(chart_index: str, source_label: str | None, repository: str) -> tuple[str, list[str]]:
    """What the built matrix names as where its lines come from: ``--source-label``, else the index's URL.
    A local path never goes into a published matrix: a local index without a label is named as a local
    copy of the repository's index, and a note asks for the label."""
    if source_label is not None:
        label = " ".join(source_label.split())
        if not label:
            raise SourceError("--source-label is empty")
        return label, []
    if chart_index.startswith("https://"):
        return chart_index, []
    note = f"--chart-index is a local file: name where it came from with --source-label (written: {repository})"
    return f"a local copy of {repository}/index.yaml", [note]


def _platform_sources(values: Sequence[str], fetching: Fetching) -> dict[str, tuple[Any, str]]:
    platforms: dict[str, tuple[Any, str]] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise SourceError(f"--platform-eol {value!r}: expected NAME=FILE (kubernetes=k8s.json, openshift=...)")
        if name in platforms:
            raise SourceError(f"--platform-eol {name} is given twice")
        platforms[name] = (read_json(path, timeout=fetching.timeout, tls=fetching.tls), path)
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
    *,
    source_label: str | None = None,
    fetching: Fetching | None = None,
) -> Output:
    fetching = fetching or Fetching()
    base_doc = default_matrix() if base is None else read_yaml(base, timeout=fetching.timeout, tls=fetching.tls)
    platforms = _platform_sources(platform_eol, fetching)
    index = read_yaml(chart_index, timeout=fetching.timeout, tls=fetching.tls)
    repo = repository_of(chart_index, repository)
    label, notes = provenance(chart_index, source_label, repo)
    built = build_matrix(base_doc, base or DEFAULT_BASE, index, label, products, platforms, repo)
    base_named = DEFAULT_BASE if base is None else base if base.startswith("https://") else "a base matrix"
    header = (
        f"# Built by `eligibility-operator matrix build` from the chart index {label} ({repo})\n"
        f"# and {base_named}.\n"
        '# Lifecycle rule: see README, "The compatibility matrix". Review with `matrix diff`, then sign it.\n'
    )
    body = yaml.safe_dump(built.document, sort_keys=False, width=120, allow_unicode=True)
    return Output(header + body, (*notes, *built.notes), warnings=tuple(built.warnings))


def diff(old: str, new: str) -> Output:
    _, before = matrix_spec(read_yaml(old), old)
    _, after = matrix_spec(read_yaml(new), new)
    changes = diff_matrices(before, after)
    if not changes:
        return Output("no differences", (), EXIT_SAME)
    return Output("\n".join(changes), (), EXIT_DIFFERENT)

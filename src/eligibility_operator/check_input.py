"""Input side of ``eligibility-operator check``: files, documents, the engagement and the matrix.

Reads files or directories of YAML or JSON (multi-document, ``kind: List``,
Helm-rendered output), reports what cannot be read with file and document
number, and never crashes on odd input. What is done with the objects is
:mod:`.checking`'s business.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .api.models import SupportEngagementSpec
from .core.matrix import CompiledMatrix, MatrixError, describe_validation_error, load_matrix

# libyaml is an order of magnitude faster on 10,000 manifests; both loaders are safe.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PARALLEL_FROM_FILES = 16
_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$", re.MULTILINE)
_SUFFIXES = {".yaml", ".yml", ".json"}


class InputError(Exception):
    """The engagement or the matrix given to ``check`` cannot be used."""


@dataclass
class Problem:
    file: str
    document: int  # 1-based position in the file
    error: str


@dataclass
class Manifests:
    workloads: list[dict[str, Any]] = field(default_factory=list)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    documents: int = 0


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES)
        else:
            yield path


def _blank(chunk: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in chunk.splitlines())


def _documents(text: str) -> Iterator[tuple[int, int, str]]:
    """(1-based document number, line offset in the file, text) for each YAML document.

    Text before the first ``---`` is a document only if it holds more than comments
    (Helm output starts with ``---``).
    """
    chunks: list[tuple[int, str]] = []
    start = 0
    for match in _SEPARATOR.finditer(text):
        chunks.append((start, text[start : match.start()]))
        start = match.end()
    chunks.append((start, text[start:]))
    if len(chunks) > 1 and _blank(chunks[0][1]):
        chunks.pop(0)
    for number, (offset, chunk) in enumerate(chunks, start=1):
        yield number, text.count("\n", 0, offset), chunk


def _collect(obj: Any, out: Manifests, where: tuple[str, int]) -> None:
    if not isinstance(obj, dict):
        out.problems.append(Problem(where[0], where[1], f"not a Kubernetes object (a {type(obj).__name__})"))
        return
    kind = obj.get("kind")
    if kind == "List" or (isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list)):
        for item in obj.get("items") or []:
            _collect(item, out, where)
        return
    if kind == "Namespace":
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        labels = meta.get("labels")
        labels = labels if isinstance(labels, dict) else {}
        if isinstance(meta.get("name"), str):
            out.namespace_labels[meta["name"]] = {str(k): str(v) for k, v in labels.items()}
        return
    out.workloads.append(obj)


def _yaml_error(exc: yaml.YAMLError, line_offset: int) -> str:
    """A one-line YAML error with line numbers counted from the start of the file."""
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1 + line_offset}, column {mark.column + 1}" if mark is not None else ""
    context = getattr(exc, "context", None)
    return f"invalid YAML{where}: {problem}" + (f" ({context})" if context else "")


def _read_file(path: Path) -> Manifests:
    out = Manifests()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        out.problems.append(Problem(str(path), 0, f"cannot read: {exc.strerror or exc}"))
        return out
    for index, line_offset, chunk in _documents(text):
        if _blank(chunk):
            continue
        out.documents += 1
        try:
            obj = yaml.load(chunk, Loader=_Loader)
        except yaml.YAMLError as exc:
            out.problems.append(Problem(str(path), index, _yaml_error(exc, line_offset)))
            continue
        if obj is not None:
            _collect(obj, out, (str(path), index))
    return out


def read_manifests(paths: Iterable[Path], parallel_from: int = PARALLEL_FROM_FILES) -> Manifests:
    """Read every manifest under ``paths``; files are parsed in a process per core when there are many.

    Building Python objects from YAML dominates (80 % of ``check`` on 10,000 manifests); it is
    CPU-bound Python, so only processes use more than one core.
    """
    files = list(_files(paths))
    if len(files) >= parallel_from and (os.cpu_count() or 1) > 1:
        with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
            parts = list(pool.map(_read_file, files, chunksize=max(1, len(files) // (4 * (os.cpu_count() or 1)))))
    else:
        parts = [_read_file(path) for path in files]
    out = Manifests()
    for part in parts:
        out.workloads.extend(part.workloads)
        out.namespace_labels.update(part.namespace_labels)
        out.problems.extend(part.problems)
        out.documents += part.documents
    return out


def load_engagement(path: Path) -> SupportEngagementSpec:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the engagement: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "SupportEngagement":
        raise InputError(f"{path}: expected a SupportEngagement")
    try:
        return SupportEngagementSpec.model_validate(doc.get("spec") or {})
    except ValidationError as exc:
        raise InputError(f"{path}: invalid SupportEngagement: {describe_validation_error(exc)}") from None


def load_matrix_file(path: Path | None) -> CompiledMatrix:
    from .defaults import default_matrix

    try:
        doc = default_matrix() if path is None else yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the matrix: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "CompatibilityMatrix":
        raise InputError(f"{path}: expected a CompatibilityMatrix")
    name = str((doc.get("metadata") or {}).get("name") or "default")
    try:
        return load_matrix(name, 0, doc.get("spec"))
    except MatrixError as exc:
        raise InputError(f"{path or 'default matrix'}: invalid CompatibilityMatrix: {exc}") from None

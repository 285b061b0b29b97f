"""Input side of ``eligibility-operator check``: files, documents, the engagement and the matrix.

Made for CI gates on real repositories, which hold much that is not a Kubernetes
object (values files, kustomize patches, CI configs, editor JSON, raw Helm
templates). Those are *skipped and counted*, not errors. An error (exit 4) is
only what could hide a workload: a path given by name that cannot be read, an
unreadable directory or file, bytes that are not text, and a malformed document
that looks like a Kubernetes object (``apiVersion`` and ``kind`` at its top).

Robust by construction: every exception inside one document is that document's
error, every exception inside one file is that file's error, only regular files
are read, and the work is linear in the size of the input (documents are split
where the YAML parser itself must start a new one: a ``---`` at the start of a
line, even inside a block scalar; the parser then reads each piece, so a
document written on the ``---`` line itself is read too).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from ..core.compat.platforms import openshift_version_of
from ..core.products.gitops import flux_kustomization, flux_source, kustomize_facts
from ..core.products.objects import facts_of
from ..core.products.workloads import WorkloadFacts
from .files import (
    STDIN,
    STDIN_NAME,
    FluxTarget,
    Found,
    Manifests,
    Problem,
    Skipped,
    Unreadable,
    decode,
    files_to_read,
    read_bytes,
    read_stdin,
)

# libyaml is an order of magnitude faster on 10,000 manifests; both loaders are safe.
yaml_loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PARALLEL_FROM_FILES = 16
MAX_OBJECTS_PER_DOCUMENT = 100_000  # items of one `kind: List`, nested lists included
MAX_LIST_DEPTH = 16  # Lists inside Lists
# Where the YAML parser must start a new document: `---` at column 0 followed by a blank or the end
# of the line (YAML 1.2 "c-forbidden"; libyaml ends block and flow scalars there too).
_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
_LOOKS_LIKE_OBJECT = (
    re.compile(r"""^(?:apiVersion|[ \t]*["']apiVersion["'])[ \t]*:""", re.MULTILINE),
    re.compile(r"""^(?:kind|[ \t]*["']kind["'])[ \t]*:""", re.MULTILINE),
)
HELM_TEMPLATE_REASON = "Helm chart template: render it first (helm template)"
TEMPLATE_REASON = "template expressions ({{ }}) that do not parse: render it first (helm template)"


# -------------------------------------------------------------- documents


def _segments(text: str) -> Iterator[tuple[int, str]]:
    """(line offset, text) of the pieces between document starts, in one linear pass."""
    start, line = 0, 0
    for match in _DOCUMENT_START.finditer(text):
        if match.start() > start:
            yield line, text[start : match.start()]
            line += text.count("\n", start, match.start())
        start = match.start()
    if start < len(text):
        yield line, text[start:]


def looks_like_object(text: str) -> bool:
    """True if ``text`` has ``apiVersion`` and ``kind`` keys at its top (YAML) or anywhere (JSON)."""
    return all(pattern.search(text) for pattern in _LOOKS_LIKE_OBJECT)


def _yaml_error(exc: BaseException, line_offset: int) -> str:
    """A one-line error with line numbers counted from the start of the file."""
    if not isinstance(exc, yaml.YAMLError):
        return f"cannot read this document: {type(exc).__name__}: {str(exc)[:200]}"
    problem = getattr(exc, "problem", None) or (str(exc).strip().splitlines() or ["error"])[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1 + line_offset}, column {mark.column + 1}" if mark is not None else ""
    context = getattr(exc, "context", None)
    return f"invalid YAML{where}: {problem}" + (f" ({context})" if context else "")


class _FileReader:
    """Reads one file's documents into a :class:`Manifests`."""

    def __init__(self, path: str) -> None:
        self.stdin = path == STDIN
        self.path = STDIN_NAME if self.stdin else path
        self.out = Manifests(files=1)
        self.number = 0  # documents so far
        self.line = 0  # line of the current document's first node, 1-based

    def read(self) -> Manifests:
        try:
            data = read_stdin(sys.stdin.buffer) if self.stdin else read_bytes(self.path)
            text = decode(data)
        except Unreadable as exc:
            self.out.problems.append(Problem(self.path, 0, str(exc)))
            return self.out
        if not self.stdin and _in_chart_templates(self.path):
            self.out.skipped.append(Skipped(self.path, 0, HELM_TEMPLATE_REASON))
            return self.out
        if self.path.lower().endswith(".json") and self._read_json(text):
            return self.out
        for line_offset, segment in _segments(text):
            self._read_segment(line_offset, segment)
        return self.out

    def _read_json(self, text: str) -> bool:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            return False  # JSON5, comments, ...: the YAML reader decides
        self.number, self.line = 1, 1
        self._document(obj, text)
        return True

    def _read_segment(self, line_offset: int, segment: str) -> None:
        if _only_counted(segment):
            self.number += 1
            self.out.documents += 1
            self.out.objects += 1
            return
        loader = yaml_loader(segment)
        try:
            while True:
                try:
                    if not loader.check_node():
                        return
                    node = loader.get_node()
                except Exception as exc:  # any parser failure is this document's
                    self.number += 1
                    self._unparsable(segment, _yaml_error(exc, line_offset))
                    return
                self.number += 1
                self.line = line_offset + node.start_mark.line + 1
                try:
                    obj = loader.construct_document(node)
                except Exception as exc:  # invalid dates, unknown tags, recursion, ...
                    self._unparsable(segment, f"cannot read this document: {constructor_error(exc)}")
                    continue
                self._document(obj, segment)
        finally:
            loader.dispose()

    def _unparsable(self, text: str, error: str) -> None:
        if self.stdin:  # a stream is given on purpose: what does not parse is an error, never skipped
            self.out.documents += 1
            self.out.problems.append(Problem(self.path, self.number, error))
        elif "{{" in text:  # a template outside a chart directory: nothing to read until it is rendered
            self.out.skipped.append(Skipped(self.path, self.number, TEMPLATE_REASON))
        elif looks_like_object(text):
            self.out.documents += 1
            self.out.problems.append(Problem(self.path, self.number, error))
        else:
            self.out.skipped.append(Skipped(self.path, self.number, f"not a Kubernetes object ({error})"))

    def _document(self, obj: Any, text: str) -> None:
        if obj is None:
            return
        self.out.documents += 1
        if isinstance(obj, dict) and "helmCharts" in obj and self._kustomization(obj):
            return
        if not (isinstance(obj, dict) and isinstance(obj.get("apiVersion"), str) and isinstance(obj.get("kind"), str)):
            what = f"a {type(obj).__name__}" if not isinstance(obj, dict) else "no apiVersion and kind"
            self.out.skipped.append(Skipped(self.path, self.number, f"not a Kubernetes object ({what})"))
            return
        try:
            self._collect(obj)
        except Exception as exc:  # whatever the shape, it stays this document's problem
            self.out.problems.append(Problem(self.path, self.number, f"cannot read this document: {exc!r}"[:300]))

    def _collect(self, top: dict[str, Any]) -> None:
        """Objects in ``top``, `kind: List` flattened with limits on depth, size and cycles."""
        stack: list[tuple[Any, tuple[int, ...]]] = [(top, ())]  # object, the Lists it is in
        seen: set[int] = set()
        count = 0
        while stack:
            obj, lists = stack.pop()
            if id(obj) in lists:
                self._problem("a List contains itself (YAML alias): not read again")
                continue
            if id(obj) in seen:  # the same object twice through an alias: read once
                continue
            seen.add(id(obj))
            if not isinstance(obj, dict):
                self._problem(f"not a Kubernetes object (a {type(obj).__name__})")
                continue
            count += 1
            if count > MAX_OBJECTS_PER_DOCUMENT:
                self._problem(f"more than {MAX_OBJECTS_PER_DOCUMENT} objects in one document: the rest is not read")
                return
            kind = obj.get("kind")
            items = obj.get("items")
            if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
                if len(lists) >= MAX_LIST_DEPTH:
                    self._problem(f"Lists nested deeper than {MAX_LIST_DEPTH}: not read")
                    continue
                inner = (*lists, id(obj))
                stack.extend((item, inner) for item in reversed(items))
                continue
            self.out.objects += 1
            self._object(obj)

    def _object(self, obj: dict[str, Any]) -> None:
        if obj.get("kind") == "Namespace":
            meta = obj.get("metadata")
            meta = meta if isinstance(meta, dict) else {}
            labels = meta.get("labels")
            labels = labels if isinstance(labels, dict) else {}
            if isinstance(meta.get("name"), str):
                self.out.namespace_labels[meta["name"]] = {str(k): str(v) for k, v in labels.items()}
            return
        if obj.get("kind") == "ClusterVersion":
            version = openshift_version_of(obj)
            if version:
                self.out.openshift_versions[version] = self.path
            return
        facts = facts_of(obj)
        if facts is not None:
            self._found(facts)
            return
        source = flux_source(obj)
        if source is not None:
            self.out.chart_sources[source[0]] = source[1:]
            self.out.source_files[source[0]] = self.path
            return
        target = flux_kustomization(obj)
        if target is not None:
            self.out.flux_targets.append(FluxTarget(self.path, *target))

    def _kustomization(self, obj: dict[str, Any]) -> bool:
        """Read a kustomize Kustomization's ``helmCharts:``; False when ``obj`` is no Kustomization."""
        directory = os.path.basename(os.path.dirname(os.path.abspath(self.path)))
        found = kustomize_facts(obj, directory or "kustomization")
        if not found:
            return False
        self.out.objects += 1
        for facts in found:
            self._found(facts)
        return True

    def _found(self, facts: WorkloadFacts) -> None:
        """An object to judge; whatever its own schema refuses is an input problem of this document."""
        for problem in facts.problems:
            self._problem(f"{facts.ref}: {problem}")
        self.out.workloads.append(Found(facts, self.path, self.number, self.line))

    def _problem(self, error: str) -> None:
        self.out.problems.append(Problem(self.path, self.number, error))


# Kinds `check` reads; a document of any other kind is counted as an object without being parsed
# (building Python objects is most of the time; CRDs, ConfigMaps and RBAC are most of a repository).
READ_KINDS = frozenset(
    {
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ClusterServiceVersion",
        "Namespace",
        "HelmRelease",
        "Application",
        "ApplicationSet",
        "HelmRepository",
        "OCIRepository",
        "Subscription",
        "InstallPlan",
        "Kustomization",
        "ClusterVersion",
    }
)
_TOP_KIND = re.compile(r"""^kind:[ \t]*["']?([A-Za-z0-9_.-]+)["']?[ \t]*(?:#.*)?$""", re.MULTILINE)
_TOP_API_VERSION = re.compile(r"^apiVersion:[ \t]*\S", re.MULTILINE)
_DOCUMENT_END = re.compile(r"^\.\.\.", re.MULTILINE)


def _only_counted(segment: str) -> bool:
    """True for one block-style document whose top-level ``kind`` is one ``check`` does not read."""
    kinds = _TOP_KIND.findall(segment)
    return (
        len(kinds) == 1
        and kinds[0] not in READ_KINDS
        and not kinds[0].endswith("List")
        and "{{" not in segment
        and _TOP_API_VERSION.search(segment) is not None
        and _DOCUMENT_END.search(segment) is None
    )


def _in_chart_templates(path: str) -> bool:
    """True for a file under a Helm chart's ``templates/`` directory (a ``Chart.yaml`` beside it)."""
    directory = os.path.dirname(os.path.abspath(path))
    for _ in range(8):  # templates/ may have subdirectories
        if os.path.basename(directory) == "templates":
            return os.path.isfile(os.path.join(os.path.dirname(directory), "Chart.yaml"))
        parent = os.path.dirname(directory)
        if parent == directory:
            return False
        directory = parent
    return False


def constructor_error(exc: Exception) -> str:
    if isinstance(exc, yaml.YAMLError):
        return " ".join(str(exc).split())[:300]
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return f"{type(exc).__name__}: {exc}"[:300]


def read_file(path: str) -> Manifests:
    """Read one file; whatever goes wrong is reported against the file, never raised."""
    try:
        return _FileReader(path).read()
    except Exception as exc:  # last resort: one bad file never stops the others
        return Manifests(problems=[Problem(path, 0, f"cannot read: {type(exc).__name__}: {exc}"[:300])], files=1)


def _read_batch(paths: list[str]) -> list[Manifests]:
    return [read_file(path) for path in paths]


# A file this large is split at document starts into chunks parsed in parallel.
SPLIT_BYTES = 8 * 1024 * 1024
CHUNK_BYTES = 2 * 1024 * 1024


def _is_large(path: str) -> bool:
    try:
        size = os.stat(path).st_size
    except OSError:
        return False  # read_file reports it
    return size > SPLIT_BYTES and not path.lower().endswith(".json") and not _in_chart_templates(path)


def _chunks(text: str) -> list[tuple[str, int]]:
    """(text, first line) pieces of about CHUNK_BYTES, cut where the parser must start a document."""
    chunks: list[tuple[str, int]] = []
    start, line = 0, 0
    for match in _DOCUMENT_START.finditer(text):
        if match.start() - start >= CHUNK_BYTES:
            chunks.append((text[start : match.start()], line))
            line += text.count("\n", start, match.start())
            start = match.start()
    chunks.append((text[start:], line))
    return chunks


def _read_chunk(path: str, text: str, first_line: int) -> Manifests:
    """One chunk of a large file; document numbers start at 1 and are shifted by the caller."""
    try:
        reader = _FileReader(path)
        reader.out.files = 0
        for line_offset, segment in _segments(text):
            reader._read_segment(first_line + line_offset, segment)
        reader.out.numbered = reader.number
        return reader.out
    except Exception as exc:  # last resort: this chunk's problem, never the others'
        return Manifests(problems=[Problem(path, 0, f"cannot read: {type(exc).__name__}: {exc}"[:300])])


def _shift(part: Manifests, offset: int) -> None:
    for problem in part.problems:
        problem.document += offset if problem.document else 0
    for skipped in part.skipped:
        skipped.document += offset if skipped.document else 0
    part.workloads = [Found(f.facts, f.file, f.document + offset, f.line) for f in part.workloads]


def _read_large(path: str, pool: ProcessPoolExecutor) -> Manifests:
    """A large file, its chunks parsed in the pool; same result as reading it whole."""
    result = Manifests(files=1)
    try:
        text = decode(read_bytes(path))
    except Unreadable as exc:
        result.problems.append(Problem(path, 0, str(exc)))
        return result
    chunks = _chunks(text)
    del text
    futures = [pool.submit(_read_chunk, path, chunk, line) for chunk, line in chunks]
    offset = 0
    for (chunk, line), future in zip(chunks, futures, strict=True):
        try:
            part = future.result()
        except Exception:  # a dead worker: read this chunk here
            part = _read_chunk(path, chunk, line)
        _shift(part, offset)
        offset += part.numbered
        result.extend(part)
    return result


def read_manifests(paths: Iterable[Path], parallel_from: int = PARALLEL_FROM_FILES) -> Manifests:
    """Read every manifest under ``paths``; files are parsed in a process per core when there are many.

    Building Python objects from YAML dominates; it is CPU-bound Python, so only processes use more
    than one core. Workers return compact facts, not whole objects. A batch whose worker fails is read
    again here, file by file, so one bad file never loses the others. A file larger than SPLIT_BYTES is
    cut at document starts and its chunks parsed in parallel too.
    """
    out = Manifests()
    files = files_to_read(paths, out)
    cores = os.cpu_count() or 1
    large = {path for path in files if _is_large(path)} if cores > 1 else set()
    rest = [path for path in files if path not in large and path != STDIN]  # workers cannot read our stdin
    if cores < 2 or (not large and len(rest) < parallel_from):
        for path in files:
            out.extend(read_file(path))
        return out
    results: dict[str, Manifests] = {}
    with ProcessPoolExecutor(max_workers=cores) as pool:
        futures: list[tuple[list[str], Future[list[Manifests]]]] = []
        if len(rest) >= parallel_from:
            size = max(1, len(rest) // (4 * cores))
            batches = [rest[i : i + size] for i in range(0, len(rest), size)]
            futures = [(batch, pool.submit(_read_batch, batch)) for batch in batches]
        else:
            results.update((path, read_file(path)) for path in rest)
        for path in sorted(large):
            results[path] = _read_large(path, pool)
        if STDIN in files:
            results[STDIN] = read_file(STDIN)
        for batch, future in futures:
            try:
                parts = future.result()
            except Exception:  # a dead worker: read this batch here, file by file
                parts = _read_batch(batch)
            results.update(zip(batch, parts, strict=True))
    for path in files:
        out.extend(results[path])
    return out

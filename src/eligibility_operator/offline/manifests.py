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
import stat
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..api.models import SupportEngagementSpec
from ..core.gitops import SourceKey, flux_source, gitops_facts
from ..core.matrix import CompiledMatrix, MatrixError, describe_validation_error, load_matrix
from ..core.workloads import WorkloadFacts, facts_from_object

# libyaml is an order of magnitude faster on 10,000 manifests; both loaders are safe.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PARALLEL_FROM_FILES = 16
MAX_FILE_BYTES = 256 * 1024 * 1024  # one file; larger ones are an error, not a partial read
MAX_OBJECTS_PER_DOCUMENT = 100_000  # items of one `kind: List`, nested lists included
MAX_LIST_DEPTH = 16  # Lists inside Lists
_SUFFIXES = {".yaml", ".yml", ".json"}
_SKIPPED_DIRECTORIES = {".git", ".hg", ".svn"}  # version-control internals, never manifests
# Where the YAML parser must start a new document: `---` at column 0 followed by a blank or the end
# of the line (YAML 1.2 "c-forbidden"; libyaml ends block and flow scalars there too).
_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
_LOOKS_LIKE_OBJECT = (
    re.compile(r"""^(?:apiVersion|[ \t]*["']apiVersion["'])[ \t]*:""", re.MULTILINE),
    re.compile(r"""^(?:kind|[ \t]*["']kind["'])[ \t]*:""", re.MULTILINE),
)
HELM_TEMPLATE_REASON = "Helm chart template: render it first (helm template)"
TEMPLATE_REASON = "template expressions ({{ }}) that do not parse: render it first (helm template)"


class InputError(Exception):
    """The engagement or the matrix given to ``check`` cannot be used."""


@dataclass
class Problem:
    """Something that could hide a workload: ``check`` exits 4."""

    file: str
    document: int  # 1-based position in the file; 0 for the whole file
    error: str


@dataclass
class Skipped:
    """A file or document that is not a Kubernetes object; counted, an error only with ``--strict``."""

    file: str
    document: int  # 0 for the whole file
    reason: str


@dataclass(frozen=True)
class Found:
    """A workload (or GitOps object) read, with where it was read."""

    facts: WorkloadFacts
    file: str
    document: int


@dataclass
class Manifests:
    workloads: list[Found] = field(default_factory=list)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    chart_sources: dict[SourceKey, tuple[str, str | None]] = field(default_factory=dict)  # Flux sources
    problems: list[Problem] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    documents: int = 0  # documents read (blank ones excluded)
    objects: int = 0  # Kubernetes objects among them, List items included
    files: int = 0
    numbered: int = 0  # documents numbered by the parser, blank ones included (to number the next chunk)

    def extend(self, other: Manifests) -> None:
        self.workloads.extend(other.workloads)
        self.namespace_labels.update(other.namespace_labels)
        self.chart_sources.update(other.chart_sources)
        self.problems.extend(other.problems)
        self.skipped.extend(other.skipped)
        self.documents += other.documents
        self.objects += other.objects
        self.files += other.files


# ------------------------------------------------------------------ files


class _Unreadable(Exception):
    pass


def _oserror(exc: OSError) -> str:
    return exc.strerror or str(exc)


def read_bytes(path: Path | str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The content of a regular file, at most ``limit`` bytes; raises _Unreadable with the reason.

    Opened non-blocking and checked after opening, so a FIFO, a device (``/dev/zero``) or a socket is
    refused at once instead of hanging or reading forever.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _Unreadable(f"cannot read: {_oserror(exc)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Unreadable("not a regular file (a FIFO, device or socket is never read)")
        if info.st_size > limit:
            raise _Unreadable(f"larger than {limit // (1024 * 1024)} MiB: not read")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 1024 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:  # grew while being read
                raise _Unreadable(f"larger than {limit // (1024 * 1024)} MiB: not read")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise _Unreadable(f"cannot read: {_oserror(exc)}") from None
    finally:
        os.close(fd)


def decode(data: bytes) -> str:
    """Text of a YAML/JSON file: UTF-8 (with or without BOM) or UTF-16/32 with a BOM, as YAML allows."""
    codec = "utf-8"
    for bom, name in (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
        (b"\xef\xbb\xbf", "utf-8-sig"),
    ):
        if data.startswith(bom):
            codec = name
            break
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise _Unreadable(f"not text: byte 0x{bad} at offset {exc.start} is not valid {codec.upper()}") from None


def _files(paths: Iterable[Path], out: Manifests) -> list[str]:
    """Files to read: paths given by name whatever their suffix, directories recursively."""
    files: list[str] = []
    seen_directories: set[tuple[int, int]] = set()
    for path in paths:
        try:
            info = os.stat(path)
        except OSError as exc:
            out.problems.append(Problem(str(path), 0, f"cannot read: {_oserror(exc)}"))
            continue
        if stat.S_ISDIR(info.st_mode):
            files.extend(sorted(_walk(str(path), seen_directories, out)))
        elif stat.S_ISREG(info.st_mode):
            files.append(str(path))
        else:
            out.problems.append(Problem(str(path), 0, "not a regular file or directory: not read"))
    return files


def _walk(root: str, seen: set[tuple[int, int]], out: Manifests) -> Iterator[str]:
    """Manifest files under ``root``; follows symbolic links to directories, reads each directory once."""
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            info = os.stat(directory)
            key = (info.st_dev, info.st_ino)
            if key in seen:
                out.skipped.append(
                    Skipped(directory, 0, "directory already read (a symbolic link loop or a second link to it)")
                )
                continue
            seen.add(key)
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            out.problems.append(Problem(directory, 0, f"cannot read directory: {_oserror(exc)}"))
            continue
        for entry in entries:
            try:
                if entry.is_dir():  # follows symbolic links; loops end at `seen`
                    if entry.name not in _SKIPPED_DIRECTORIES:
                        stack.append(entry.path)
                    continue
                if os.path.splitext(entry.name)[1].lower() not in _SUFFIXES:
                    continue
                if entry.is_file():
                    yield entry.path
                elif entry.is_symlink() and not os.path.exists(entry.path):
                    out.problems.append(Problem(entry.path, 0, "cannot read: broken symbolic link"))
                else:
                    out.skipped.append(Skipped(entry.path, 0, "not a regular file"))
            except OSError as exc:
                out.problems.append(Problem(entry.path, 0, f"cannot read: {_oserror(exc)}"))


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
        self.path = path
        self.out = Manifests(files=1)
        self.number = 0  # documents so far

    def read(self) -> Manifests:
        try:
            text = decode(read_bytes(self.path))
        except _Unreadable as exc:
            self.out.problems.append(Problem(self.path, 0, str(exc)))
            return self.out
        if _in_chart_templates(self.path):
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
        self.number = 1
        self._document(obj, text)
        return True

    def _read_segment(self, line_offset: int, segment: str) -> None:
        if _only_counted(segment):
            self.number += 1
            self.out.documents += 1
            self.out.objects += 1
            return
        loader = _Loader(segment)
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
                try:
                    obj = loader.construct_document(node)
                except Exception as exc:  # invalid dates, unknown tags, recursion, ...
                    self._unparsable(segment, f"cannot read this document: {_constructor_error(exc)}")
                    continue
                self._document(obj, segment)
        finally:
            loader.dispose()

    def _unparsable(self, text: str, error: str) -> None:
        if "{{" in text:  # a template outside a chart directory: nothing to read until it is rendered
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
        facts = facts_from_object(obj) or gitops_facts(obj)
        if facts is not None:
            self.out.workloads.append(Found(facts, self.path, self.number))
            return
        source = flux_source(obj)
        if source is not None:
            self.out.chart_sources[source[0]] = source[1:]

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


def _constructor_error(exc: Exception) -> str:
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
    part.workloads = [Found(f.facts, f.file, f.document + offset) for f in part.workloads]


def _read_large(path: str, pool: ProcessPoolExecutor) -> Manifests:
    """A large file, its chunks parsed in the pool; same result as reading it whole."""
    result = Manifests(files=1)
    try:
        text = decode(read_bytes(path))
    except _Unreadable as exc:
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
    files = _files(paths, out)
    cores = os.cpu_count() or 1
    large = {path for path in files if _is_large(path)} if cores > 1 else set()
    rest = [path for path in files if path not in large]
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
        for batch, future in futures:
            try:
                parts = future.result()
            except Exception:  # a dead worker: read this batch here, file by file
                parts = _read_batch(batch)
            results.update(zip(batch, parts, strict=True))
    for path in files:
        out.extend(results[path])
    return out


# ---------------------------------------------------- engagement and matrix


def _load_single(path: Path, what: str) -> Any:
    try:
        return yaml.load(decode(read_bytes(path, 16 * 1024 * 1024)), Loader=_Loader)
    except _Unreadable as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc}") from None
    except Exception as exc:  # YAML errors, invalid dates, unknown tags, recursion
        raise InputError(f"{path}: cannot read the {what}: {_constructor_error(exc)}") from None


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
    from .loading import default_matrix

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

"""Reading ``check``'s input files: which files (paths by name, directories recursively), their bytes
(regular files only, bounded) and text, and the result types every reader fills in."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..core.products.gitops import SourceKey
from ..core.products.workloads import WorkloadFacts

MAX_FILE_BYTES = 256 * 1024 * 1024  # one file; larger ones are an error, not a partial read
STDIN = "-"  # `-f -`: standard input, bounded like a file
STDIN_NAME = "<stdin>"  # how reports name it
_SUFFIXES = {".yaml", ".yml", ".json"}
_SKIPPED_DIRECTORIES = {".git", ".hg", ".svn"}  # version-control internals, never manifests


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
    line: int = 0  # 1-based line of the document's first node in the file; 0 when not known


@dataclass(frozen=True)
class FluxTarget:
    """A Flux Kustomization that applies the objects under ``path`` into ``namespace`` (targetNamespace)."""

    file: str  # where the Kustomization itself was read
    path: str  # spec.path, relative to the root of its source repository
    namespace: str


@dataclass
class Manifests:
    workloads: list[Found] = field(default_factory=list)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    chart_sources: dict[SourceKey, tuple[str, str | None]] = field(default_factory=dict)  # Flux sources
    source_files: dict[SourceKey, str] = field(default_factory=dict)  # where each Flux source was read
    flux_targets: list[FluxTarget] = field(default_factory=list)
    openshift_versions: dict[str, str] = field(default_factory=dict)  # from ClusterVersion objects: version -> file
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
        self.source_files.update(other.source_files)
        self.flux_targets.extend(other.flux_targets)
        self.openshift_versions.update(other.openshift_versions)
        self.problems.extend(other.problems)
        self.skipped.extend(other.skipped)
        self.documents += other.documents
        self.objects += other.objects
        self.files += other.files


# ------------------------------------------------------------------ files


class Unreadable(Exception):
    pass


def _oserror(exc: OSError) -> str:
    return exc.strerror or str(exc)


def read_bytes(path: Path | str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The content of a regular file, at most ``limit`` bytes; raises Unreadable with the reason.

    Opened non-blocking and checked after opening, so a FIFO, a device (``/dev/zero``) or a socket is
    refused at once instead of hanging or reading forever.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise Unreadable(f"cannot read: {_oserror(exc)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable("not a regular file (a FIFO, device or socket is never read)")
        if info.st_size > limit:
            raise Unreadable(f"larger than {limit // (1024 * 1024)} MiB: not read")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 1024 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:  # grew while being read
                raise Unreadable(f"larger than {limit // (1024 * 1024)} MiB: not read")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise Unreadable(f"cannot read: {_oserror(exc)}") from None
    finally:
        os.close(fd)


def read_stdin(stream: BinaryIO, limit: int = MAX_FILE_BYTES) -> bytes:
    """Standard input, at most ``limit`` bytes (like a file); raises Unreadable with the reason. A terminal is
    refused at once: ``-f -`` without a pipe would wait for typing."""
    if stream.isatty():
        raise Unreadable("standard input is a terminal: pipe manifests into it (helm template ... | check -f -)")
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            chunk = stream.read(1024 * 1024)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise Unreadable(f"larger than {limit // (1024 * 1024)} MiB: not read")
            chunks.append(chunk)
    except OSError as exc:
        raise Unreadable(f"cannot read: {_oserror(exc)}") from None


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
        raise Unreadable(f"not text: byte 0x{bad} at offset {exc.start} is not valid {codec.upper()}") from None


def files_to_read(paths: Iterable[Path], out: Manifests) -> list[str]:
    """Files to read: paths given by name whatever their suffix, directories recursively."""
    files: list[str] = []
    seen_directories: set[tuple[int, int]] = set()
    for path in paths:
        if str(path) == STDIN:
            if STDIN not in files:  # `-f - -f -` reads the stream once
                files.append(STDIN)
            continue
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

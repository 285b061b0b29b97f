"""Reading the inputs of ``matrix build`` and ``matrix diff``: local files or https URLs, bounded.

URLs are read as the operator reads a matrix source (:mod:`matrix_source.https`): https only, a size cap,
and one wall-clock deadline for the whole read however slowly the server sends, so that a huge, stalled or
never-ending response is an input error (exit 4), not a hang or an out-of-memory kill.
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import yaml

from ...matrix_source import SourceError as FetchError
from ...matrix_source import https
from ...matrix_source.deadline import Deadline, within

MAX_INPUT_BYTES = 32 * 1024 * 1024  # Stakater's chart index is about 1.2 MB
TIMEOUT_SECONDS = 30.0
USER_AGENT = "eligibility-operator matrix build"


class SourceError(Exception):
    """An input cannot be read or is not what it should be; the message names it (exit 4)."""


def read_bytes(
    source: str, limit: int | None = None, timeout: float = TIMEOUT_SECONDS, tls: ssl.SSLContext | None = None
) -> bytes:
    """The content of a local file or an https:// URL, at most ``limit`` bytes (default MAX_INPUT_BYTES).

    ``tls``: the client context for URLs (default: the system's trust store, hostnames checked)."""
    limit = MAX_INPUT_BYTES if limit is None else limit
    if "://" in source:
        if not source.startswith("https://"):
            raise SourceError(f"{source}: only https:// URLs are read (or give a local file)")
        return _fetch(source, limit, timeout, tls)
    path = Path(source)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise SourceError(f"{source}: not a regular file")
        if size > limit:
            raise SourceError(f"{source}: {size} bytes, more than the {limit}-byte limit")
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise SourceError(f"{source}: no such file") from None
    except OSError as exc:
        raise SourceError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise SourceError(f"{source}: more than the {limit}-byte limit")
    return data


def tls_context(ca_bundle_file: str | None) -> ssl.SSLContext | None:
    """The client context for ``--ca-bundle FILE`` (only its certificates are trusted); None: the system's."""
    if ca_bundle_file is None:
        return None
    try:
        pem = Path(ca_bundle_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"--ca-bundle {ca_bundle_file}: cannot read: {exc}") from None
    try:
        return https.tls_context(pem)
    except FetchError as exc:
        raise SourceError(f"--ca-bundle {ca_bundle_file}: {exc.message}") from None


def _fetch(url: str, limit: int, timeout: float, tls: ssl.SSLContext | None) -> bytes:
    def read(deadline: Deadline) -> bytes:
        data = https.get(url, ca_bundle=None, cap=limit, deadline=deadline, tls=tls, user_agent=USER_AGENT)
        assert data is not None  # missing_ok is False: a 404 raised
        return data

    try:
        return within(timeout, url, read)
    except FetchError as exc:
        raise SourceError(f"cannot fetch ({exc.reason}): {exc.message}") from None


def _text(source: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{source}: not UTF-8 text (byte {exc.start})") from None


def read_yaml(
    source: str, limit: int | None = None, timeout: float = TIMEOUT_SECONDS, tls: ssl.SSLContext | None = None
) -> Any:
    """One YAML (or JSON) document."""
    text = _text(source, read_bytes(source, limit, timeout, tls))
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise SourceError(f"{source}: invalid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if len(documents) != 1:
        raise SourceError(f"{source}: expected one YAML document, found {len(documents)}")
    return documents[0]


def read_json(
    source: str, limit: int | None = None, timeout: float = TIMEOUT_SECONDS, tls: ssl.SSLContext | None = None
) -> Any:
    text = _text(source, read_bytes(source, limit, timeout, tls))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{source}: invalid JSON (line {exc.lineno}): {exc.msg}") from None

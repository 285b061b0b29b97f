"""Reading the inputs of ``matrix build`` and ``matrix diff``: local files or https URLs, bounded.

Standard library only (urllib): https only, a timeout, and a size cap, so that a huge or
never-ending response is an input error, not a hang or an out-of-memory kill.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Any

import yaml

MAX_INPUT_BYTES = 32 * 1024 * 1024  # Stakater's chart index is about 1.2 MB
TIMEOUT_SECONDS = 30.0
_CHUNK = 1024 * 1024


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


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to https only: a redirect to http is refused before it is requested."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not newurl.startswith("https://"):
            raise SourceError(f"{req.full_url}: redirected to {newurl}, which is not https")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _fetch(url: str, limit: int, timeout: float, tls: ssl.SSLContext | None) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "eligibility-operator matrix build"})
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls), _HttpsOnlyRedirects())
    try:
        with opener.open(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise SourceError(f"{url}: {declared} bytes, more than the {limit}-byte limit")
            chunks: list[bytes] = []
            total = 0
            while chunk := response.read(min(_CHUNK, limit - total + 1)):
                total += len(chunk)
                if total > limit:
                    raise SourceError(f"{url}: more than the {limit}-byte limit")
                chunks.append(chunk)
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise SourceError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceError(f"{url}: cannot fetch: {reason}") from None


def _text(source: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{source}: not UTF-8 text (byte {exc.start})") from None


def read_yaml(source: str, limit: int | None = None) -> Any:
    """One YAML (or JSON) document."""
    text = _text(source, read_bytes(source, limit))
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise SourceError(f"{source}: invalid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if len(documents) != 1:
        raise SourceError(f"{source}: expected one YAML document, found {len(documents)}")
    return documents[0]


def read_json(source: str, limit: int | None = None) -> Any:
    text = _text(source, read_bytes(source, limit))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{source}: invalid JSON (line {exc.lineno}): {exc.msg}") from None

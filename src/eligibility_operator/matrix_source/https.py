"""Fetch a document over https:// (stdlib ``urllib`` and ``ssl``): a size cap enforced while reading, a
deadline for the whole transfer, no redirect away from https, an optional CA bundle instead of the
system's trust store."""

from __future__ import annotations

import http.client
import ssl
import time
import urllib.error
import urllib.request
from http.client import HTTPMessage
from typing import IO, Any

from .errors import Reason, SourceError

USER_AGENT = "eligibility-operator-matrix-source"
_CHUNK = 64 * 1024


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to https:// (a document fetched over plain http could be anyone's)."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> urllib.request.Request | None:
        if not newurl.lower().startswith("https://"):
            raise SourceError(Reason.SOURCE_UNREACHABLE, f"{req.full_url} redirects to a non-https URL: {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The system's trust store, or only the PEM certificates in ``ca_bundle``."""
    try:
        return ssl.create_default_context(cadata=ca_bundle) if ca_bundle else ssl.create_default_context()
    except (ssl.SSLError, ValueError) as exc:
        raise SourceError(Reason.SOURCE_UNREACHABLE, f"caBundle is not usable PEM: {exc}") from None


def read_capped(stream: Any, cap: int, deadline: float, what: str) -> bytes:
    """Read ``stream`` to its end, failing once more than ``cap`` bytes arrive or the deadline passes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise SourceError(Reason.SOURCE_UNREACHABLE, f"{what}: transfer did not finish in time")
        chunk = stream.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            raise SourceError(Reason.TOO_LARGE, f"{what} is larger than the cap of {cap} bytes")
        chunks.append(chunk)


def get(url: str, *, ca_bundle: str | None, cap: int, timeout: float, missing_ok: bool = False) -> bytes | None:
    """GET ``url``; None for a 404 when ``missing_ok``. Every failure is a :class:`SourceError`."""
    if not url.lower().startswith("https://"):
        raise SourceError(Reason.SOURCE_UNREACHABLE, f"{url}: only https:// is fetched")
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=tls_context(ca_bundle)), _HttpsOnlyRedirects()
    )
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/yaml, */*"})
    deadline = time.monotonic() + timeout
    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > cap:
                raise SourceError(Reason.TOO_LARGE, f"{url} is {length} bytes, larger than the cap of {cap}")
            return read_capped(response, cap, deadline, url)
    except SourceError:
        raise
    except urllib.error.HTTPError as exc:
        if exc.code == 404 and missing_ok:
            return None
        raise SourceError(Reason.SOURCE_UNREACHABLE, f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        detail = exc.reason
        kind = "TLS failure" if isinstance(detail, ssl.SSLError) else "unreachable"
        raise SourceError(Reason.SOURCE_UNREACHABLE, f"{url}: {kind}: {detail}") from None
    except ssl.SSLError as exc:
        raise SourceError(Reason.SOURCE_UNREACHABLE, f"{url}: TLS failure: {exc}") from None
    except (OSError, ValueError, http.client.HTTPException) as exc:  # timeouts, resets, malformed responses
        raise SourceError(Reason.SOURCE_UNREACHABLE, f"{url}: {type(exc).__name__}: {exc}") from None

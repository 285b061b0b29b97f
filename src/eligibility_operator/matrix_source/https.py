"""Fetch a document over https:// (stdlib ``urllib`` and ``ssl``): a size cap enforced while reading, every
connection (redirects too) under the fetch's one :class:`~.deadline.Deadline`, no redirect away from https,
an optional CA bundle instead of the system's trust store."""

from __future__ import annotations

import http.client
import ssl
import urllib.error
import urllib.request
from http.client import HTTPMessage
from typing import IO, Any

from .deadline import Deadline
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


class _TrackedHttpsHandler(urllib.request.HTTPSHandler):
    """Connections whose sockets get the time left as their timeout and are shut down at the deadline."""

    def __init__(self, context: ssl.SSLContext, deadline: Deadline) -> None:
        super().__init__(context=context)
        self.deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)

    def _connection(self, host: str, timeout: float | None = None, **_: Any) -> http.client.HTTPSConnection:
        conn = http.client.HTTPSConnection(host, timeout=timeout, context=self._context)  # type: ignore[attr-defined]
        conn._create_connection = self.deadline.create_connection  # type: ignore[attr-defined]
        return conn


def read_capped(stream: Any, cap: int, deadline: Deadline, what: str) -> bytes:
    """Read ``stream`` to its end, failing once more than ``cap`` bytes arrive or the deadline passes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        deadline.remaining()
        chunk = stream.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            raise SourceError(Reason.TOO_LARGE, f"{what} is larger than the cap of {cap} bytes")
        chunks.append(chunk)


def get(
    url: str,
    *,
    ca_bundle: str | None,
    cap: int,
    deadline: Deadline,
    missing_ok: bool = False,
    tls: ssl.SSLContext | None = None,
    user_agent: str = USER_AGENT,
) -> bytes | None:
    """GET ``url`` within ``deadline``; None for a 404 when ``missing_ok``. Every failure is a SourceError.

    ``tls``: a ready client context (else one from ``ca_bundle``)."""
    if not url.lower().startswith("https://"):
        raise SourceError(Reason.SOURCE_UNREACHABLE, f"{url}: only https:// is fetched")
    opener = urllib.request.build_opener(
        _TrackedHttpsHandler(tls or tls_context(ca_bundle), deadline), _HttpsOnlyRedirects()
    )
    request = urllib.request.Request(url, headers={"User-Agent": user_agent, "Accept": "application/yaml, */*"})
    try:
        with opener.open(request, timeout=deadline.remaining()) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > cap:
                raise SourceError(Reason.TOO_LARGE, f"{url} is {length} bytes, larger than the cap of {cap}")
            return read_capped(response, cap, deadline, url)
    except SourceError:
        raise
    except urllib.error.HTTPError as exc:
        if exc.code == 404 and missing_ok:
            return None
        raise deadline.or_error(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        detail = exc.reason
        kind = "TLS failure" if isinstance(detail, ssl.SSLError) else "unreachable"
        raise deadline.or_error(f"{url}: {kind}: {detail}") from None
    except ssl.SSLError as exc:
        raise deadline.or_error(f"{url}: TLS failure: {exc}") from None
    except (OSError, ValueError, http.client.HTTPException) as exc:  # timeouts, resets, malformed responses
        raise deadline.or_error(f"{url}: {type(exc).__name__}: {exc}") from None

"""How the operator reaches the API server: one login, shared by Kopf and the operator's own requests.

In a pod: the service account (token re-read when it rotates), at the address the ``kubernetes``
client uses too (``$KUBERNETES_SERVICE_HOST``). Elsewhere: the current context of ``$KUBECONFIG``
(or ``~/.kube/config``) with a token, a client certificate or basic auth, as Kopf reads it. Only
kubeconfigs that authenticate through an exec plugin or an auth provider fall back to the
``kubernetes`` client's loader (Kopf's ``login_via_client``), which imports that package.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import kopf

log = logging.getLogger("eligibility_operator")
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def _service_account(settings: kopf.OperatorSettings) -> kopf.ConnectionInfo | None:
    token_path = SERVICE_ACCOUNT / "token"
    if not token_path.exists():
        return None
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    server = "https://kubernetes.default.svc"
    if host and port:
        server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    ca = SERVICE_ACCOUNT / "ca.crt"
    namespace = SERVICE_ACCOUNT / "namespace"
    return kopf.ConnectionInfo(
        server=server,
        ca_path=str(ca) if ca.exists() else None,
        token=token_path.read_text().strip() or None,
        default_namespace=namespace.read_text().strip() if namespace.exists() else None,
        trust_env=settings.networking.trust_env,
        priority=30,
    )


def _relative_to_kubeconfig(info: kopf.ConnectionInfo | None) -> kopf.ConnectionInfo | None:
    """File paths in a kubeconfig are relative to that file (as kubectl reads them)."""
    first = (os.environ.get("KUBECONFIG") or "~/.kube/config").split(os.pathsep)[0]
    if info is None or not first:
        return info
    base = Path(first).expanduser().parent
    changes: dict[str, Any] = {
        field: str(base / str(value))
        for field in ("ca_path", "certificate_path", "private_key_path")
        if (value := getattr(info, field)) and not Path(str(value)).is_absolute()
    }
    return dataclasses.replace(info, **changes) if changes else info


def login(settings: kopf.OperatorSettings | None = None, **kwargs: Any) -> kopf.ConnectionInfo:
    """The credentials to use (Kopf's ``on.login`` handler calls this too); raises ``kopf.LoginError``."""
    settings = settings or kopf.OperatorSettings()
    info = _service_account(settings) or _relative_to_kubeconfig(kopf.login_with_kubeconfig(settings=settings))
    if info is not None and (info.token or info.certificate_path or info.certificate_data or info.username):
        return info
    # exec plugins, auth providers without a cached token: only the kubernetes client knows them
    via_client = kopf.login_via_client(settings=settings, logger=kwargs.get("logger", log))
    if via_client is None:
        raise kopf.LoginError("no service account and no usable kubeconfig")
    return via_client


@dataclass
class Connection:
    """The server, its TLS context and the request headers (credentials and user agent)."""

    server: str
    ssl_context: ssl.SSLContext
    headers: dict[str, str]
    proxy: str | None = None
    trust_env: bool = False

    @classmethod
    def from_info(cls, info: kopf.ConnectionInfo, user_agent: str) -> Connection:
        return cls(
            server=info.server.rstrip("/"),
            ssl_context=info.as_ssl_context(),
            headers={**info.as_http_headers(), "User-Agent": user_agent},
            proxy=info.proxy_url,
            trust_env=info.trust_env,
        )

    def session(self) -> aiohttp.ClientSession:
        """An aiohttp session for this connection (the caller closes it)."""
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ssl=self.ssl_context),
            headers=self.headers,
            proxy=self.proxy,
            trust_env=self.trust_env,
        )


class ApiHttpError(Exception):
    """An HTTP error status from the API server (``status``, ``reason`` and the server's message)."""

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        super().__init__(f"HTTP {status} {reason}: {message[:300]}")
        self.status = status
        self.reason = reason
        self.message = message

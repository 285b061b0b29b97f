"""How the operator reaches the API server: one login, shared by Kopf and the operator's own requests, and
one aiohttp session (:class:`ApiSession`) for all of the operator's own requests: the workload watches,
status writes, Events, the Lease, the matrix store, the webhook certificate's Secret and ``/version``
(``check --cluster`` scans through one too, :mod:`..scan`).

In a pod: the service account (token re-read when it rotates), at the address the ``kubernetes``
client uses too (``$KUBERNETES_SERVICE_HOST``). Elsewhere: the current context of ``$KUBECONFIG``
(or ``~/.kube/config``) with a token, a client certificate or basic auth, as Kopf reads it. Only
kubeconfigs that authenticate through an exec plugin or an auth provider fall back to the
``kubernetes`` client's loader (Kopf's ``login_via_client``), which imports that package.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import os
import socket
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import kopf
from aiohttp.abc import AbstractResolver, ResolveResult

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
            connector=aiohttp.TCPConnector(limit=0, ssl=self.ssl_context, resolver=OwnThreadResolver()),
            headers=self.headers,
            proxy=self.proxy,
            trust_env=self.trust_env,
        )


class OwnThreadResolver(AbstractResolver):
    """Host names resolved in threads of their own. aiohttp's default resolver uses the event loop's default
    executor, whose threads may all be waiting for requests on the loop (``KubeClient``'s blocking calls,
    made through ``asyncio.to_thread``): a new connection to a named server would then wait for ever."""

    _threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="resolve")

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        lookup = functools.partial(
            socket.getaddrinfo, host, port, family=family, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG
        )
        infos = await asyncio.get_running_loop().run_in_executor(self._threads, lookup)
        return [
            ResolveResult(
                hostname=host,
                host=str(address[0]),
                port=int(address[1]),
                family=found,
                proto=proto,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for found, _, proto, _, address in infos
            if found in (socket.AF_INET, socket.AF_INET6)
        ]

    async def close(self) -> None:
        return None


class ApiSession:
    """One aiohttp session (one connection pool, one TLS and auth setup) for every request the operator
    makes itself; logs in again after a 401 (a rotated service-account token, an expired exec-plugin
    token) and then uses a new session. Whoever made it closes it.

    The session of the credentials before a login is retired, not closed: requests still on it (a watch
    streams for up to its client timeout) finish there, and it is closed ``retire_after`` seconds later.
    Closing it at once would leave their readers waiting for their read timeout (aiohttp does not wake a
    reader whose connection its own session closed): every workload watch silent for 70 s after a token
    rotation."""

    def __init__(self, login: Callable[[], Connection], retire_after: float = 600.0, login_every: float = 10.0) -> None:
        self.login = login
        self.retire_after = retire_after
        self.login_every = login_every  # at most one login per this many seconds while 401s go on
        self.connection = login()
        self._session: aiohttp.ClientSession | None = None
        self._retired: dict[asyncio.Task[None], aiohttp.ClientSession] = {}
        self._login_lock: asyncio.Lock | None = None  # made on the loop that first needs it
        self._last_login = float("-inf")
        self._closed = False

    @property
    def server(self) -> str:
        return self.connection.server

    def session(self) -> aiohttp.ClientSession:
        if self._closed:  # a request from a thread still running at shutdown: no new pool, no late write
            raise RuntimeError("the API session is closed (shutting down)")
        if self._session is None or self._session.closed:
            self._session = self.connection.session()
        return self._session

    async def relogin(self, failed: aiohttp.ClientSession | None = None) -> None:
        """Log in again after a 401 on ``failed`` (None: on the current session).

        One login at a time, in a thread (an exec plugin runs a process), only if ``failed`` is still the
        current session (every watch and request that met the same 401 shares one login), and at most
        once per ``login_every`` seconds while the credentials go on being refused. Credentials that
        come back unchanged keep the session."""
        if self._login_lock is None:
            self._login_lock = asyncio.Lock()
        async with self._login_lock:
            if self._closed or (failed is not None and failed is not self._session):
                return  # renewed meanwhile by another request
            loop = asyncio.get_running_loop()
            if loop.time() - self._last_login < self.login_every:
                return
            self._last_login = loop.time()
            try:
                connection = await asyncio.to_thread(self.login)
            except Exception as exc:  # keep the old credentials; the next 401 tries again
                log.warning("could not log in again: %s", f"{type(exc).__name__}: {str(exc)[:300]}")
                return
            if "Authorization" in connection.headers and (connection.server, connection.headers) == (
                self.connection.server,
                self.connection.headers,
            ):
                log.warning("credentials refused (HTTP 401) and unchanged on logging in again")
                return
            self.connection = connection
            log.info("logged in again to %s (credentials refused: HTTP 401)", connection.server)
            old, self._session = self._session, None
            if old is not None:
                closing = loop.create_task(self._close_later(old))
                self._retired[closing] = old
                closing.add_done_callback(lambda done: self._retired.pop(done, None))

    async def _close_later(self, old: aiohttp.ClientSession) -> None:
        await asyncio.sleep(self.retire_after)
        await old.close()

    async def close(self) -> None:
        """Close the session and every retired one (at shutdown: whatever is still on them ends); no
        request makes a new one after this."""
        self._closed = True
        retired = list(self._retired.items())
        for task, _ in retired:
            task.cancel()
        for _, old in retired:
            await old.close()
        if self._session is not None:
            await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        timeout: aiohttp.ClientTimeout,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> tuple[int, str, bytes]:
        """One request: its status, reason and body (any status; a 401 is tried once more after logging
        in again)."""
        headers = {"Accept": accept}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        params = [(key, str(value)) for key, value in query or ()]
        for attempt in (1, 2):
            session = self.session()
            async with session.request(
                method, self.server + path, params=params, data=data, headers=headers, timeout=timeout
            ) as response:
                content = await response.read()
                if response.status == 401 and attempt == 1:
                    await self.relogin(session)
                    continue
                return response.status, response.reason or "", content
        raise AssertionError("unreachable")

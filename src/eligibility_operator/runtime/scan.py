"""``check --cluster``: one read-only pass over a live cluster, through a kubeconfig context.

The workloads are listed with the operator's own paged LIST (:meth:`ResourceWatch.list`, the same
decoder to compact facts, pages of 500), so a scan sees what the operator would; namespaces (their
labels, for selectors) and, on request, the SupportEngagements are listed in pages too. Every request
goes through one :class:`~.kube.connection.ApiSession`, as the operator's do, and the platform is read
by the operator's own reader (:meth:`KubeRequests.platform`: a ClusterVersion that cannot be read on a
cluster serving ``config.openshift.io`` is a problem, PlatformCompatible Unknown, never "not OpenShift").
Only ``list`` (and ``get`` on ``/version``, the OpenShift ClusterVersion and its API group's discovery)
is sent: nothing is written. Memory stays bounded by the facts kept per workload (see
docs/performance.md).

Every failure is a :class:`ScanError` whose message says why in one line: a context that is not in
the kubeconfig, a server that cannot be reached, credentials refused (expired), or a missing
permission, named as ``list deployments.apps``. The command line turns it into exit 4.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from ..core.products.workloads import WATCHED_RESOURCES, WorkloadFacts
from ..core.verdict.evaluation import Platform
from .config import WatchConfig
from .kube.api import KubeRequests
from .kube.connection import ApiSession, Connection
from .kube.errors import ApiHttpError
from .watches import ResourceWatch

ENGAGEMENTS = ("support.stakater.com", "v1alpha1", "supportengagements", "SupportEngagement")
NAMESPACES = ("", "v1", "namespaces", "Namespace")
MATRICES = ("support.stakater.com", "v1alpha1", "compatibilitymatrices", "CompatibilityMatrix")
PAGE_SIZE = 500


class ScanError(Exception):
    """The cluster could not be scanned; the message says why (no verdict is given)."""


@dataclass
class ClusterScan:
    context: str
    server: str
    workloads: list[WorkloadFacts] = field(default_factory=list)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    engagements: list[dict[str, Any]] = field(default_factory=list)  # SupportEngagement objects as listed
    matrices: list[dict[str, Any]] = field(default_factory=list)  # CompatibilityMatrix objects (with engagements)
    platform: Platform = field(default_factory=Platform)
    not_served: list[str] = field(default_factory=list)  # resources this cluster does not serve (no CRD)


class _Collect:
    """The sink a listing feeds: keeps the facts, in listing order."""

    def __init__(self, out: list[WorkloadFacts]) -> None:
        self.out = out

    def workload_seen(self, namespace: str, kind: str, name: str, facts: WorkloadFacts | None) -> None:
        if facts is not None:
            self.out.append(facts)

    def workload_gone(self, namespace: str, kind: str, name: str) -> None:
        """A first listing forgets nothing."""


# ------------------------------------------------------------------ kubeconfig


def contexts(kubeconfig: str | None) -> tuple[list[str], str | None]:
    """The kubeconfig's context names and its current context."""
    from kubernetes import config

    try:
        listed, current = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    except Exception as exc:  # missing file, invalid YAML, no contexts
        raise ScanError(f"cannot read the kubeconfig: {_oneline(exc)}") from None
    return [str(c.get("name")) for c in listed or []], (current or {}).get("name")


def connect(kubeconfig: str | None, context: str | None, user_agent: str) -> Connection:
    """A connection for ``context`` (the current one when None), as kubectl would authenticate it
    (token, client certificate, basic auth or an exec plugin, through the ``kubernetes`` client's loader)."""
    from kubernetes import client, config

    names, current = contexts(kubeconfig)
    if context is not None and context not in names:
        raise ScanError(f"context {context!r} is not in the kubeconfig (contexts: {', '.join(names) or 'none'})")
    configuration = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False
        )
    except Exception as exc:  # an exec plugin that fails, unreadable certificate files, ...
        raise ScanError(f"context {context or current!r}: cannot load its credentials: {_oneline(exc)}") from None
    try:
        tls = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
        if configuration.cert_file:
            tls.load_cert_chain(configuration.cert_file, configuration.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ScanError(f"context {context or current!r}: cannot use its TLS files: {_oneline(exc)}") from None
    if not configuration.verify_ssl:
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    headers = {"User-Agent": user_agent}
    settings: dict[str, Any] = dict(configuration.auth_settings())  # exec plugins refresh the token here
    for setting in settings.values():
        if setting.get("in") == "header" and setting.get("value"):
            headers[str(setting["key"]).title()] = str(setting["value"])
    if "Authorization" not in headers and configuration.username:
        headers["Authorization"] = str(configuration.get_basic_auth_token())
    return Connection(server=str(configuration.host).rstrip("/"), ssl_context=tls, headers=headers)


# ------------------------------------------------------------------ listing


def _what(resource: tuple[str, str, str, str]) -> str:
    group, _, plural, _ = resource
    return f"{plural}.{group}" if group else plural


def _explain(exc: BaseException, verb: str, resource: str, connection: Connection, context: str) -> ScanError:
    where = f"context {context!r} ({connection.server})"
    if isinstance(exc, ApiHttpError):
        if exc.status == 401:
            return ScanError(f"{where}: credentials refused (HTTP 401: expired or revoked?): log in again")
        if exc.status == 403:
            return ScanError(
                f"{where}: missing permission: {verb} {resource} (cluster-wide); the scan needs list on what "
                f"the operator watches: {exc.message[:200]}"
            )
        return ScanError(f"{where}: {verb} {resource}: HTTP {exc.status} {exc.reason}: {exc.message[:200]}")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | ssl.SSLError):
        return ScanError(f"{where}: TLS verification failed: {_oneline(exc)}")
    if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
        return ScanError(f"{where}: cannot reach the API server: {_oneline(exc) or type(exc).__name__}")
    return ScanError(f"{where}: {verb} {resource}: {type(exc).__name__}: {_oneline(exc)}")


async def _list_objects(
    requests: KubeRequests, resource: tuple[str, str, str, str], timeout: aiohttp.ClientTimeout
) -> list[dict[str, Any]] | None:
    """Every object of a small resource (namespaces, engagements), in pages; None if not served."""
    group, version, plural, _ = resource
    path = f"/apis/{group}/{version}/{plural}" if group else f"/api/{version}/{plural}"
    out: list[dict[str, Any]] = []
    token = ""
    while True:
        query: list[tuple[str, Any]] = [("limit", PAGE_SIZE), *([("continue", token)] if token else [])]
        page = await requests.read(path, query, timeout=timeout)
        if page is None:
            return None
        out.extend(item for item in page.get("items") or [] if isinstance(item, dict))
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return out


async def scan(
    login: Callable[[], Connection],
    context: str,
    *,
    engagements: bool = False,
    matrices: bool = False,
    options: WatchConfig | None = None,
    resources: tuple[tuple[str, str, str, str], ...] = WATCHED_RESOURCES,
) -> ClusterScan:
    """One pass over the cluster that ``login`` connects to: workloads, namespaces, platform (and
    engagements, and the matrices they name), over one session (logged in again once on a 401, as the operator does)."""
    options = options or WatchConfig(page_size=PAGE_SIZE)
    api = ApiSession(login)
    requests = KubeRequests(api)
    connection = api.connection
    result = ClusterScan(context, connection.server)
    timeout = aiohttp.ClientTimeout(total=options.request_timeout, connect=options.connect_timeout)
    step = ("get", "/version")
    try:
        result.platform = await requests.platform(timeout)  # the operator's reader (a 403 told apart)
        step = ("list", "namespaces")
        for item in await _list_objects(requests, NAMESPACES, timeout) or []:
            meta = item.get("metadata") or {}
            labels = meta.get("labels") or {}
            result.namespace_labels[str(meta.get("name"))] = {str(k): str(v) for k, v in labels.items()}
        collect = _Collect(result.workloads)
        for resource in resources:
            step = ("list", _what(resource))
            lister = ResourceWatch(api.session, api.server, resource, collect, options=options)
            if await lister.list() is None:
                result.not_served.append(_what(resource))
        if engagements:
            step = ("list", _what(ENGAGEMENTS))
            found = await _list_objects(requests, ENGAGEMENTS, timeout)
            if found is None:
                raise ScanError(
                    f"context {context!r} ({connection.server}): --engagements-from-cluster: the cluster does not "
                    "serve SupportEngagements (the CRD is not installed)"
                )
            result.engagements = found
        if matrices:
            step = ("list", _what(MATRICES))  # what the engagements' matrixRefs name
            result.matrices = await _list_objects(requests, MATRICES, timeout) or []
    except ScanError:
        raise
    except Exception as exc:  # every failure is this cluster's reason, never a crash
        raise _explain(exc, *step, connection, context) from None
    finally:
        await api.close()
    return result


def scan_context(
    kubeconfig: str | None,
    context: str | None,
    user_agent: str,
    *,
    engagements: bool = False,
    matrices: bool = False,
) -> ClusterScan:
    """:func:`scan` of one kubeconfig context (the current one when None), run to completion."""
    name = context or contexts(kubeconfig)[1] or "current"
    return asyncio.run(
        scan(lambda: connect(kubeconfig, context, user_agent), name, engagements=engagements, matrices=matrices)
    )


def _oneline(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]

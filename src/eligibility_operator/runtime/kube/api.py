"""The few Kubernetes API calls the operator makes itself (Kopf watches its resources, :mod:`..watches`
the workloads).

:class:`KubeRequests` makes them, asynchronously, over the operator's one aiohttp session
(:class:`~.connection.ApiSession`), the one the workload watches use. :class:`KubeApi` is what the
runtime depends on: blocking calls that the controllers make from threads (the tests have an in-memory
fake); :class:`KubeClient` implements it by running each request on the operator's event loop, so there
is one connection pool, one TLS and auth setup and one token refresh for everything. Writes go only to
the operator's own resources: engagement and matrix status, Events about engagements, the Lease, the
matrix store's ConfigMap, the webhook certificate's Secret and the webhook's configuration.

The ``kubernetes`` package is not imported here: it only loads credentials that Kopf's own kubeconfig
reader does not know (exec plugins, auth providers; :func:`.connection.login`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import threading
import uuid
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

import aiohttp

from ...api.models import GROUP, VERSION
from ...core.base.status_wire import rfc3339
from ...core.compat.platforms import openshift_version_of
from ...core.verdict.evaluation import Platform
from .connection import ApiSession, Connection, login
from .errors import ApiHttpError

log = logging.getLogger(__name__)
COMPONENT = "eligibility-operator"
# Without a timeout a frozen API server would stall the reconciler; with one the call fails and is retried.
TIMEOUT = aiohttp.ClientTimeout(connect=5, sock_read=15)
LIST_TIMEOUT = aiohttp.ClientTimeout(connect=5, sock_read=60)  # a page of a metadata-only listing
WAIT_LIMIT = 120.0  # a blocking call never waits longer than this for its request (e.g. a stopped loop)
T = TypeVar("T")
PARTIAL_METADATA = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"


# API path prefix and plural of each workload kind the inventory holds (for diagnostics).
WORKLOAD_PATHS = {
    "Deployment": "/apis/apps/v1",
    "StatefulSet": "/apis/apps/v1",
    "DaemonSet": "/apis/apps/v1",
    "ClusterServiceVersion": "/apis/operators.coreos.com/v1alpha1",
}
WORKLOAD_PLURALS = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "ClusterServiceVersion": "clusterserviceversions",
}


def describe_error(exc: BaseException) -> str:
    """One line for the log: status and the server's message, never headers or bodies in full."""
    if isinstance(exc, ApiHttpError):
        return str(exc)  # HTTP status reason: the server's message (cut)
    return f"{type(exc).__name__}: {str(exc)[:300]}"


openshift_version = openshift_version_of  # one reader for the cluster's and check's ClusterVersion


def clusterversion_problem(exc: BaseException) -> str:
    """What status.platform says when the OpenShift ClusterVersion cannot be read."""
    hint = ""
    if isinstance(exc, ApiHttpError) and exc.status == 403:
        hint = " (grant get on clusterversions.config.openshift.io named 'version', as deploy/base/rbac.yaml does)"
    return f"OpenShift version unreadable: ClusterVersion 'version': {describe_error(exc)}{hint}"


class KubeApi(Protocol):
    """The operator's own API calls; each is blocking (called from a thread) and may raise (the caller
    retries)."""

    def replace_status(self, plural: str, namespace: str | None, name: str, status: dict[str, Any]) -> bool:
        """Replace an object's whole status; False if the object is gone."""

    def emit_event(
        self, *, namespace: str, name: str, uid: str, kind: str, reason: str, message: str, warning: bool
    ) -> None:
        """Post an Event about one of the operator's own objects."""

    def apply_webhook_configuration(self, body: dict[str, Any]) -> None: ...

    def delete_webhook_configuration(self, name: str) -> None: ...

    def count(self, group: str, version: str, plural: str, namespace: str | None = None) -> int | None:
        """How many objects of a resource exist (in ``namespace``); None if the resource is not served."""

    def list_keys(
        self, group: str, version: str, plural: str, namespace: str | None = None
    ) -> set[tuple[str, str]] | None:
        """(namespace, name) of every object of a resource (in ``namespace``); None if not served."""

    def workload_status(self, namespace: str, kind: str, name: str) -> tuple[dict[str, Any], Any] | None:
        """A workload's ``status`` and ``spec.replicas`` (nothing else of it); None if it does not exist."""

    def events_about(self, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
        """Events about one object (at most 100; only type, reason, message, count and times)."""

    def platform(self) -> Platform:
        """The cluster's Kubernetes (and OpenShift) version."""


def _error(status: int, reason: str, content: bytes) -> ApiHttpError:
    message = ""
    try:
        answer = json.loads(content or b"{}")
        message = str(answer.get("message", "")) if isinstance(answer, dict) else ""
    except ValueError:
        message = content[:300].decode(errors="replace")
    return ApiHttpError(status, reason, message)


def _collection(group: str, version: str, plural: str, namespace: str | None) -> str:
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    return f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"


class KubeRequests:
    """:class:`KubeApi`'s calls, asynchronous, with raw API paths and plain-dict bodies over one
    :class:`~.connection.ApiSession` (no generated API classes or models: the ``kubernetes`` package's
    would cost about 25 MiB of memory for the handful of calls made here)."""

    def __init__(self, api: ApiSession) -> None:
        self.api = api

    async def call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        timeout: aiohttp.ClientTimeout = TIMEOUT,
    ) -> dict[str, Any]:
        """One request; the answer's JSON. Raises :class:`~.errors.ApiHttpError` on an HTTP error status."""
        status, reason, content = await self.api.request(
            method, path, query=query, body=body, content_type=content_type, accept=accept, timeout=timeout
        )
        if status >= 400:
            raise _error(status, reason, content)
        data: dict[str, Any] = json.loads(content or b"{}")
        return data

    async def read(
        self,
        path: str,
        query: list[tuple[str, Any]] | None = None,
        *,
        accept: str = "application/json",
        timeout: aiohttp.ClientTimeout = TIMEOUT,
    ) -> dict[str, Any] | None:
        """GET; None on 404 (no such object, or the resource is not served)."""
        try:
            return await self.call("GET", path, query=query, accept=accept, timeout=timeout)
        except ApiHttpError as exc:
            if exc.status == 404:
                return None
            raise

    # -------------------------------------------------------------- status

    async def replace_status(self, plural: str, namespace: str | None, name: str, status: dict[str, Any]) -> bool:
        """Set the whole status in one JSON patch (``add`` replaces an existing member).

        A merge patch would keep keys that the new status no longer has. Returns
        False if the object is gone.
        """
        body = [{"op": "add", "path": "/status", "value": status}]
        scope = f"/namespaces/{namespace}" if namespace else ""
        try:
            await self.call(
                "PATCH",
                f"/apis/{GROUP}/{VERSION}{scope}/{plural}/{name}/status",
                body=body,
                content_type="application/json-patch+json",
            )
        except ApiHttpError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # -------------------------------------------------------------- events

    async def emit_event(
        self, *, namespace: str, name: str, uid: str, kind: str, reason: str, message: str, warning: bool
    ) -> None:
        now = rfc3339(dt.datetime.now(dt.UTC))
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{name}.{uuid.uuid4().hex[:12]}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": kind,
                "name": name,
                "namespace": namespace,
                "uid": uid,
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
        }
        await self.call("POST", f"/api/v1/namespaces/{namespace}/events", body=event)

    # ------------------------------------------------------------- webhook

    async def apply_webhook_configuration(self, body: dict[str, Any]) -> None:
        """Create or replace a ValidatingWebhookConfiguration (local control plane only)."""
        path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
        name = body["metadata"]["name"]
        current = await self.read(f"{path}/{name}")
        if current is None:
            await self.call("POST", path, body=body)
            return
        body["metadata"]["resourceVersion"] = (current.get("metadata") or {}).get("resourceVersion")
        await self.call("PUT", f"{path}/{name}", body=body)

    async def delete_webhook_configuration(self, name: str) -> None:
        try:
            await self.call("DELETE", f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{name}")
        except ApiHttpError as exc:
            if exc.status != 404:
                raise

    # ---------------------------------------------------------------- lists

    async def count(self, group: str, version: str, plural: str, namespace: str | None = None) -> int | None:
        """How many objects of a resource exist (in ``namespace``); None if the resource is not served.

        One LIST with ``limit=1`` as plain JSON: the server says how many items remain (a metadata-only
        list, ``PartialObjectMetadataList``, does not carry ``remainingItemCount`` on Kubernetes 1.20).
        Where the server omits it anyway (a label selector, an old server), counts a metadata-only
        listing: the operator counts only its own resources and namespaces that way (the workloads'
        watches list those themselves, see ``priming.SeenObjects.delegate``).
        """
        data = await self.read(_collection(group, version, plural, namespace), [("limit", 1)])
        if data is None:
            return None
        meta = data.get("metadata") or {}
        items = len(data.get("items") or [])
        if not meta.get("continue"):
            return items
        if meta.get("remainingItemCount") is not None:
            return items + int(meta["remainingItemCount"])
        return len(await self.list_keys(group, version, plural, namespace) or ())

    async def list_keys(
        self, group: str, version: str, plural: str, namespace: str | None = None
    ) -> set[tuple[str, str]] | None:
        """(namespace, name) of every object of a resource (in ``namespace``), metadata only and paginated;
        None if not served."""
        path = _collection(group, version, plural, namespace)
        keys: set[tuple[str, str]] = set()
        token = ""
        while True:
            query: list[tuple[str, Any]] = [("limit", 500)] + ([("continue", token)] if token else [])
            data = await self.read(path, query, accept=PARTIAL_METADATA, timeout=LIST_TIMEOUT)
            if data is None:
                return None
            for item in data.get("items") or []:
                meta = item.get("metadata") or {}
                keys.add((meta.get("namespace") or "", meta.get("name") or ""))
            token = (data.get("metadata") or {}).get("continue") or ""
            if not token:
                return keys

    # ----------------------------------------------- SupportRequest diagnostics

    async def workload_status(self, namespace: str, kind: str, name: str) -> tuple[dict[str, Any], Any] | None:
        """One LIST by name (the operator may list workloads, not get them); only ``status`` and
        ``spec.replicas`` leave this method: never the pod template and its environment values."""
        resource = WORKLOAD_PATHS.get(kind)
        if resource is None:
            return None
        data = await self.read(
            f"{resource}/namespaces/{namespace}/{WORKLOAD_PLURALS[kind]}",
            [("fieldSelector", f"metadata.name={name}"), ("limit", 1)],
        )
        items = (data or {}).get("items") or []
        if not items:
            return None
        item = items[0]
        status = item.get("status") if isinstance(item.get("status"), dict) else {}
        return dict(status or {}), (item.get("spec") or {}).get("replicas")

    async def events_about(self, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
        data = await self.read(
            f"/api/v1/namespaces/{namespace}/events",
            [("fieldSelector", f"involvedObject.kind={kind},involvedObject.name={name}"), ("limit", 100)],
        )
        keep = ("type", "reason", "message", "count", "lastTimestamp", "eventTime")
        out = []
        for item in (data or {}).get("items") or []:
            event = {k: item.get(k) for k in keep if item.get(k) is not None}
            event["metadata"] = {"creationTimestamp": (item.get("metadata") or {}).get("creationTimestamp")}
            out.append(event)
        return out

    # ------------------------------------------------------------ platform

    async def platform(self, timeout: aiohttp.ClientTimeout = TIMEOUT) -> Platform:
        """Kubernetes version from /version; OpenShift version from ClusterVersion ``version``. The one
        reader of the platform: the operator's and ``check --cluster``'s (:mod:`..scan`).

        A ClusterVersion that cannot be read on a cluster serving ``config.openshift.io`` is a problem
        (``openshift_problem``), never a silent "not OpenShift"; a 403 elsewhere is plain Kubernetes."""
        kubernetes = str((await self.call("GET", "/version", timeout=timeout)).get("gitVersion") or "")
        try:
            cv = await self.call("GET", "/apis/config.openshift.io/v1/clusterversions/version", timeout=timeout)
        except ApiHttpError as exc:
            if exc.status == 404 or (exc.status == 403 and not await self._serves_openshift_config(timeout)):
                return Platform(kubernetes=kubernetes)  # not OpenShift (a 403 there: the RBAC was not applied)
            return Platform(kubernetes=kubernetes, openshift_problem=clusterversion_problem(exc))
        except Exception as exc:
            return Platform(kubernetes=kubernetes, openshift_problem=clusterversion_problem(exc))
        version = openshift_version(cv)
        if version is None:
            return Platform(kubernetes=kubernetes, openshift_problem="ClusterVersion 'version' reports no version")
        return Platform(kubernetes=kubernetes, openshift=version)

    async def _serves_openshift_config(self, timeout: aiohttp.ClientTimeout) -> bool:
        """Whether the API server serves config.openshift.io (discovery is open to every authenticated user)."""
        try:
            await self.call("GET", "/apis/config.openshift.io", timeout=timeout)
        except ApiHttpError as exc:
            if exc.status == 404:
                return False
            raise
        return True


class KubeClient:
    """:class:`KubeApi` (blocking, for threads) over :class:`KubeRequests` on the event loop it was made on.

    Made on the operator's event loop (in a coroutine); its blocking calls wait for their request there, so
    that every request shares the loop's one session. Calling one on the loop itself would wait for
    ever: that raises instead. ``requests`` is the asynchronous interface, for code on the loop.
    """

    def __init__(
        self, requests: KubeRequests | None = None, *, user_agent: str = COMPONENT, retire_after: float = 600.0
    ) -> None:
        """``retire_after``: how long requests may go on over the session of the credentials before a login
        (at least the longest request's timeout: the watches' client timeout)."""
        self.loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.requests = requests or KubeRequests(
            ApiSession(lambda: Connection.from_info(login(), user_agent), retire_after)
        )

    @property
    def session(self) -> ApiSession:
        return self.requests.api

    async def close(self) -> None:
        await self.requests.api.close()

    def wait(self, request: Coroutine[Any, Any, T]) -> T:
        """Run ``request`` on the loop and wait for its result (from another thread)."""
        if threading.get_ident() == self._loop_thread:
            request.close()
            raise RuntimeError("a blocking KubeClient call on the event loop: call it in a thread, or await requests")
        future = asyncio.run_coroutine_threadsafe(request, self.loop)
        try:
            return future.result(WAIT_LIMIT)
        except TimeoutError:
            future.cancel()  # the request does not outlive the call that waited for it
            raise

    def replace_status(self, plural: str, namespace: str | None, name: str, status: dict[str, Any]) -> bool:
        return self.wait(self.requests.replace_status(plural, namespace, name, status))

    def emit_event(
        self, *, namespace: str, name: str, uid: str, kind: str, reason: str, message: str, warning: bool
    ) -> None:
        self.wait(
            self.requests.emit_event(
                namespace=namespace, name=name, uid=uid, kind=kind, reason=reason, message=message, warning=warning
            )
        )

    def apply_webhook_configuration(self, body: dict[str, Any]) -> None:
        self.wait(self.requests.apply_webhook_configuration(body))

    def delete_webhook_configuration(self, name: str) -> None:
        self.wait(self.requests.delete_webhook_configuration(name))

    def count(self, group: str, version: str, plural: str, namespace: str | None = None) -> int | None:
        return self.wait(self.requests.count(group, version, plural, namespace))

    def list_keys(
        self, group: str, version: str, plural: str, namespace: str | None = None
    ) -> set[tuple[str, str]] | None:
        return self.wait(self.requests.list_keys(group, version, plural, namespace))

    def workload_status(self, namespace: str, kind: str, name: str) -> tuple[dict[str, Any], Any] | None:
        return self.wait(self.requests.workload_status(namespace, kind, name))

    def events_about(self, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
        return self.wait(self.requests.events_about(namespace, kind, name))

    def platform(self) -> Platform:
        return self.wait(self.requests.platform())

    # ------------- the Lease, the matrix store, the webhook certificate's Secret (their own paths and bodies)

    def read(self, path: str, timeout: aiohttp.ClientTimeout = TIMEOUT) -> dict[str, Any] | None:
        """GET one object; None if it does not exist."""
        return self.wait(self.requests.read(path, timeout=timeout))

    def request(
        self, method: str, path: str, *, body: Any = None, timeout: aiohttp.ClientTimeout = TIMEOUT
    ) -> dict[str, Any]:
        """One request on a raw API path (GET, or POST/PUT of a whole object); the server's answer. Raises
        :class:`~.errors.ApiHttpError` on an HTTP error status."""
        return self.wait(self.requests.call(method, path, body=body, timeout=timeout))

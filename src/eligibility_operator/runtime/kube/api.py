"""The few Kubernetes API calls the operator makes itself (Kopf does the watching).

:class:`KubeApi` is what the runtime depends on; :class:`KubeClient` implements it with
synchronous ``kubernetes`` client calls, which the runtime runs in threads (the tests have
an in-memory fake). Writes go only to the operator's own resources: engagement and
matrix status, Events about engagements, and (local control plane) the webhook's
configuration.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any, Protocol

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from ...api.models import GROUP, VERSION
from ...core.base.status_wire import rfc3339
from ...core.compat.platforms import openshift_version_of
from ...core.verdict.evaluation import Platform

log = logging.getLogger(__name__)
COMPONENT = "eligibility-operator"
# (connect, read) seconds. The client waits forever by default: a frozen API server would stall the
# reconciler; with a timeout the call fails and is retried.
TIMEOUT = (5, 15)
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
    if isinstance(exc, ApiException):
        message = ""
        try:
            message = json.loads(exc.body or "{}").get("message", "")
        except (ValueError, AttributeError):
            message = str(exc.body or "")
        return f"HTTP {exc.status} {exc.reason}: {message[:300]}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


openshift_version = openshift_version_of  # one reader for the cluster's and check's ClusterVersion


def clusterversion_problem(exc: BaseException) -> str:
    """What status.platform says when the OpenShift ClusterVersion cannot be read."""
    hint = ""
    if isinstance(exc, ApiException) and exc.status == 403:
        hint = " (grant get on clusterversions.config.openshift.io named 'version', as deploy/base/rbac.yaml does)"
    return f"OpenShift version unreadable: ClusterVersion 'version': {describe_error(exc)}{hint}"


class KubeApi(Protocol):
    """The operator's own API calls; each is blocking and may raise (the caller retries)."""

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


class KubeClient:
    """:class:`KubeApi` over the ``kubernetes`` client (in-cluster config, else $KUBECONFIG).

    Only its ``ApiClient`` (configuration, authentication, connection pool) is used, with raw API paths
    and plain-dict bodies: its generated API classes and models would cost about 25 MiB of memory
    (``CoreV1Api`` alone 20 MiB) for the handful of calls made here.
    """

    def __init__(self, api_client: client.ApiClient | None = None) -> None:
        if api_client is None:
            try:
                config.load_incluster_config()  # type: ignore[no-untyped-call]
            except config.ConfigException:
                config.load_kube_config()  # type: ignore[no-untyped-call]
            api_client = client.ApiClient()
        self.api = api_client

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, Any]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: Any = TIMEOUT,
    ) -> dict[str, Any]:
        """One request; the answer's JSON. Raises :class:`ApiException` on an HTTP error status."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        method, url, headers, body, _ = self.api.param_serialize(
            method, path, query_params=query, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        response = self.api.call_api(method, url, header_params=headers, body=body, _request_timeout=timeout)
        response.read()  # type: ignore[no-untyped-call]
        if response.status >= 400:
            raise ApiException(http_resp=response)
        data: dict[str, Any] = json.loads(response.data or b"{}")
        return data

    def request(self, method: str, path: str, *, body: Any = None) -> dict[str, Any]:
        """One request on a raw API path (the webhook certificate's Secret and configuration)."""
        return self._call(method, path, body=body)

    # -------------------------------------------------------------- status

    def replace_status(self, plural: str, namespace: str | None, name: str, status: dict[str, Any]) -> bool:
        """Set the whole status in one JSON patch (``add`` replaces an existing member).

        A merge patch would keep keys that the new status no longer has. Returns
        False if the object is gone.
        """
        body = [{"op": "add", "path": "/status", "value": status}]
        scope = f"/namespaces/{namespace}" if namespace else ""
        try:
            self._call(
                "PATCH",
                f"/apis/{GROUP}/{VERSION}{scope}/{plural}/{name}/status",
                body=body,
                content_type="application/json-patch+json",
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # -------------------------------------------------------------- events

    def emit_event(
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
        self._call("POST", f"/api/v1/namespaces/{namespace}/events", body=event)

    # ------------------------------------------------------------- webhook

    def apply_webhook_configuration(self, body: dict[str, Any]) -> None:
        """Create or replace a ValidatingWebhookConfiguration (local control plane only)."""
        path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
        name = body["metadata"]["name"]
        try:
            current = self._call("GET", f"{path}/{name}")
        except ApiException as exc:
            if exc.status != 404:
                raise
            self._call("POST", path, body=body)
            return
        body["metadata"]["resourceVersion"] = (current.get("metadata") or {}).get("resourceVersion")
        self._call("PUT", f"{path}/{name}", body=body)

    def delete_webhook_configuration(self, name: str) -> None:
        try:
            self._call("DELETE", f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{name}")
        except ApiException as exc:
            if exc.status != 404:
                raise

    # ---------------------------------------------------------------- lists

    def count(self, group: str, version: str, plural: str, namespace: str | None = None) -> int | None:
        """How many objects of a resource exist (in ``namespace``); None if the resource is not served.

        One LIST with ``limit=1`` as plain JSON: the server says how many items remain (a metadata-only
        list, ``PartialObjectMetadataList``, does not carry ``remainingItemCount`` on Kubernetes 1.20).
        Where the server omits it anyway (a label selector, an old server), counts a metadata-only
        listing: the operator counts only its own resources and namespaces that way (the workloads'
        watches list those themselves, see ``priming.SeenObjects.delegate``).
        """
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        path = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
        data = self._get_json(path, [("limit", 1)])
        if data is None:
            return None
        meta = data.get("metadata") or {}
        items = len(data.get("items") or [])
        if not meta.get("continue"):
            return items
        if meta.get("remainingItemCount") is not None:
            return items + int(meta["remainingItemCount"])
        return len(self.list_keys(group, version, plural, namespace) or ())

    def list_keys(
        self, group: str, version: str, plural: str, namespace: str | None = None
    ) -> set[tuple[str, str]] | None:
        """(namespace, name) of every object of a resource (in ``namespace``), metadata only and paginated;
        None if not served."""
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        path = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
        keys: set[tuple[str, str]] = set()
        token = ""
        while True:
            data = self._get(path, [("limit", 500)] + ([("continue", token)] if token else []))
            if data is None:
                return None
            for item in data.get("items") or []:
                meta = item.get("metadata") or {}
                keys.add((meta.get("namespace") or "", meta.get("name") or ""))
            token = (data.get("metadata") or {}).get("continue") or ""
            if not token:
                return keys

    def _get(
        self, path: str, query: list[tuple[str, Any]], accept: str = PARTIAL_METADATA, timeout: Any = (5, 60)
    ) -> dict[str, Any] | None:
        """GET a list (as partial object metadata unless ``accept`` says otherwise); None on 404."""
        method, url, headers, _, _ = self.api.param_serialize(
            "GET", path, query_params=query, header_params={"Accept": accept}, auth_settings=["BearerToken"]
        )
        response = self.api.call_api(method, url, header_params=headers, _request_timeout=timeout)
        response.read()  # type: ignore[no-untyped-call]
        if response.status == 404:
            return None
        if response.status >= 400:
            raise ApiException(status=response.status, reason=response.reason)
        data: dict[str, Any] = json.loads(response.data or b"{}")
        return data

    # ----------------------------------------------- SupportRequest diagnostics

    def _get_json(self, path: str, query: list[tuple[str, Any]]) -> dict[str, Any] | None:
        """GET a list as JSON; None on 404 (resource not served)."""
        return self._get(path, query, accept="application/json", timeout=TIMEOUT)

    def workload_status(self, namespace: str, kind: str, name: str) -> tuple[dict[str, Any], Any] | None:
        """One LIST by name (the operator may list workloads, not get them); only ``status`` and
        ``spec.replicas`` leave this method: never the pod template and its environment values."""
        resource = WORKLOAD_PATHS.get(kind)
        if resource is None:
            return None
        data = self._get_json(
            f"{resource}/namespaces/{namespace}/{WORKLOAD_PLURALS[kind]}",
            [("fieldSelector", f"metadata.name={name}"), ("limit", 1)],
        )
        items = (data or {}).get("items") or []
        if not items:
            return None
        item = items[0]
        status = item.get("status") if isinstance(item.get("status"), dict) else {}
        return dict(status or {}), (item.get("spec") or {}).get("replicas")

    def events_about(self, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
        data = self._get_json(
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

    def platform(self) -> Platform:
        """Kubernetes version from /version; OpenShift version from ClusterVersion ``version``."""
        kubernetes = str(self._call("GET", "/version").get("gitVersion") or "")
        try:
            cv = self._call("GET", "/apis/config.openshift.io/v1/clusterversions/version")
        except ApiException as exc:
            if exc.status == 404 or (exc.status == 403 and not self._serves_openshift_config()):
                return Platform(kubernetes=kubernetes)  # not OpenShift (a 403 there: the RBAC was not applied)
            return Platform(kubernetes=kubernetes, openshift_problem=clusterversion_problem(exc))
        except Exception as exc:
            return Platform(kubernetes=kubernetes, openshift_problem=clusterversion_problem(exc))
        version = openshift_version(cv)
        if version is None:
            return Platform(kubernetes=kubernetes, openshift_problem="ClusterVersion 'version' reports no version")
        return Platform(kubernetes=kubernetes, openshift=version)

    def _serves_openshift_config(self) -> bool:
        """Whether the API server serves config.openshift.io (discovery is open to every authenticated user)."""
        try:
            self._call("GET", "/apis/config.openshift.io")
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

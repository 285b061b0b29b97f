"""The leader-election Lease (``coordination.k8s.io/v1``) as a record, and the store that reads and writes
it with optimistic concurrency: every update carries the resourceVersion it read."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ApiHttpError

if TYPE_CHECKING:
    from .api import KubeClient

LEASE_NAME = "eligibility-operator"
MICROTIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # the API server parses MicroTime with exactly six digits


class LeaseConflict(Exception):
    """Someone else changed or created the Lease since we read it."""


@dataclass(frozen=True)
class LeaseRecord:
    """What a Lease says (its spec), and the resourceVersion it was read at."""

    holder: str = ""
    duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    transitions: int = 0
    resource_version: str | None = None

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.duration_seconds,
            "leaseTransitions": self.transitions,
        }
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        return spec

    @classmethod
    def from_lease(cls, lease: dict[str, Any]) -> LeaseRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            transitions=int(spec.get("leaseTransitions") or 0),
            resource_version=(lease.get("metadata") or {}).get("resourceVersion"),
        )

    def same_as(self, other: LeaseRecord | None) -> bool:
        """The same state of the Lease (a renewal changes ``renew_time`` and the resourceVersion)."""
        return other is not None and (self.holder, self.renew_time, self.resource_version) == (
            other.holder,
            other.renew_time,
            other.resource_version,
        )


class LeaseStore(Protocol):
    """Reads and writes one Lease. Blocking; the elector calls it in a thread."""

    def get(self) -> LeaseRecord | None:
        """The Lease, or None when it does not exist."""

    def create(self, record: LeaseRecord) -> LeaseRecord:
        """Create the Lease; LeaseConflict if it exists already."""

    def update(self, record: LeaseRecord) -> LeaseRecord:
        """Replace the Lease's spec at ``record.resource_version``; LeaseConflict if it changed since."""


class KubeLeaseStore:
    """A Lease on the API server, through the operator's :class:`~.api.KubeClient` (its one session), with
    short request timeouts."""

    def __init__(self, kube: KubeClient, namespace: str, name: str = LEASE_NAME, timeout: float = 5.0) -> None:
        self.kube = kube
        self.namespace, self.name = namespace, name
        import aiohttp  # here: the command line imports this module, and the webhook's parser process with it

        self.timeout = aiohttp.ClientTimeout(connect=min(timeout, 3.0), sock_read=timeout)
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"

    def _body(self, record: LeaseRecord) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if record.resource_version:
            meta["resourceVersion"] = record.resource_version
        meta["labels"] = {"app.kubernetes.io/name": "eligibility-operator"}
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": record.spec()}

    def get(self) -> LeaseRecord | None:
        lease = self.kube.read(f"{self.path}/{self.name}", self.timeout)
        return None if lease is None else LeaseRecord.from_lease(lease)

    def create(self, record: LeaseRecord) -> LeaseRecord:
        try:
            lease = self.kube.request(
                "POST", self.path, body=self._body(replace(record, resource_version=None)), timeout=self.timeout
            )
        except ApiHttpError as exc:
            if exc.status == 409:
                raise LeaseConflict(f"Lease {self.namespace}/{self.name} exists already") from exc
            if exc.status == 404:
                raise RuntimeError(
                    f"namespace {self.namespace} does not exist: create it, or choose the Lease's namespace "
                    "with --leader-election-namespace"
                ) from exc
            raise
        return LeaseRecord.from_lease(lease)

    def update(self, record: LeaseRecord) -> LeaseRecord:
        try:
            lease = self.kube.request("PUT", f"{self.path}/{self.name}", body=self._body(record), timeout=self.timeout)
        except ApiHttpError as exc:
            if exc.status in (404, 409):
                raise LeaseConflict(f"Lease {self.namespace}/{self.name} changed since it was read") from exc
            raise
        return LeaseRecord.from_lease(lease)


def default_identity() -> str:
    """The pod's name when it is known (the Downward API sets $POD_NAME), else the host name; plus a
    random suffix, so that a restarted process never mistakes its predecessor's Lease for its own."""
    base = os.environ.get("POD_NAME") or socket.gethostname() or "eligibility-operator"
    return f"{base}_{uuid.uuid4().hex[:8]}"


def now_text(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime(MICROTIME)

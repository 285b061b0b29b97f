"""The last good copy of every fetched matrix, kept in the cluster: one ConfigMap in the operator's
namespace (``eligibility-operator-matrices``), so that a restart or a failover with the source down still
evaluates with it.

Per matrix NAME it holds ``NAME.yaml.gz`` (the document, gzip), ``NAME.sig`` (its signature, if any) and
``NAME.json`` (revision, URL, fetch and change times). A copy read back is verified again against the
matrix's spec.source before it is used, so a ConfigMap edited by hand cannot inject a matrix. Only the
leader writes (fenced by ``may_write``); every replica reads.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..leadership import Leadership, NotLeading

if TYPE_CHECKING:
    from ..kube.api import KubeClient

CONFIGMAP = "eligibility-operator-matrices"
MAX_STORED_BYTES = 900 * 1024  # a ConfigMap holds at most 1 MiB


@dataclass(frozen=True)
class StoredCopy:
    document: bytes
    signature: bytes | None
    revision: str
    url: str
    fetched: str  # RFC 3339
    changed: str


class MatrixStore(Protocol):
    def load(self) -> dict[str, StoredCopy]: ...

    def save(self, name: str, copy: StoredCopy) -> None: ...

    def remove(self, name: str) -> None: ...


def encode(name: str, copy: StoredCopy) -> dict[str, dict[str, str]]:
    binary = {f"{name}.yaml.gz": base64.b64encode(gzip.compress(copy.document, mtime=0)).decode()}
    if copy.signature is not None:
        binary[f"{name}.sig"] = base64.b64encode(copy.signature).decode()
    meta = {"revision": copy.revision, "url": copy.url, "fetched": copy.fetched, "changed": copy.changed}
    return {"binaryData": binary, "data": {f"{name}.json": json.dumps(meta, sort_keys=True)}}


def _keys(name: str) -> set[str]:
    return {f"{name}.yaml.gz", f"{name}.sig", f"{name}.json"}


def decode(data: dict[str, str], binary: dict[str, str]) -> dict[str, StoredCopy]:
    """Every complete entry; a damaged one is left out (it is fetched again)."""
    out: dict[str, StoredCopy] = {}
    for key, text in data.items():
        if not key.endswith(".json"):
            continue
        name = key[: -len(".json")]
        try:
            meta = json.loads(text)
            document = gzip.decompress(base64.b64decode(binary[f"{name}.yaml.gz"]))
            sig = binary.get(f"{name}.sig")
            out[name] = StoredCopy(
                document,
                base64.b64decode(sig) if sig else None,
                str(meta["revision"]),
                str(meta["url"]),
                str(meta["fetched"]),
                str(meta["changed"]),
            )
        except (ValueError, KeyError, TypeError, OSError, EOFError):
            continue
    return out


class ConfigMapStore:
    """The ConfigMap through the operator's :class:`~..kube.api.KubeClient` (its one session; blocking:
    called in a thread), on raw API paths with plain dicts: the generated ``CoreV1Api`` would cost 20 MiB
    of memory for these three calls (docs/performance.md, "Memory")."""

    def __init__(self, kube: KubeClient, namespace: str, leadership: Leadership) -> None:
        self.kube = kube
        self.namespace = namespace
        self.leadership = leadership
        self.path = f"/api/v1/namespaces/{namespace}/configmaps"

    def _read(self) -> dict[str, Any] | None:
        return self.kube.read(f"{self.path}/{CONFIGMAP}")

    def _replace(self, current: dict[str, Any], data: dict[str, str], binary: dict[str, str]) -> None:
        """Write back ``current`` (its resourceVersion: a conflict raises) with these entries."""
        body = {**current, "data": data, "binaryData": binary}
        self.kube.request("PUT", f"{self.path}/{CONFIGMAP}", body=body)

    def load(self) -> dict[str, StoredCopy]:
        current = self._read()
        if current is None:
            return {}
        return decode(dict(current.get("data") or {}), dict(current.get("binaryData") or {}))

    def save(self, name: str, copy: StoredCopy) -> None:
        """Replace NAME's entry (optimistic concurrency: a conflict raises, the caller tries again)."""
        body = encode(name, copy)
        if sum(len(v) for part in body.values() for v in part.values()) > MAX_STORED_BYTES:
            raise ValueError(f"the compressed document of {name} is too large to keep in a ConfigMap")
        if not self.leadership.may_write():
            raise NotLeading(f"{self.leadership.identity} is not the leader: ConfigMap {CONFIGMAP} not written")
        current = self._read()
        if current is None:
            fresh = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": CONFIGMAP,
                    "namespace": self.namespace,
                    "labels": {"app.kubernetes.io/name": "eligibility-operator"},
                },
                "data": body["data"],
                "binaryData": body["binaryData"],
            }
            self.kube.request("POST", self.path, body=fresh)
            return
        data = {k: v for k, v in (current.get("data") or {}).items() if k not in _keys(name)}
        binary = {k: v for k, v in (current.get("binaryData") or {}).items() if k not in _keys(name)}
        self._replace(current, {**data, **body["data"]}, {**binary, **body["binaryData"]})

    def remove(self, name: str) -> None:
        """Drop NAME's entry (its matrix was deleted); nothing to do when there is none."""
        if not self.leadership.may_write():
            raise NotLeading(f"{self.leadership.identity} is not the leader: ConfigMap {CONFIGMAP} not written")
        current = self._read()
        if current is None:
            return
        data, binary = current.get("data") or {}, current.get("binaryData") or {}
        if not _keys(name) & {*data, *binary}:
            return
        self._replace(
            current,
            {k: v for k, v in data.items() if k not in _keys(name)},
            {k: v for k, v in binary.items() if k not in _keys(name)},
        )


class MemoryStore:
    """For the fast tests: the same encoding, in memory."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.binary: dict[str, str] = {}

    def load(self) -> dict[str, StoredCopy]:
        return decode(self.data, self.binary)

    def save(self, name: str, copy: StoredCopy) -> None:
        body = encode(name, copy)
        self.data = {k: v for k, v in self.data.items() if k not in _keys(name)} | body["data"]
        self.binary = {k: v for k, v in self.binary.items() if k not in _keys(name)} | body["binaryData"]

    def remove(self, name: str) -> None:
        self.data = {k: v for k, v in self.data.items() if k not in _keys(name)}
        self.binary = {k: v for k, v in self.binary.items() if k not in _keys(name)}

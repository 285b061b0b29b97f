"""Decoding the API server's JSON for the workload watches, keeping only what detection reads.

Deployments, StatefulSets and DaemonSets are decoded into typed ``msgspec`` structs that hold the
fields :func:`~.core.workloads.facts_from_object` reads (names, labels, the two override
annotations, container images) and the resource version; everything else of the object (the pod
spec's environment, ports, resources, status, other annotations) is skipped by the decoder without
building Python objects: a page of 500 Deployments decodes in a few milliseconds instead of 50.
Their schema is enforced by the API server, so the types hold; should a page not fit them anyway,
it is decoded generically. Other watched kinds (ClusterServiceVersions, HelmReleases, Argo CD
Applications, OLM Subscriptions and InstallPlans) have free-form parts that their readers walk,
and are decoded generically (still by ``msgspec``, which is faster than :mod:`json`).

The facts themselves are made by the same functions as for every other input
(``facts_from_object`` over a small dict of the decoded fields, ``facts_of``), so the two paths
cannot disagree; ``tests/unit/test_wire.py`` holds them to that.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import msgspec

from ...core.products.objects import facts_of
from ...core.products.workloads import (
    PRODUCT_ANNOTATION,
    VERSION_ANNOTATION,
    WORKLOAD_KINDS,
    WorkloadFacts,
    facts_from_object,
)


class _Overrides(msgspec.Struct, omit_defaults=True):
    """The two annotations detection reads; every other annotation (e.g. kubectl's last-applied
    configuration, a full copy of the object) is skipped while decoding."""

    product: str | None = msgspec.field(default=None, name=PRODUCT_ANNOTATION)
    version: str | None = msgspec.field(default=None, name=VERSION_ANNOTATION)


class _Meta(msgspec.Struct, omit_defaults=True):
    name: str | None = None
    namespace: str | None = None
    resourceVersion: str | None = None
    labels: dict[str, str] | None = None
    annotations: _Overrides | None = None


class _Container(msgspec.Struct, omit_defaults=True):
    image: str | None = None


class _PodSpec(msgspec.Struct, omit_defaults=True):
    initContainers: list[_Container] | None = None
    containers: list[_Container] | None = None


class _PodMeta(msgspec.Struct, omit_defaults=True):
    labels: dict[str, str] | None = None
    annotations: _Overrides | None = None


class _Template(msgspec.Struct, omit_defaults=True):
    metadata: _PodMeta | None = None
    spec: _PodSpec | None = None


class _Spec(msgspec.Struct, omit_defaults=True):
    template: _Template | None = None


class _Workload(msgspec.Struct, omit_defaults=True):
    """A Deployment, StatefulSet or DaemonSet as far as detection reads it; also fits a watch's
    ERROR ``Status`` (``code``) and a BOOKMARK (only ``metadata.resourceVersion``)."""

    metadata: _Meta | None = None
    spec: _Spec | None = None
    code: int | None = None


class _ListMeta(msgspec.Struct):
    resourceVersion: str = ""
    continue_: str = msgspec.field(default="", name="continue")


class _WorkloadList(msgspec.Struct):
    metadata: _ListMeta = msgspec.field(default_factory=_ListMeta)
    items: list[_Workload] | None = None


class _WorkloadEvent(msgspec.Struct):
    type: str
    object: _Workload


class _AnyObject(msgspec.Struct):
    """Any other kind: kept whole (its reader walks free-form parts); only the metadata is typed."""

    metadata: dict[str, Any] | None = None
    code: int | None = None


class _AnyList(msgspec.Struct):
    metadata: _ListMeta = msgspec.field(default_factory=_ListMeta)
    items: list[dict[str, Any]] | None = None


class _AnyEvent(msgspec.Struct):
    type: str
    object: dict[str, Any]


_TYPED_LIST = msgspec.json.Decoder(_WorkloadList)
_TYPED_EVENT = msgspec.json.Decoder(_WorkloadEvent)
_ANY_LIST = msgspec.json.Decoder(_AnyList)
_ANY_EVENT = msgspec.json.Decoder(_AnyEvent)
_intern = sys.intern


@dataclass(frozen=True, slots=True)
class Item:
    """One decoded object: its identity, resource version and facts (None: nothing to detect)."""

    namespace: str
    name: str
    resource_version: str
    facts: WorkloadFacts | None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Item]
    resource_version: str
    continue_token: str


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    item: Item
    code: int | None = None  # ERROR events: the Status code (410: resource version too old)


def _typed_item(kind: str, obj: _Workload) -> Item:
    meta = obj.metadata or _Meta()
    body = msgspec.to_builtins(obj)
    body["kind"] = kind
    return Item(_intern(meta.namespace or ""), meta.name or "", meta.resourceVersion or "", facts_from_object(body))


def _any_item(api_version: str, kind: str, obj: dict[str, Any]) -> Item:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    obj.setdefault("apiVersion", api_version)  # list items carry neither
    obj.setdefault("kind", kind)
    facts = facts_of(obj)
    return Item(
        _intern(str(meta.get("namespace") or "")),
        str(meta.get("name") or ""),
        str(meta.get("resourceVersion") or ""),
        facts,
    )


class Decoder:
    """Decodes LIST pages and WATCH lines of one resource (``api_version``: ``apps/v1``; ``kind``)."""

    def __init__(self, api_version: str, kind: str) -> None:
        self.api_version = api_version
        self.kind = kind
        self.typed = kind in WORKLOAD_KINDS

    def page(self, data: bytes) -> Page:
        if self.typed:
            try:
                typed = _TYPED_LIST.decode(data)
            except msgspec.ValidationError:
                pass  # not the shape the API server guarantees: read it generically
            else:
                return Page(
                    [_typed_item(self.kind, obj) for obj in typed.items or ()],
                    typed.metadata.resourceVersion,
                    typed.metadata.continue_,
                )
        generic = _ANY_LIST.decode(data)
        items = [_any_item(self.api_version, self.kind, obj) for obj in generic.items or () if isinstance(obj, dict)]
        return Page(items, generic.metadata.resourceVersion, generic.metadata.continue_)

    def event(self, line: bytes) -> Event:
        if self.typed:
            try:
                typed = _TYPED_EVENT.decode(line)
            except msgspec.ValidationError:
                pass
            else:
                return Event(typed.type, _typed_item(self.kind, typed.object), typed.object.code)
        generic = _ANY_EVENT.decode(line)
        code = generic.object.get("code")
        return Event(
            generic.type,
            _any_item(self.api_version, self.kind, generic.object),
            code if isinstance(code, int) else None,
        )


def lines(buffer: bytearray) -> list[bytes]:
    """Complete lines taken from the front of ``buffer`` (the rest stays for the next chunk)."""
    found = []
    start = 0
    while (end := buffer.find(b"\n", start)) >= 0:
        if end > start:
            found.append(bytes(buffer[start:end]))
        start = end + 1
    del buffer[:start]
    return found

"""Decoding the API server's JSON for the workload watches, keeping only what detection reads.

Deployments, StatefulSets and DaemonSets are decoded into typed ``msgspec`` structs made from
:data:`~.core.workloads.READ_FIELDS`, the one declaration of the fields
:func:`~.core.workloads.facts_from_object` reads (names, labels, the two override annotations,
container images), plus the resource version; everything else of the object (the pod
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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from ...core.products.objects import facts_of
from ...core.products.workloads import READ_FIELDS, WORKLOAD_KINDS, WorkloadFacts, facts_from_object


def _typed(name: str, shape: Any) -> Any:
    """The msgspec type of one part of :data:`~.core.workloads.READ_FIELDS`: a struct per object (fields the
    declaration does not name are skipped by the decoder), a list, or the declared value type."""
    if isinstance(shape, Mapping):
        return _struct(name, shape)
    if isinstance(shape, list):
        return list[_typed(name, shape[0])]  # type: ignore[misc]
    return shape


def _struct(name: str, shape: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> type[msgspec.Struct]:
    members = {**shape, **(extra or {})}
    fields = [(f"f{i}", _typed(f"{name}_{i}", inner) | None, None) for i, inner in enumerate(members.values())]
    rename = {f"f{i}": key for i, key in enumerate(members)}
    return msgspec.defstruct(name, fields, rename=rename, omit_defaults=True)


# A Deployment, StatefulSet or DaemonSet as far as detection reads it (its kind is known from the request),
# plus the resource version; also fits a watch's ERROR ``Status`` (``code``) and a BOOKMARK (only
# ``metadata.resourceVersion``).
_READ = {key: inner for key, inner in READ_FIELDS.items() if key != "kind"}
_READ["metadata"] = {**_READ["metadata"], "resourceVersion": str}
_Workload = _struct("Workload", _READ, {"code": int})


class _ListMeta(msgspec.Struct):
    resourceVersion: str = ""
    continue_: str = msgspec.field(default="", name="continue")


_WorkloadList = msgspec.defstruct(
    "WorkloadList",
    [("metadata", _ListMeta, msgspec.field(default_factory=_ListMeta)), ("items", list[_Workload] | None, None)],  # type: ignore[valid-type]
)
_WorkloadEvent = msgspec.defstruct("WorkloadEvent", [("type", str), ("object", _Workload)])


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


_TYPED_LIST: msgspec.json.Decoder[Any] = msgspec.json.Decoder(_WorkloadList)
_TYPED_EVENT: msgspec.json.Decoder[Any] = msgspec.json.Decoder(_WorkloadEvent)
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


def _typed_item(kind: str, body: dict[str, Any]) -> Item:
    """One typed object, as the builtins of its struct (the fields of READ_FIELDS that it has)."""
    body["kind"] = kind
    meta = body.get("metadata") or {}
    return Item(
        _intern(meta.get("namespace") or ""), meta.get("name") or "", meta.get("resourceVersion") or "",
        facts_from_object(body),
    )  # fmt: skip


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
                    [_typed_item(self.kind, obj) for obj in msgspec.to_builtins(typed.items or ())],
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
                body = msgspec.to_builtins(typed.object)
                return Event(typed.type, _typed_item(self.kind, body), body.get("code"))
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

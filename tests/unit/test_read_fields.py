"""What the operator reads of a workload is declared once (``core.workloads.READ_FIELDS``).

``facts_from_object`` is run over objects that record every field it reads: it must read the declared
fields, all of them, and nothing else. ``essentials`` (the webhook) and the watches' typed decoder
(``runtime/kube/wire.py``) are made from the declaration, and the tests here check that they carry each
declared field, so a field read by ``check`` is read by the running operator too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec
import pytest

from eligibility_operator.core.products.workloads import READ_FIELDS, essentials, facts_from_object
from eligibility_operator.runtime.kube import wire
from eligibility_operator.runtime.kube.wire import Decoder

ITEM = "[]"  # a path step into a list's items


class Recording(Mapping[str, Any]):
    """A mapping that notes the path of every member read from it (and from what it holds)."""

    def __init__(self, data: Mapping[str, Any], path: tuple[str, ...], reads: set[tuple[str, ...]]) -> None:
        self.data, self.path, self.reads = data, path, reads

    def __getitem__(self, key: str) -> Any:
        self.reads.add((*self.path, key))  # also when absent: asked for is read
        value = self.data[key]
        return _record(value, (*self.path, key), self.reads)

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def _record(value: Any, path: tuple[str, ...], reads: set[tuple[str, ...]]) -> Any:
    if isinstance(value, Mapping):
        return Recording(value, path, reads)
    if isinstance(value, list):
        return [_record(item, (*path, ITEM), reads) for item in value]
    return value


def _declared(shape: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every declared path, with its leaf type (None for an object or a list)."""
    if isinstance(shape, Mapping):
        out: dict[tuple[str, ...], Any] = {(*path, key): None for key in shape} if path or shape else {}
        for key, inner in shape.items():
            out.update(_declared(inner, (*path, key)))
        return out
    if isinstance(shape, list):
        return _declared(shape[0], (*path, ITEM))
    return {path: shape}


def _full(kind: str, declared: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    """An object with a value at every declared path (and some fields not declared)."""
    obj: dict[str, Any] = {"apiVersion": "apps/v1", "status": {"replicas": 1}}
    for path, leaf in sorted(declared.items(), key=lambda item: len(item[0])):
        if leaf is None:
            continue
        node: Any = obj
        for step, following in zip(path, (*path[1:], None), strict=True):
            if following is None:
                node[step] = {"app": "x"} if leaf is not str else f"v-{step}"
            elif following == ITEM:
                node = node.setdefault(step, [{}])[0]
            elif step != ITEM:
                node = node.setdefault(step, {})
    obj["kind"] = kind
    obj["metadata"]["uid"] = "not-read"
    obj["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "not read"}]
    return obj


DECLARED = _declared(READ_FIELDS)


def _reads(obj: Mapping[str, Any]) -> set[tuple[str, ...]]:
    reads: set[tuple[str, ...]] = set()
    facts_from_object(Recording(obj, (), reads))
    return reads


def _inside_declared(path: tuple[str, ...]) -> bool:
    """Declared, or inside a declared label map (its members are read by iterating it)."""
    return any(path[: len(p)] == p and (p == path or leaf not in (None, str)) for p, leaf in DECLARED.items())


@pytest.mark.parametrize("kind", ["Deployment", "ClusterServiceVersion"])
def test_facts_read_only_declared_fields(kind: str) -> None:
    undeclared = {".".join(p) for p in _reads(_full(kind, DECLARED)) if not _inside_declared(p)}
    assert not undeclared, f"facts_from_object reads fields not in READ_FIELDS: {sorted(undeclared)}"


def test_every_declared_field_is_read() -> None:
    pod_overrides_only = _full("Deployment", DECLARED)
    del pod_overrides_only["metadata"]["annotations"]  # read only when the workload's own have none
    reads = _reads(_full("Deployment", DECLARED)) | _reads(_full("ClusterServiceVersion", DECLARED))
    reads |= _reads(pod_overrides_only)
    unread = {".".join(p) for p in DECLARED if p not in reads}
    assert not unread, f"READ_FIELDS declares fields that facts_from_object never reads: {sorted(unread)}"


def _leaves(obj: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    if isinstance(obj, Mapping):
        if path and DECLARED.get(path) not in (None, str):
            return {path}  # a label map: one value
        return {leaf for key, value in obj.items() for leaf in _leaves(value, (*path, key))}
    if isinstance(obj, list):
        return {leaf for item in obj for leaf in _leaves(item, (*path, ITEM))}
    return {path}


def test_essentials_carry_every_declared_field() -> None:
    want = {path for path, leaf in DECLARED.items() if leaf is not None}
    assert _leaves(essentials(_full("Deployment", DECLARED))) == want


def test_the_typed_decoder_carries_every_declared_field() -> None:
    body = _full("Deployment", DECLARED)
    decoded = msgspec.to_builtins(msgspec.json.decode(json.dumps(body), type=wire._Workload))
    want = {path for path, leaf in DECLARED.items() if leaf is not None and path != ("kind",)}
    assert _leaves(decoded) == want
    event = json.dumps({"type": "ADDED", "object": body}).encode()
    item = Decoder("apps/v1", "Deployment").event(event).item
    assert item.facts == facts_from_object(body)
    # the facts of an object holding only what the decoder keeps are the facts of the whole object
    page = json.dumps({"metadata": {}, "items": [{k: v for k, v in body.items() if k != "kind"}]}).encode()
    assert Decoder("apps/v1", "Deployment").page(page).items[0].facts == facts_from_object(body)

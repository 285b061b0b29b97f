"""The workload watches' typed decoding gives exactly the facts of the generic path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eligibility_operator.core.products.workloads import MAX_CONTAINERS, facts_from_object
from eligibility_operator.runtime.kube.wire import Decoder, lines
from tests.builders import workload


def _as_list(*objects: dict[str, Any], cont: str = "") -> bytes:
    items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in objects]  # as servers list them
    return json.dumps(
        {"kind": "DeploymentList", "metadata": {"resourceVersion": "42", "continue": cont}, "items": items}
    ).encode()


def _rich(kind: str = "Deployment") -> dict[str, Any]:
    body = workload("ns-a", "app", "ghcr.io/stakater/reloader:v1.4.21", "example.com/side:v1", kind=kind)
    body["metadata"]["resourceVersion"] = "7"
    body["metadata"]["labels"] = {f"l{i}": "x" * 600 for i in range(80)}
    body["metadata"]["annotations"] = {
        "support.stakater.com/version": "1.4.21",
        "kubectl.kubernetes.io/last-applied-configuration": "{" * 10_000,
    }
    template = body["spec"]["template"]
    template.setdefault("metadata", {})["annotations"] = {"support.stakater.com/product": "reloader"}
    template["spec"]["initContainers"] = [{"name": f"i{i}", "image": f"init:{i}"} for i in range(MAX_CONTAINERS)]
    template["spec"]["containers"][0]["env"] = [{"name": "A", "value": "b"}]
    return body


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet"])
def test_typed_page_gives_the_generic_facts(kind: str) -> None:
    plain = workload("ns-b", "plain", "stakater/forecastle:v2.0.1", kind=kind)
    page = Decoder("apps/v1", kind).page(_as_list(_rich(kind), plain, cont="next"))
    assert page.resource_version == "42" and page.continue_token == "next"
    assert [(i.namespace, i.name) for i in page.items] == [("ns-a", "app"), ("ns-b", "plain")]
    assert page.items[0].facts == facts_from_object(_rich(kind))
    assert page.items[0].facts is not None and page.items[0].facts.capped
    assert page.items[1].facts == facts_from_object(plain)
    assert page.items[0].resource_version == "7"


def test_a_page_outside_the_schema_is_read_generically() -> None:
    odd = _rich()
    odd["metadata"]["labels"] = {"a": 1}  # not a string: the typed decoder refuses, the generic one reads
    page = Decoder("apps/v1", "Deployment").page(_as_list(odd))
    assert page.items[0].facts == facts_from_object(odd)


def test_watch_events_bookmarks_and_errors() -> None:
    decoder = Decoder("apps/v1", "Deployment")
    added = decoder.event(json.dumps({"type": "ADDED", "object": _rich()}).encode())
    assert added.type == "ADDED" and added.item.facts == facts_from_object(_rich())
    bookmark = decoder.event(
        b'{"type":"BOOKMARK","object":{"kind":"Deployment","metadata":{"resourceVersion":"99"},'
        b'"spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}}}}}'
    )
    assert bookmark.item.resource_version == "99" and bookmark.item.facts is None
    gone = decoder.event(
        b'{"type":"ERROR","object":{"kind":"Status","status":"Failure","reason":"Expired","code":410}}'
    )
    assert gone.type == "ERROR" and gone.code == 410


def test_generic_kinds_keep_their_api_version_for_gitops() -> None:
    release = {
        "metadata": {"name": "rl", "namespace": "flux", "resourceVersion": "3"},
        "spec": {
            "chart": {
                "spec": {"chart": "reloader", "version": "2.1.0", "sourceRef": {"kind": "HelmRepository", "name": "s"}}
            }
        },
    }
    page = Decoder("helm.toolkit.fluxcd.io/v2", "HelmRelease").page(_as_list(release))
    facts = page.items[0].facts
    assert facts is not None and facts.kind == "HelmRelease" and facts.charts[0].chart == "reloader"


def test_lines_keeps_an_incomplete_line_for_the_next_chunk() -> None:
    buffer = bytearray(b'{"a":1}\n\n{"b":')
    assert lines(buffer) == [b'{"a":1}']
    buffer += b"2}\n"
    assert lines(buffer) == [b'{"b":2}'] and buffer == b""

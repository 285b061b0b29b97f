"""core.triage_inputs.gather: what a triage reads, gathered once for the operator and for `triage` offline,
from an inventory (tests/faults/test_faults.py's soak compares the two ends against the real API server)."""

from __future__ import annotations

import datetime as dt

from eligibility_operator.api.models import SupportEngagementSpec
from eligibility_operator.api.requests import SupportRequestSpec
from eligibility_operator.core.products.inventory import Inventory
from eligibility_operator.core.products.workloads import facts_from_object
from eligibility_operator.core.requests.inputs import EngagementView, InventorySource, gather
from eligibility_operator.core.verdict.evaluation import Platform

from ..builders import default_compiled, engagement, workload

NOW = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)


def _inventory(*bodies: dict[str, object]) -> Inventory:
    inventory = Inventory()
    for namespace in ("shop", "tools"):
        inventory.set_namespace(namespace, {})
    for body in bodies:
        facts = facts_from_object(body)
        assert facts is not None
        inventory.upsert(facts)
    inventory.set_matrix(default_compiled())
    return inventory


def _view(namespace: str, name: str, covers: list[str]) -> EngagementView:
    spec = SupportEngagementSpec.model_validate(engagement(namespace, name, covers=covers)["spec"])
    return EngagementView(namespace=namespace, name=name, spec=spec)


def _gather(request: dict[str, object], inventory: Inventory, views: list[EngagementView], **kw: object):  # type: ignore[no-untyped-def]
    def candidates(namespace: str, ref: tuple[str, str] | None) -> list[EngagementView]:
        return [v for v in views if ref is None or (v.namespace, v.name) == ref]

    spec = SupportRequestSpec.model_validate({"category": "Incident", "title": "t", **request})
    return gather(
        spec, "shop", InventorySource(inventory, candidates), platform=Platform(), opened_at=NOW, today=NOW.date(), **kw
    )


def test_workloads_are_detected_missing_ones_are_none_and_the_engagement_is_resolved() -> None:
    inventory = _inventory(workload("shop", "reloader", "stakater/reloader:v1.4.21"))
    inputs = _gather(
        {"workloads": ["shop/Deployment/reloader", "shop/Deployment/gone"]},
        inventory,
        [_view("ops", "other", ["tools"]), _view("shop", "contract", ["shop"])],
    )
    assert inputs.engagement is not None and inputs.engagement.ref == "shop/contract"
    assert inputs.engagement_problem is None
    found = inputs.workloads["shop/Deployment/reloader"]
    assert found is not None and [(d.product, str(d.version)) for d in found] == [("reloader", "1.4.21")]
    assert inputs.workloads["shop/Deployment/gone"] is None
    assert inputs.matrix is not None and inputs.namespace_labels == {"shop": {}}


def test_a_named_engagement_that_does_not_exist_is_the_problem_named() -> None:
    inputs = _gather({"engagementRef": {"name": "nope"}}, _inventory(), [_view("shop", "contract", ["shop"])])
    assert inputs.engagement is None and inputs.engagement_problem is not None
    assert "SupportEngagement shop/nope not found" in inputs.engagement_problem


def test_a_product_only_request_lists_each_version_installed_in_covered_namespaces() -> None:
    inventory = _inventory(
        workload("shop", "a", "stakater/reloader:v1.4.21"),
        workload("shop", "b", "stakater/reloader:v1.2.0"),
        workload("tools", "c", "stakater/reloader:v1.1.0"),  # not covered
    )
    inputs = _gather({"product": "reloader"}, inventory, [_view("shop", "contract", ["shop"])])
    assert [(ref, str(d.version)) for ref, d in inputs.product_found] == [
        ("shop/Deployment/b", "1.2.0"),
        ("shop/Deployment/a", "1.4.21"),
    ]


def test_a_given_engagement_is_used_as_is() -> None:
    given = _view("ops", "told", ["tools"])  # does not cover the request's namespace
    inputs = _gather({}, _inventory(), [], given=given)
    assert inputs.engagement is given and inputs.engagement_problem is None

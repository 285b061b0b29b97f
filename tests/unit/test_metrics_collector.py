"""The metrics collector reads the operator's state at scrape time: series follow the state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from eligibility_operator.core.products.workloads import facts_from_object
from eligibility_operator.core.verdict.engagements import record_from_body
from eligibility_operator.core.verdict.evaluation import Platform
from eligibility_operator.runtime.metrics import OperatorMetrics, build_registry
from eligibility_operator.runtime.state import OperatorState

from ..builders import engagement, workload

P = "stakater_support"


def samples(state: OperatorState, metrics: OperatorMetrics | None = None) -> dict[tuple[str, tuple[Any, ...]], float]:
    registry = build_registry(metrics or OperatorMetrics(), state)
    out = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def with_status(namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
    body = engagement(namespace, name, plan="Premium")
    body["metadata"]["uid"] = f"uid-{name}"
    body["status"] = status
    return body


def status(eligibility: str, end_of_support: str | None = None) -> dict[str, Any]:
    product: dict[str, Any] = {"product": "reloader", "version": "1.2", "lifecycle": "Deprecated", "workloadCount": 3}
    if end_of_support:
        product["endOfSupport"] = end_of_support
    return {
        "eligibility": eligibility,
        "conditions": [{"type": "Ready", "status": "True"}, {"type": "Eligible", "status": "False"}],
        "productsOutOfSupport": 1,
        "products": [product],
        "serviceCredits": {"applicable": False},
        "platform": {"compatible": True},
        "responsibilities": [{"item": "Maintaining supported versions", "owner": "Customer"}],
    }


def key(namespace: str, name: str, **extra: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"namespace": namespace, "engagement": name, **extra}.items()))


def test_engagement_series_come_from_the_written_status_and_go_with_the_engagement() -> None:
    state = OperatorState()
    record = record_from_body(with_status("shop", "acme", status("Limited", "2030-01-01")))
    state.engagements[record.key] = record
    found = samples(state)
    labels = key("shop", "acme")
    assert found[(f"{P}_engagement_eligible", labels)] == 0.0
    assert found[(f"{P}_engagement_eligibility", tuple(sorted((*labels, ("eligibility", "Limited")))))] == 1.0
    assert found[(f"{P}_engagement_eligibility", tuple(sorted((*labels, ("eligibility", "Eligible")))))] == 0.0
    assert found[(f"{P}_engagement_ready", key("shop", "acme"))] == 1.0
    assert found[(f"{P}_engagement_products_out_of_support", key("shop", "acme"))] == 1.0
    assert found[(f"{P}_engagement_platform_compatible", key("shop", "acme"))] == 1.0
    product = {"product": "reloader", "edition": "", "version": "1.2"}
    workloads = key("shop", "acme", **product, lifecycle="Deprecated", eligibility="", action_owner="")
    assert found[(f"{P}_product_workloads", workloads)] == 3.0
    left = found[(f"{P}_product_time_to_end_of_support_seconds", key("shop", "acme", **product))]
    expected = (dt.datetime(2030, 1, 2, tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)).total_seconds()
    assert abs(left - expected) < 60
    owner = key("shop", "acme", responsibility="Maintaining supported versions", owner="Customer")
    assert found[(f"{P}_responsibility_owner", owner)] == 1.0
    assert found[(f"{P}_engagements", ())] == 1.0

    del state.engagements[record.key]
    assert not [k for k in samples(state) if dict(k[1]).get("engagement") == "acme"]
    assert samples(state)[(f"{P}_engagements", ())] == 0.0


def test_an_engagement_without_status_is_unknown_and_not_ready() -> None:
    state = OperatorState()
    body = engagement("shop", "fresh")
    body["metadata"]["uid"] = "u"
    record = record_from_body(body)
    state.engagements[record.key] = record
    found = samples(state)
    labels = key("shop", "fresh")
    assert found[(f"{P}_engagement_eligibility", tuple(sorted((*labels, ("eligibility", "Unknown")))))] == 1.0
    assert found[(f"{P}_engagement_ready", key("shop", "fresh"))] == 0.0
    assert (f"{P}_engagement_platform_compatible", key("shop", "fresh")) not in found


def test_inventory_platform_and_last_evaluation_follow_the_state() -> None:
    state = OperatorState()
    found = samples(state)
    assert found[(f"{P}_inventory_workloads", ())] == 0.0
    assert not [k for k in found if k[0] == f"{P}_platform_info"]
    assert not [k for k in found if k[0] == f"{P}_last_evaluation_timestamp_seconds"]
    facts = facts_from_object(workload("shop", "web", "nginx"))
    assert facts is not None
    state.inventory.upsert(facts)
    state.platform = Platform(kubernetes="v1.30.2", openshift="4.16.3")
    state.last_evaluation = 1234.5
    found = samples(state)
    assert found[(f"{P}_inventory_workloads", ())] == 1.0
    platform = (("kubernetes_version", "v1.30.2"), ("openshift_version", "4.16.3"))
    assert found[(f"{P}_platform_info", platform)] == 1.0
    assert found[(f"{P}_last_evaluation_timestamp_seconds", ())] == 1234.5
    assert found[(f"{P}_platform_openshift_unreadable", ())] == 0.0
    state.platform = Platform(kubernetes="v1.30.2", openshift_problem="OpenShift version unreadable: HTTP 403")
    assert samples(state)[(f"{P}_platform_openshift_unreadable", ())] == 1.0


def test_operator_counters_are_served_beside_the_state() -> None:
    metrics = OperatorMetrics()
    metrics.errors.labels("sweep").inc()
    found = samples(OperatorState(), metrics)
    assert found[(f"{P}_errors_total", (("operation", "sweep"),))] == 1.0
    assert found[(f"{P}_errors_total", (("operation", "status_patch"),))] == 0.0


# ------------------------------------------------------------------ fleet labels, owners, editions

PRODUCTS: list[dict[str, Any]] = [
    {"product": "reloader", "edition": "Community", "version": "1.2.0", "lifecycle": "Supported"}
    | {"eligibility": "Eligible", "workloadCount": 1},
    {"product": "reloader", "edition": "Enterprise", "version": "1.2.0", "lifecycle": "Supported"}
    | {"eligibility": "Limited", "actionOwner": "Customer", "workloadCount": 2},
    {"product": "forecastle", "edition": "Community", "version": "1.0.1", "lifecycle": "EndOfLife"}
    | {"endOfSupport": "2020-01-31", "eligibility": "Ineligible", "actionOwner": "Customer", "workloadCount": 3},
]


def state_with(name: str, status: dict[str, Any], **spec: Any) -> OperatorState:
    body = engagement("shop", name, **spec)
    body["metadata"]["uid"] = f"uid-{name}"
    body["status"] = status
    state = OperatorState()
    record = record_from_body(body)
    state.engagements[record.key] = record
    return state


def by_name(found: dict[tuple[str, tuple[Any, ...]], float], name: str) -> list[tuple[dict[str, str], float]]:
    return [(dict(labels), value) for (n, labels), value in found.items() if n == f"{P}_{name}"]


def test_two_editions_of_one_version_are_two_series_with_eligibility_and_owner() -> None:
    state = state_with("acme", {"eligibility": "Limited", "products": PRODUCTS})
    rows = by_name(samples(state), "product_workloads")
    assert len(rows) == 3  # the dict is keyed by labels: identical label sets would have collapsed
    enterprise = next(labels for labels, _ in rows if labels["edition"] == "Enterprise")
    assert enterprise["eligibility"] == "Limited" and enterprise["action_owner"] == "Customer"
    assert "cluster" not in enterprise


def test_info_carries_the_contract_and_the_other_series_stay_narrow() -> None:
    products = [{"name": "reloader", "edition": "Enterprise"}, {"name": "forecastle"}]
    agreement = {"orderForm": "OF-1", "masterAgreement": "MSA-9"}
    state = state_with(
        "acme", {"eligibility": "Eligible"}, customer="ACME Corp", agreement=agreement, products=products
    )
    found = samples(state)
    [(info, value)] = by_name(found, "engagement_info")
    assert value == 1.0
    assert info == {
        "namespace": "shop",
        "engagement": "acme",
        "customer": "ACME Corp",
        "type": "ProductSupport",
        "plan": "Standard",
        "agreement": "OF-1",
        "master_agreement": "MSA-9",
        "editions": "forecastle=Community,reloader=Enterprise",
    }
    assert all(
        set(labels) == {"namespace", "engagement", "eligibility"}
        for labels, _ in by_name(found, "engagement_eligibility")
    )


def test_findings_count_what_limits_eligibility_by_the_party_that_acts() -> None:
    status = {
        "eligibility": "Ineligible",
        "products": PRODUCTS,
        "platform": {"compatible": False},
        "agreement": {"inForce": False, "actionOwner": "Customer"},
    }
    state = state_with("m", status, type="ManagedService", versionManagement="Stakater")
    found = {
        (labels["kind"], labels["owner"]): value for labels, value in by_name(samples(state), "engagement_findings")
    }
    # two product versions not eligible (the customer's), the managed platform (Stakater's), the agreement
    assert found == {("product", "Customer"): 2.0, ("platform", "Stakater"): 1.0, ("agreement", "Customer"): 1.0}
    assert (
        by_name(samples(state_with("ok", {"eligibility": "Eligible", "products": PRODUCTS[:1]})), "engagement_findings")
        == []
    )


def test_a_version_newer_than_the_matrix_is_its_own_series_not_a_finding() -> None:
    newer = {"product": "reloader", "edition": "Community", "version": "1.5.0", "lifecycle": "Unknown"}
    newer |= {"eligibility": "Eligible", "actionOwner": "Stakater", "matrixBehind": True, "workloadCount": 2}
    # a newer version that is also Limited for another reason (Community image under an Enterprise contract)
    edition = newer | {"edition": "Enterprise", "eligibility": "Limited", "actionOwner": "Customer"}
    state = state_with("acme", {"eligibility": "Limited", "products": [*PRODUCTS[:1], newer, edition]})
    found = samples(state)
    behind = by_name(found, "product_not_in_matrix")
    assert sorted((labels["edition"], labels["version"], value) for labels, value in behind) == [
        ("Community", "1.5.0", 1.0),
        ("Enterprise", "1.5.0", 1.0),
    ]
    assert all(set(labels) == {"namespace", "engagement", "product", "edition", "version"} for labels, _ in behind)
    findings = {(labels["kind"], labels["owner"]): value for labels, value in by_name(found, "engagement_findings")}
    assert findings == {("product", "Customer"): 1.0}  # only the edition finding; the matrix is not one
    assert (
        by_name(samples(state_with("ok", {"eligibility": "Eligible", "products": PRODUCTS})), "product_not_in_matrix")
        == []
    )


def test_cluster_name_labels_every_series_of_the_operator() -> None:
    metrics = OperatorMetrics(cluster="prod-eu-1")
    metrics.evaluations.inc()
    found = samples(state_with("acme", {"eligibility": "Eligible", "products": PRODUCTS}), metrics)
    names = {name for name, _ in found}
    assert {
        f"{P}_build_info",
        f"{P}_evaluations_total",
        f"{P}_admission_reviews_total",
        f"{P}_engagement_info",
    } <= names
    unlabelled = [(name, labels) for name, labels in found if dict(labels).get("cluster") != "prod-eu-1"]
    assert unlabelled == []


def test_time_to_agreement_expiry_runs_to_the_end_of_the_last_day() -> None:
    state = state_with("acme", {"eligibility": "Eligible", "agreement": {"inForce": True, "expiresOn": "2030-01-01"}})
    [(labels, left)] = by_name(samples(state), "engagement_agreement_time_to_expiry_seconds")
    expected = (dt.datetime(2030, 1, 2, tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)).total_seconds()
    assert labels == {"namespace": "shop", "engagement": "acme"} and abs(left - expected) < 60
    assert (
        by_name(samples(state_with("open", {"eligibility": "Eligible"})), "engagement_agreement_time_to_expiry_seconds")
        == []
    )

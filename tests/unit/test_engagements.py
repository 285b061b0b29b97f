"""From engagement objects and the inventory to statuses, and when a status needs writing."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from eligibility_operator.api.models import (
    Condition,
    ConditionStatus,
    Coverage,
    Eligibility,
    LabelSelector,
    SupportEngagementStatus,
)
from eligibility_operator.core.base.status_wire import to_wire
from eligibility_operator.core.compat.matrix import load_matrix
from eligibility_operator.core.products.coverage import covers, covers_everything, selector_matches, selector_problems
from eligibility_operator.core.products.inventory import Inventory
from eligibility_operator.core.products.workloads import WorkloadFacts, facts_from_object
from eligibility_operator.core.verdict.engagements import (
    assess,
    eligibility_of,
    matrix_status_to_write,
    record_from_body,
    status_differs,
    status_to_write,
)
from eligibility_operator.core.verdict.evaluation import Platform

from ..builders import TODAY, days, engagement_spec, small_matrix_spec
from ..builders import manifest as workload

PLATFORM = Platform(kubernetes="1.30.2")
T0 = dt.datetime(2026, 6, 1, 10, 0, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 6, 1, 11, 30, 0, tzinfo=dt.UTC)
STAMP0, STAMP1 = "2026-06-01T10:00:00Z", "2026-06-01T11:30:00Z"


def matrix(name: str = "default") -> Any:
    return load_matrix(name, 1, small_matrix_spec())


def facts(namespace: str, image: str, name: str = "reloader", **kw: Any) -> WorkloadFacts:
    result = facts_from_object(workload(image, name=name, namespace=namespace, **kw))
    assert result is not None
    return result


def body(
    spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None, generation: int = 3
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "support.stakater.com/v1alpha1",
        "kind": "SupportEngagement",
        "metadata": {"name": "acme", "namespace": "support", "uid": "u-1", "generation": generation},
        "spec": spec if spec is not None else engagement_spec(),
    }
    if status is not None:
        obj["status"] = status
    return obj


def inventory_with_workloads() -> Inventory:
    """team-a runs an end-of-life reloader, team-b a supported one, team-c forecastle; plus a non-product."""
    inv = Inventory()
    inv.set_matrix(matrix())
    inv.upsert(facts("team-a", "ghcr.io/stakater/reloader:v1.1.0"))
    inv.upsert(facts("team-b", "ghcr.io/stakater/reloader:v1.4.21"))
    inv.upsert(facts("team-c", "stakater/forecastle:v2.0.1", name="forecastle"))
    inv.upsert(facts("team-a", "nginx:1.27", name="web"))
    inv.set_namespace("team-a", {"env": "prod", "tier": "gold"})
    inv.set_namespace("team-b", {"env": "dev"})
    inv.set_namespace("team-c", {})
    return inv


def assess_spec(inv: Inventory, **overrides: Any) -> SupportEngagementStatus:
    return assess(record_from_body(body(engagement_spec(**overrides))), inv, PLATFORM, TODAY)


def ready(status: SupportEngagementStatus) -> Condition:
    cond = next(c for c in status.conditions if c.type == "Ready")
    return cond


def workloads_of(status: SupportEngagementStatus) -> list[str]:
    return sorted(w for p in status.products for w in p.workloads)


# --------------------------------------------------------------- status writes


def evaluated(inv: Inventory | None = None, **overrides: Any) -> SupportEngagementStatus:
    return assess_spec(inv or inventory_with_workloads(), **overrides)


def test_first_write_stamps_everything() -> None:
    wire = status_to_write(evaluated(), None, T0)
    assert wire is not None
    assert wire["lastEvaluationTime"] == STAMP0
    assert wire["eligibility"] == "Limited"
    assert {c["type"]: c["lastTransitionTime"] for c in wire["conditions"]} == {
        "Ready": STAMP0,
        "Eligible": STAMP0,
        "AgreementInForce": STAMP0,
        "VersionsSupported": STAMP0,
        "PlatformCompatible": STAMP0,
        "UpgradeRecommended": STAMP0,
    }


def test_equal_content_is_not_written_again() -> None:
    status = evaluated()
    written = status_to_write(status, None, T0)
    assert status_to_write(status, written, T1) is None


def test_timestamps_alone_do_not_count_as_a_change() -> None:
    status = evaluated()
    written = status_to_write(status, None, T0)
    assert written is not None
    tampered = copy.deepcopy(written)
    tampered["lastEvaluationTime"] = "2020-01-01T00:00:00Z"
    for condition in tampered["conditions"]:
        condition["lastTransitionTime"] = "2019-05-05T05:05:05Z"
    assert status_to_write(status, tampered, T1) is None
    assert not status_differs(written, tampered)


def test_changed_content_keeps_transition_time_of_unchanged_conditions() -> None:
    inv = inventory_with_workloads()
    written = status_to_write(assess_spec(inv, coverage={"namespaces": ["team-b"]}), None, T0)
    assert written is not None
    assert written["eligibility"] == "Eligible"
    # team-b upgrades within the supported line: products change, no condition changes status
    inv.upsert(facts("team-b", "ghcr.io/stakater/reloader:v1.4.19"))
    new = assess_spec(inv, coverage={"namespaces": ["team-b"]})
    wire = status_to_write(new, written, T1)
    assert wire is not None
    assert wire["products"][0]["version"] == "1.4.19"
    assert wire["lastEvaluationTime"] == STAMP1
    assert all(c["lastTransitionTime"] == STAMP0 for c in wire["conditions"])


def test_changed_condition_status_gets_a_new_transition_time() -> None:
    inv = inventory_with_workloads()
    written = status_to_write(assess_spec(inv, coverage={"namespaces": ["team-b"]}), None, T0)
    inv.upsert(facts("team-b", "ghcr.io/stakater/reloader:v1.1.0"))  # downgrade to end of life
    wire = status_to_write(assess_spec(inv, coverage={"namespaces": ["team-b"]}), written, T1)
    assert wire is not None
    assert wire["eligibility"] == "Ineligible"
    stamps = {c["type"]: c["lastTransitionTime"] for c in wire["conditions"]}
    assert stamps == {
        "Ready": STAMP0,
        "Eligible": STAMP1,
        "AgreementInForce": STAMP0,
        "VersionsSupported": STAMP1,
        "PlatformCompatible": STAMP0,
        "UpgradeRecommended": STAMP1,
    }


def test_condition_without_previous_transition_time_is_stamped() -> None:
    status = evaluated()
    written = status_to_write(status, None, T0)
    assert written is not None
    for condition in written["conditions"]:
        del condition["lastTransitionTime"]
    written["reason"] = "something else"
    wire = status_to_write(status, written, T1)
    assert wire is not None
    assert all(c["lastTransitionTime"] == STAMP1 for c in wire["conditions"])


def test_timestamps_are_utc_whatever_the_zone() -> None:
    cest = dt.timezone(dt.timedelta(hours=2))
    wire = status_to_write(evaluated(), None, dt.datetime(2026, 6, 1, 12, 0, tzinfo=cest))
    assert wire is not None
    assert wire["lastEvaluationTime"] == STAMP0


def test_to_wire_is_camel_case_without_nulls_or_empty_strings() -> None:
    wire = to_wire(evaluated(coverage={"namespaces": ["team-b"]}))
    assert "productsOutOfSupport" in wire
    assert "uncoveredProducts" in wire
    product = wire["products"][0]
    assert product["version"] == "1.4.21"
    assert "endOfSupport" not in product  # None omitted
    assert "actionOwner" not in product
    notes = [r for r in wire["responsibilities"] if r["item"] == "Implementing fixes for product defects"]
    assert notes == [{"item": "Implementing fixes for product defects", "owner": "Stakater"}]  # note '' omitted


def test_matrix_status_to_write() -> None:
    good = Condition(type="Ready", status=ConditionStatus.TRUE, reason="Valid", message="5 products")
    wire = matrix_status_to_write(2, 5, good, None, T0)
    assert wire == {
        "observedGeneration": 2,
        "products": 5,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Valid",
                "message": "5 products",
                "lastTransitionTime": STAMP0,
            }
        ],
    }
    assert matrix_status_to_write(2, 5, good, wire, T1) is None
    newer = matrix_status_to_write(3, 5, good, wire, T1)
    assert newer is not None
    assert newer["conditions"][0]["lastTransitionTime"] == STAMP0
    bad = Condition(type="Ready", status=ConditionStatus.FALSE, reason="Invalid", message="overlap")
    broken = matrix_status_to_write(3, 5, bad, wire, T1)
    assert broken is not None
    assert broken["conditions"][0]["lastTransitionTime"] == STAMP1


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ({"eligibility": "Eligible"}, Eligibility.ELIGIBLE),
        ({"eligibility": "Ineligible"}, Eligibility.INELIGIBLE),
        ({"eligibility": "bogus"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_eligibility_of(wire: dict[str, Any] | None, expected: Eligibility | None) -> None:
    assert eligibility_of(wire) == expected


# ------------------------------------------------------------------ assess


def test_matrix_not_found() -> None:
    status = assess_spec(Inventory())
    assert status.eligibility == Eligibility.UNKNOWN
    cond = ready(status)
    assert (cond.status, cond.reason) == (ConditionStatus.FALSE, "MatrixNotFound")
    assert "CompatibilityMatrix 'default' not found" in cond.message
    assert status.observed_generation == 3


def test_matrix_not_found_for_named_ref() -> None:
    inv = inventory_with_workloads()
    status = assess_spec(inv, matrixRef={"name": "custom"})
    assert ready(status).reason == "MatrixNotFound"
    assert "CompatibilityMatrix 'custom' not found" in ready(status).message


def test_matrix_invalid_without_good_version() -> None:
    inv = Inventory()
    inv.set_matrix_error("default", "releases 1.4 and 1.4.2 overlap")
    status = assess_spec(inv)
    assert status.eligibility == Eligibility.UNKNOWN
    cond = ready(status)
    assert (cond.status, cond.reason) == (ConditionStatus.FALSE, "MatrixInvalid")
    assert "releases 1.4 and 1.4.2 overlap" in cond.message


def test_a_matrix_waiting_for_its_source_is_not_called_invalid() -> None:
    inv = Inventory()
    inv.set_matrix_error("default", "waiting for the first verified fetch of https://x/m.yaml", waiting_for_source=True)
    cond = ready(assess_spec(inv))
    assert (cond.status, cond.reason) == (ConditionStatus.FALSE, "MatrixWaitingForSource")
    assert cond.message == (
        "CompatibilityMatrix 'default' has no verified copy yet: waiting for the first verified fetch of https://x/m.yaml"
    )
    # The source's copy arrives, then the matrix turns out invalid: the reason says so again.
    inv.set_matrix(matrix())
    assert ready(assess_spec(inv)).reason == "Evaluated"
    inv.set_matrix_error("default", "releases 1.4 and 1.4.2 overlap")
    assert ready(assess_spec(inv)).reason == "MatrixInvalid"


def test_a_matrix_waiting_for_a_new_source_shows_the_last_valid_evaluation() -> None:
    inv = inventory_with_workloads()  # spec.source's URL changed: the old copy stays in use meanwhile
    inv.set_matrix_error("default", "waiting for the first verified fetch of https://y/m.yaml", waiting_for_source=True)
    status = assess_spec(inv)
    assert status.eligibility == Eligibility.LIMITED  # from the copy still in use
    cond = ready(status)
    assert (cond.status, cond.reason) == (ConditionStatus.FALSE, "MatrixWaitingForSource")
    assert cond.message.endswith("https://y/m.yaml; showing the evaluation against its last valid version")


def test_matrix_invalid_keeps_the_last_good_evaluation() -> None:
    inv = inventory_with_workloads()
    inv.set_matrix_error("default", "releases 1.4 and 1.4.2 overlap")
    status = assess_spec(inv)
    assert status.eligibility == Eligibility.LIMITED  # team-a's reloader 1.1.0, from the last good matrix
    assert workloads_of(status) == [
        "team-a/Deployment/reloader",
        "team-b/Deployment/reloader",
        "team-c/Deployment/forecastle",
    ]
    cond = ready(status)
    assert (cond.status, cond.reason) == (ConditionStatus.FALSE, "MatrixInvalid")
    assert cond.message.endswith("showing the evaluation against its last valid version")
    eligible = next(c for c in status.conditions if c.type == "Eligible")
    assert eligible.status == ConditionStatus.FALSE


def test_fixed_matrix_clears_the_error() -> None:
    inv = inventory_with_workloads()
    inv.set_matrix_error("default", "broken")
    inv.set_matrix(matrix())
    status = assess_spec(inv)
    assert (ready(status).status, ready(status).reason) == (ConditionStatus.TRUE, "Evaluated")


def test_invalid_spec_stakater_versions_on_product_support() -> None:
    status = assess_spec(inventory_with_workloads(), type="ProductSupport", versionManagement="Stakater")
    cond = ready(status)
    assert (cond.status, cond.reason) == (ConditionStatus.FALSE, "InvalidSpec")
    assert cond.message.startswith("spec.versionManagement: Stakater maintains versions only under a ManagedService")
    assert status.eligibility == Eligibility.UNKNOWN


def test_invalid_spec_product_not_in_matrix_names_the_field() -> None:
    status = assess_spec(inventory_with_workloads(), products=[{"name": "reloader"}, {"name": "tronador"}])
    cond = ready(status)
    assert cond.reason == "InvalidSpec"
    assert cond.message == (
        "spec.products[1].name: 'tronador' is not in CompatibilityMatrix 'default' "
        "(known: forecastle, konfigurator, reloader)"
    )


def test_invalid_spec_duplicate_product() -> None:
    status = assess_spec(inventory_with_workloads(), products=[{"name": "reloader"}, {"name": "reloader"}])
    assert ready(status).message == "spec.products[1].name: 'reloader' is listed twice"


def test_invalid_spec_drops_the_previous_evaluation() -> None:
    """The previous evaluation was of another contract: eligibility becomes Unknown, not kept."""
    inv = inventory_with_workloads()
    written = status_to_write(assess_spec(inv), None, T0)
    assert written is not None and written["eligibility"] == "Limited"
    record = record_from_body(body(engagement_spec(products=[{"name": "tronador"}]), status=written, generation=4))
    status = assess(record, inv, PLATFORM, TODAY)
    assert status.eligibility == Eligibility.UNKNOWN
    assert status.observed_generation == 4
    assert ready(status).reason == "InvalidSpec"
    assert workloads_of(status) == []


def test_schema_invalid_spec() -> None:
    record = record_from_body(body({"type": "ProductSupport", "plan": "Gold"}))
    assert record.spec is None
    assert record.spec_error is not None
    assert "spec.customer: Field required" in record.spec_error
    assert "spec.plan:" in record.spec_error
    status = assess(record, inventory_with_workloads(), PLATFORM, TODAY)
    assert ready(status).reason == "InvalidSpec"
    assert ready(status).message.startswith("spec is invalid: spec.customer: Field required")


def test_record_from_body() -> None:
    record = record_from_body(body(engagement_spec(matrixRef={"name": "custom"}), status={"eligibility": "Eligible"}))
    assert record.key == ("support", "acme")
    assert (record.uid, record.generation, record.matrix_name) == ("u-1", 3, "custom")
    assert record.written == {"eligibility": "Eligible"}
    assert record_from_body(body()).matrix_name == "default"


def test_whole_cluster_coverage() -> None:
    status = assess_spec(inventory_with_workloads())
    assert workloads_of(status) == [
        "team-a/Deployment/reloader",
        "team-b/Deployment/reloader",
        "team-c/Deployment/forecastle",
    ]


# -------------------------------------------------------------- coverage


@pytest.mark.parametrize(
    ("coverage", "expected"),
    [
        ({"namespaces": ["team-b"]}, ["team-b/Deployment/reloader"]),
        ({"namespaces": ["team-b", "team-c"]}, ["team-b/Deployment/reloader", "team-c/Deployment/forecastle"]),
        ({"namespaces": ["nowhere"]}, []),
        ({"namespaceSelector": {"matchLabels": {"env": "prod"}}}, ["team-a/Deployment/reloader"]),
        (
            {"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "In", "values": ["dev", "prod"]}]}},
            ["team-a/Deployment/reloader", "team-b/Deployment/reloader"],
        ),
        (
            # NotIn also covers namespaces without the label
            {"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}},
            ["team-b/Deployment/reloader", "team-c/Deployment/forecastle"],
        ),
        (
            {"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "Exists"}]}},
            ["team-a/Deployment/reloader", "team-b/Deployment/reloader"],
        ),
        (
            {"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}},
            ["team-c/Deployment/forecastle"],
        ),
        (
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team-c"}}},
            ["team-c/Deployment/forecastle"],
        ),
        (
            # names and selector are unioned
            {"namespaces": ["team-c"], "namespaceSelector": {"matchLabels": {"env": "dev"}}},
            ["team-b/Deployment/reloader", "team-c/Deployment/forecastle"],
        ),
        (
            # all requirements must hold
            {
                "namespaceSelector": {
                    "matchLabels": {"env": "prod"},
                    "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["gold"]}],
                }
            },
            [],
        ),
    ],
)
def test_namespace_coverage(coverage: dict[str, Any], expected: list[str]) -> None:
    status = assess_spec(inventory_with_workloads(), coverage=coverage)
    assert ready(status).reason == "Evaluated"
    assert workloads_of(status) == expected


def test_coverage_decides_eligibility() -> None:
    inv = inventory_with_workloads()
    assert assess_spec(inv, coverage={"namespaces": ["team-a"]}).eligibility == Eligibility.INELIGIBLE
    assert assess_spec(inv, coverage={"namespaces": ["team-b"]}).eligibility == Eligibility.ELIGIBLE


def test_metadata_name_label_is_synthesized_for_unknown_namespaces() -> None:
    inv = Inventory()
    inv.set_matrix(matrix())
    inv.upsert(facts("unlabelled", "ghcr.io/stakater/reloader:v1.4.21"))
    # the namespace itself was never seen (no set_namespace)
    status = assess_spec(
        inv,
        coverage={
            "namespaceSelector": {
                "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["unlabelled"]}]
            }
        },
    )
    assert workloads_of(status) == ["unlabelled/Deployment/reloader"]


def test_metadata_name_label_cannot_be_spoofed() -> None:
    coverage = Coverage.model_validate({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "prod"}}})
    assert covers(coverage, "prod", {})
    assert not covers(coverage, "dev", {"kubernetes.io/metadata.name": "prod"})


@pytest.mark.parametrize(
    ("selector", "problem"),
    [
        (
            {"matchExpressions": [{"key": "env", "operator": "In"}]},
            "spec.coverage.namespaceSelector.matchExpressions[0]: operator In needs at least one value",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists"}, {"key": "env", "operator": "NotIn"}]},
            "spec.coverage.namespaceSelector.matchExpressions[1]: operator NotIn needs at least one value",
        ),
        (
            {"matchExpressions": [{"key": "env", "operator": "DoesNotExist", "values": ["x"]}]},
            "spec.coverage.namespaceSelector.matchExpressions[0]: operator DoesNotExist takes no values",
        ),
    ],
)
def test_selector_problems_make_the_spec_invalid(selector: dict[str, Any], problem: str) -> None:
    assert selector_problems(LabelSelector.model_validate(selector)) == [problem]
    status = assess_spec(inventory_with_workloads(), coverage={"namespaceSelector": selector})
    assert ready(status).reason == "InvalidSpec"
    assert ready(status).message == problem


def test_coverage_helpers() -> None:
    everything = Coverage()
    assert covers_everything(everything)
    assert covers(everything, "any", None)
    names = Coverage(namespaces=["a"])
    assert not covers_everything(names)
    assert covers(names, "a", None)
    assert not covers(names, "b", {"env": "prod"})
    empty_selector = LabelSelector()
    assert selector_matches(empty_selector, {})  # like metav1: an empty selector selects everything
    assert covers(Coverage(namespace_selector=empty_selector), "b", None)


# -------------------------------------------------------------- inventory


def test_upsert_without_matrix_reports_no_change() -> None:
    inv = Inventory()
    assert inv.upsert(facts("a", "ghcr.io/stakater/reloader:v1.4.21")) is False
    assert len(inv.workloads) == 1


def test_upsert_true_only_when_detections_change() -> None:
    inv = Inventory()
    inv.set_matrix(matrix())
    assert inv.upsert(facts("a", "ghcr.io/stakater/reloader:v1.4.21")) is True
    # identical facts
    assert inv.upsert(facts("a", "ghcr.io/stakater/reloader:v1.4.21")) is False
    # different facts, same detections (an extra label)
    assert inv.upsert(facts("a", "ghcr.io/stakater/reloader:v1.4.21", labels={"team": "x"})) is False
    # a new version
    assert inv.upsert(facts("a", "ghcr.io/stakater/reloader:v1.4.19")) is True
    # no longer a product
    assert inv.upsert(facts("a", "nginx:1.27")) is True
    assert inv.product_namespaces("default") == []
    assert list(inv.found_in("default")) == []
    # a workload that never ran a product
    assert inv.upsert(facts("b", "nginx:1.27", name="web")) is False
    assert inv.upsert(facts("b", "nginx:1.28", name="web")) is False


def test_remove_true_only_when_the_workload_had_detections() -> None:
    inv = Inventory()
    inv.set_matrix(matrix())
    product = facts("a", "ghcr.io/stakater/reloader:v1.4.21")
    other = facts("a", "nginx:1.27", name="web")
    inv.upsert(product)
    inv.upsert(other)
    assert inv.remove(other.key) is False
    assert inv.remove(("a", "Deployment", "never-seen")) is False
    assert inv.remove(product.key) is True
    assert inv.remove(product.key) is False
    assert inv.workloads == {}
    assert inv.matrices["default"].detections == {}


def test_set_matrix_detects_workloads_seen_before() -> None:
    inv = Inventory()
    inv.upsert(facts("a", "ghcr.io/stakater/reloader:v1.4.21"))
    inv.upsert(facts("b", "stakater/forecastle:v2.0.1", name="forecastle"))
    inv.set_matrix(matrix())
    assert sorted(inv.product_namespaces("default")) == ["a", "b"]
    found = sorted((ref, d.product, str(d.version)) for ref, d in inv.found_in("default"))
    assert found == [
        ("a/Deployment/reloader", "reloader", "1.4.21"),
        ("b/Deployment/forecastle", "forecastle", "2.0.1"),
    ]
    assert [ref for ref, _ in inv.found_in("default", iter(["b"]))] == ["b/Deployment/forecastle"]
    assert list(inv.found_in("other-matrix")) == []


def test_detections_are_kept_per_matrix() -> None:
    inv = Inventory()
    inv.set_matrix(matrix("default"))
    only_reloader = small_matrix_spec()
    only_reloader["products"] = only_reloader["products"][:1]
    inv.set_matrix(load_matrix("narrow", 1, only_reloader))
    forecastle = facts("b", "stakater/forecastle:v2.0.1", name="forecastle")
    assert inv.upsert(forecastle) is True
    assert inv.product_namespaces("default") == ["b"]
    assert inv.product_namespaces("narrow") == []
    assert inv.remove(forecastle.key) is True
    inv.remove_matrix("narrow")
    assert "narrow" not in inv.matrices
    assert inv.product_namespaces("narrow") == []


def test_namespace_labels() -> None:
    inv = Inventory()
    assert inv.set_namespace("a", {"env": "prod"}) is True
    assert inv.set_namespace("a", {"env": "prod"}) is False
    assert inv.set_namespace("a", {"env": "dev"}) is True
    assert inv.remove_namespace("a") is True
    assert inv.remove_namespace("a") is False


def test_horizon_notices_announce_entering_the_horizon_once() -> None:
    from eligibility_operator.core.verdict.engagements import horizon_notices

    inv = Inventory()
    inv.set_matrix(load_matrix("default", 1, small_matrix_spec()))
    inv.upsert(facts("team-a", "ghcr.io/stakater/reloader:v1.2.0"))  # ends support in 45 days
    record = record_from_body(body(engagement_spec(plan="Premium", agreement={"expiresOn": days(30)})))
    first = assess(record, inv, PLATFORM, TODAY)
    notices = horizon_notices(None, first)
    assert [n.reason for n in notices] == ["EndOfSupportApproaching", "AgreementExpiresSoon"]
    assert notices[0].message.startswith("[EO102] customer action: upgrade reloader 1.2.0 to 1.4.21 before ")
    written = status_to_write(first, None, T0)
    assert horizon_notices(written, assess(record, inv, PLATFORM, TODAY)) == []  # nothing new: no Event


def test_agreement_calendar_problems_make_the_engagement_not_ready() -> None:
    from eligibility_operator.api.models import SupportEngagementSpec
    from eligibility_operator.core.verdict.spec_checks import spec_problems

    from ..builders import default_compiled, engagement_spec

    spec = SupportEngagementSpec.model_validate(
        engagement_spec(agreement={"timeZone": "Europe/Nowhere", "holidayCalendar": "QQ"})
    )
    problems = spec_problems(spec, default_compiled())
    assert [p.split(":", 1)[0] for p in problems] == ["spec.agreement.timeZone", "spec.agreement.holidayCalendar"]
    good = SupportEngagementSpec.model_validate(
        engagement_spec(agreement={"timeZone": "Asia/Kolkata", "holidayCalendar": "IN"})
    )
    assert spec_problems(good, default_compiled()) == []

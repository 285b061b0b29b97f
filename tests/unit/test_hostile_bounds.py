"""Hostile input to the pure core: work per object stays bounded, Audit Events stay few and clean."""

from __future__ import annotations

import time
from typing import Any

from eligibility_operator.core.admission.audit import AuditLimiter, clean_text
from eligibility_operator.core.products.detection import detect
from eligibility_operator.core.products.workloads import MAX_CONTAINERS, facts_from_object

from ..builders import default_compiled
from ..builders import manifest as workload

# ----------------------------------------------------------------- images and containers per workload


def _many_images(count: int, distinct: int) -> dict[str, Any]:
    return workload(*(f"registry.example/team/app-{i % distinct}:1.{i}" for i in range(count)))


def test_tens_of_thousands_of_distinct_images_keep_the_cap() -> None:
    facts = facts_from_object(_many_images(50_000, 50_000))
    assert facts is not None
    assert len(facts.images) == MAX_CONTAINERS
    assert facts.capped
    assert facts.images[0] == "registry.example/team/app-0:1.0"


def test_many_containers_with_one_image_are_capped_by_container_count() -> None:
    obj = workload(*(["stakater/reloader:v1.4.21"] * (MAX_CONTAINERS + 1)))
    facts = facts_from_object(obj)
    assert facts is not None
    assert facts.images == ("stakater/reloader:v1.4.21",)
    assert facts.capped


def test_init_containers_share_the_container_budget() -> None:
    obj = workload("late/image:1.0", init_images=tuple(f"init/i{i}:1.0" for i in range(MAX_CONTAINERS)))
    facts = facts_from_object(obj)
    assert facts is not None
    assert "late/image:1.0" not in facts.images
    assert facts.capped


def test_ordinary_workloads_are_not_capped() -> None:
    facts = facts_from_object(workload("a:1", "b:1", "a:1", init_images=("c:1",)))
    assert facts is not None
    assert facts.images == ("c:1", "a:1", "b:1")
    assert not facts.capped


def test_extraction_is_linear_in_the_object() -> None:
    """Tens of thousands of containers: the work is in reading the list, not in comparing images.

    Not a timing goal (that is in the README's figures): a bound 100 times the measured time, so that
    only a quadratic regression (2 s for 1 MB before the fix) can fail it.
    """
    obj = _many_images(100_000, 100_000)
    started = time.perf_counter()
    facts = facts_from_object(obj)
    assert facts is not None
    detect(default_compiled(), facts)
    assert time.perf_counter() - started < 1.0


# ------------------------------------------------------------------------------------ Audit Events


def test_one_event_per_key_per_window_with_the_count() -> None:
    limiter = AuditLimiter(window=3600)
    key = ("platform", "acme", "shop/Deployment/x reloader 1.2.0")
    first = limiter.admit(key, "reloader 1.2.0 is end of life", now=0)
    assert first is not None and first.repeats == 0 and first.engagement == ("platform", "acme")
    limiter.done()
    assert all(limiter.admit(key, "again", now=float(t)) is None for t in range(1, 1000))
    later = limiter.admit(key, "reloader 1.2.0 is end of life", now=3600)
    assert later is not None and later.repeats == 999
    assert "seen 999 more times since the last Event about it" in later.text()
    assert limiter.suppressed_total == 999


def test_a_forged_flood_gives_a_bounded_number_of_events() -> None:
    limiter = AuditLimiter(burst=10, max_pending=10_000, total_burst=10_000)
    engagements = [("ns", f"e{i}") for i in range(20)]
    same = distinct = 0
    for review in range(1000):
        for namespace, name in engagements:
            if limiter.admit((namespace, name, "shop/Deployment/x reloader 1.2.0"), "m", now=5.0):
                same += 1
                limiter.done()
            if limiter.admit((namespace, name, f"shop/Deployment/forged-{review} reloader 1.2.0"), "m", now=5.0):
                distinct += 1
                limiter.done()
    assert same == 20  # de-duplicated: one per engagement (was 20,000)
    assert distinct == 20 * 9  # rate-limited: the rest of each engagement's burst of 10
    assert limiter.held_back_total == 20 * 1000 - distinct
    after = limiter.admit(("ns", "e0", "later finding"), "m", now=5.0 + 3600)
    assert after is not None and after.held_back == 1000 - 9 and "were not posted (rate limit)" in after.text()


def test_overlapping_engagements_share_one_event_budget() -> None:
    """Issue 37: the cap was per engagement, so 100 engagements covering one namespace multiplied it by 100."""
    limiter = AuditLimiter(burst=10, max_pending=10_000, total_burst=50)
    posted = 0
    for review in range(100):
        for i in range(100):
            if limiter.admit(("ns", f"e{i}", f"shop/Deployment/forged-{review} reloader 1.2.0"), "m", now=5.0):
                posted += 1
                limiter.done()
    assert posted == 50  # was 100 x 10 = 1,000
    assert limiter.held_back_total == 100 * 100 - 50
    assert limiter.admit(("ns", "e0", "later"), "m", now=5.0 + 3600) is not None  # refilled with the window


def test_pending_events_and_remembered_keys_are_bounded() -> None:
    limiter = AuditLimiter(burst=1000, max_keys=100, max_pending=5, total_burst=10_000)
    admitted = [limiter.admit(("ns", "e", f"w{i}"), "m", now=0) for i in range(50)]
    assert sum(a is not None for a in admitted) == 5
    assert limiter.dropped_total == 45
    for _ in range(5):
        limiter.done()
    for i in range(1000):
        if limiter.admit(("ns", "e", f"v{i}"), "m", now=float(i)):
            limiter.done()
    assert len(limiter._seen) == 100


def test_deleted_engagements_lose_their_rate_state_and_withheld_counts_by_reason() -> None:
    limiter = AuditLimiter(burst=1, max_pending=1)
    for name in ("kept", "deleted"):
        assert limiter.admit(("ns", name, "w reloader 1.2.0"), "m", now=0) is not None or name == "deleted"
        limiter.done()
    assert limiter.admit(("ns", "kept", "w reloader 1.2.0"), "m", now=1) is None  # repeat
    assert limiter.admit(("ns", "kept", "other"), "m", now=1) is None  # over the burst of 1
    assert limiter.engagements == 2
    limiter.retain({("ns", "kept")})
    assert limiter.engagements == 1
    assert limiter.withheld() == {"duplicate": 1, "rate_limited": 1, "overflow": 0}
    # a new engagement of the same name starts with a full bucket, not the deleted one's
    assert limiter.admit(("ns", "deleted", "fresh"), "m", now=2) is not None


def test_control_characters_cannot_fake_lines() -> None:
    text = clean_text("reloader 1.2.0\n\x1b[2J\rFAKE: all good\u2028\u202eevil\x00\x85", limit=1024)
    assert "\n" not in text and "\x1b" not in text and "\r" not in text
    assert not any(ch in text for ch in "\u2028\u202e\x00\x85")
    assert text.startswith("reloader 1.2.0 ")
    assert len(clean_text("x" * 5000, limit=100)) == 100


# ------------------------------------------------------------------------------------ bounded status


def test_status_lists_are_capped_worst_first_with_totals() -> None:
    import json

    from eligibility_operator.api.models import MAX_STATUS_PRODUCTS, Lifecycle, SupportEngagementSpec
    from eligibility_operator.core.base.status_wire import to_wire
    from eligibility_operator.core.compat.matrix import load_matrix
    from eligibility_operator.core.compat.versions import parse_version
    from eligibility_operator.core.products.detection import Detection
    from eligibility_operator.core.verdict.evaluation import Platform, evaluate

    from ..builders import TODAY, engagement_spec, small_matrix_spec

    matrix = load_matrix("test", 1, small_matrix_spec())
    found = [
        (f"ns/Deployment/w{i}-{j}", Detection("reloader", None, parse_version(f"1.4.{i}"), "image"))
        for i in range(6000)
        for j in range(30)
    ]
    found.append(("ns/Deployment/old", Detection("reloader", None, parse_version("1.1.5"), "image")))
    found += [(f"ns/Deployment/x{i}", Detection(f"other{i}", None, None, "annotation", "?")) for i in range(200)]
    spec = SupportEngagementSpec.model_validate(engagement_spec(products=[{"name": "reloader"}]))
    status = evaluate(spec, matrix, found, Platform(kubernetes="1.30.0"), TODAY).status
    assert len(status.products) == MAX_STATUS_PRODUCTS and status.products_total == 6001
    assert status.products[0].lifecycle == Lifecycle.END_OF_LIFE and status.products[0].version == "1.1.5"
    assert len(status.uncovered_products) == MAX_STATUS_PRODUCTS and status.uncovered_products_total == 200
    assert all(len(p.workloads) <= 20 and p.workload_count == 30 for p in status.products[1:])
    size = len(json.dumps(to_wire(status)))
    assert size < 256 * 1024, size  # was 1.75 MB for 6,000 versions, over etcd's request limit


# --------------------------------------------------------------------------- cross-namespace coverage


def test_engagements_outside_trusted_namespaces_cover_at_most_their_own() -> None:
    from eligibility_operator.api.models import Coverage
    from eligibility_operator.core.products.coverage import confined, covers

    labels = {"team": "a"}
    cases = {
        "everything": Coverage(),
        "by-name": Coverage(namespaces=["tenant", "other"]),
        "selector": Coverage.model_validate({"namespaceSelector": {"matchLabels": {"team": "a"}}}),
        "elsewhere": Coverage(namespaces=["other"]),
    }
    trusted = frozenset({"platform"})
    for what, coverage in cases.items():
        inside = confined(coverage, "tenant", trusted)
        assert not covers(inside, "other", labels), what
        assert covers(inside, "tenant", labels) == (what != "elsewhere"), what
        assert confined(coverage, "platform", trusted) == coverage
        assert confined(coverage, "tenant", frozenset({"*"})) == coverage
    selector = confined(cases["selector"], "tenant", trusted)
    assert not covers(selector, "tenant", {"team": "b"})  # the selector still has to match


def test_the_status_says_which_workloads_were_capped() -> None:
    from eligibility_operator.core.products.inventory import Inventory
    from eligibility_operator.core.verdict.engagements import assess, record_from_body
    from eligibility_operator.core.verdict.evaluation import Platform

    from ..builders import TODAY, engagement_spec

    inventory = Inventory()
    inventory.set_matrix(default_compiled())
    for name, images in (("huge", [f"r/i{i}:1" for i in range(300)]), ("small", ["stakater/reloader:v1.4.21"])):
        facts = facts_from_object(workload(*images, name=name, namespace="team-a"))
        assert facts is not None
        inventory.upsert(facts)
    body = {"metadata": {"namespace": "team-a", "name": "e", "uid": "u"}, "spec": engagement_spec()}
    status = assess(record_from_body(body), inventory, Platform(kubernetes="1.30.0"), TODAY)
    ready = next(c for c in status.conditions if c.type == "Ready")
    assert ready.status == "True"
    assert "1 workload(s) have more than 256 containers" in ready.message
    assert "team-a/Deployment/huge" in ready.message and "small" not in ready.message
    inventory.remove(("team-a", "Deployment", "huge"))
    status = assess(record_from_body(body), inventory, Platform(kubernetes="1.30.0"), TODAY)
    assert "only the first were read" not in next(c for c in status.conditions if c.type == "Ready").message


# ------------------------------------------------------------------------- what crosses processes


def test_essentials_keep_every_fact_and_stay_small() -> None:
    import json

    from hypothesis import given

    from eligibility_operator.core.products.workloads import essentials

    from .test_properties import quick, workload_shaped

    @quick
    @given(workload_shaped())
    def same_facts(obj: dict[str, Any]) -> None:
        assert facts_from_object(essentials(obj)) == facts_from_object(obj)

    same_facts()
    # Found by the property above: a label that is not a string is no label (it was kept as 'None').
    odd = {"kind": "Deployment", "metadata": {"name": "r", "labels": {"olm.copiedFrom": None}}, "spec": None}
    assert facts_from_object(essentials(odd)) == facts_from_object(odd)
    big = _many_images(50_000, 50_000)
    big["metadata"]["labels"] = {f"k{i}": "v" for i in range(10_000)}
    big["metadata"]["annotations"] = {"x": "y" * 200_000, "support.stakater.com/version": "1.2.3"}
    small = essentials(big)
    assert facts_from_object(small) == facts_from_object(big)
    assert len(json.dumps(small)) < 40_000 < len(json.dumps(big)) // 10


def test_read_review_keeps_what_the_decision_reads() -> None:
    import json

    from eligibility_operator.core.admission.reviews import read_review

    obj = workload("stakater/reloader:v1.1.0", labels={"support.stakater.com/ignore": "true"})
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "operation": "UPDATE",
            "namespace": "team-a",
            "dryRun": True,
            "object": obj,
            "oldObject": obj,
            "userInfo": {"username": "x" * 10_000},
        },
    }
    uid, request = read_review(json.dumps(body).encode())
    assert uid == "u-1" and request["operation"] == "UPDATE" and request["dryRun"] is True
    assert "userInfo" not in request
    assert facts_from_object(request["object"]) == facts_from_object(obj)
    assert request["object"]["metadata"]["labels"]["support.stakater.com/ignore"] == "true"


# --------------------------------------------------------------- overlapping engagements (issue 37)


def test_engagements_covering_a_namespace_share_its_summary() -> None:
    """100 engagements over the same namespaces walk each namespace's product workloads once, not 100 times,
    and the shared summary follows every change."""
    from eligibility_operator.core.products.inventory import Inventory
    from eligibility_operator.core.verdict.engagements import assess, record_from_body
    from eligibility_operator.core.verdict.evaluation import Platform

    from ..builders import TODAY, engagement_spec

    inventory = Inventory()
    inventory.set_matrix(default_compiled())
    for i in range(500):
        facts = facts_from_object(workload(f"stakater/reloader:v1.4.{i % 20}", name=f"r{i}", namespace=f"ns-{i % 5}"))
        assert facts is not None
        inventory.upsert(facts)
    walks: list[str] = []
    walk = inventory._found_here
    inventory._found_here = lambda state, namespace: (walks.append(namespace), walk(state, namespace))[1]  # type: ignore[method-assign]
    spec = engagement_spec(coverage={"namespaces": [f"ns-{i}" for i in range(5)]})
    bodies = [{"metadata": {"namespace": "p", "name": f"e{i}", "uid": f"u{i}"}, "spec": spec} for i in range(100)]
    platform = Platform(kubernetes="1.30.0")
    first = [assess(record_from_body(b), inventory, platform, TODAY) for b in bodies]
    assert len(walks) == 5, len(walks)  # was 500
    assert all(s == first[0] for s in first)
    eol = facts_from_object(workload("stakater/reloader:v1.1.0", name="r0", namespace="ns-0"))
    assert eol is not None
    inventory.upsert(eol)
    after = assess(record_from_body(bodies[0]), inventory, platform, TODAY)
    assert len(walks) == 6  # only the namespace that changed is walked again
    assert after.products_out_of_support == first[0].products_out_of_support + 1
    inventory.remove(("ns-0", "Deployment", "r0"))
    cached = assess(record_from_body(bodies[0]), inventory, platform, TODAY)
    inventory._found.clear()
    assert cached == assess(record_from_body(bodies[0]), inventory, platform, TODAY)
    assert cached.products_out_of_support == first[0].products_out_of_support

"""core/admission: which engagements guard a namespace, in which mode, and the README's decision table."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from eligibility_operator.api.models import EnforcementMode, SupportEngagementSpec
from eligibility_operator.core.admission.decisions import Decision, Guard, decide, guarding_mode, guards_for, response
from eligibility_operator.core.compat.matrix import CompiledMatrix, load_matrix

from ..builders import engagement, matrix, workload

TODAY = dt.date(2026, 6, 1)
EOL = "stakater/reloader:v1.1.0"  # end of life 30 days before TODAY
DEPRECATED = "stakater/reloader:v1.2.0"  # ends in 30 days: Deprecated for Premium (90-day horizon)
CURRENT = "stakater/reloader:v1.4.21"
EXEMPT = frozenset({"kube-system"})


def compiled(name: str = "default") -> CompiledMatrix:
    return load_matrix(name, 1, matrix(name, TODAY)["spec"])


def spec(namespace: str = "shop", mode: str = "Audit", **fields: Any) -> SupportEngagementSpec:
    body = engagement(namespace, **fields)["spec"]
    body["enforcement"] = {"mode": mode}
    return SupportEngagementSpec.model_validate(body)


def guard(mode: str = "Audit", name: str = "contract", **fields: Any) -> Guard:
    return Guard("platform", name, spec(mode=mode, **fields), compiled())


def review(image: str, *, old_image: str | None = None, namespace: str = "shop", **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "uid": "u1",
        "operation": "UPDATE" if old_image else "CREATE",
        "namespace": namespace,
        "object": workload(namespace, "x", image),
    }
    if old_image:
        request["oldObject"] = workload(namespace, "x", old_image)
    request.update(extra)
    return request


# ------------------------------------------------------------------ guards


def matrices(*names: str) -> Any:
    table = {name: compiled(name) for name in names}
    return table.get


def test_an_engagement_listing_the_namespace_guards_it() -> None:
    found = guards_for("shop", {}, [("platform", "contract", spec())], matrices("default"))
    assert [(g.namespace, g.name) for g in found] == [("platform", "contract")]


def test_an_engagement_not_covering_the_namespace_does_not_guard_it() -> None:
    assert guards_for("elsewhere", {}, [("platform", "contract", spec())], matrices("default")) == []


def test_an_invalid_engagement_guards_nothing() -> None:
    assert guards_for("shop", {}, [("platform", "broken", None)], matrices("default")) == []


def test_an_engagement_without_a_usable_matrix_guards_nothing() -> None:
    assert guards_for("shop", {}, [("platform", "contract", spec())], matrices("other")) == []


def test_selector_coverage_guards_by_labels() -> None:
    selecting = SupportEngagementSpec.model_validate(
        {
            **engagement("platform")["spec"],
            "coverage": {"namespaceSelector": {"matchLabels": {"team": "shop"}}},
        }
    )
    engagements = [("platform", "contract", selecting)]
    assert len(guards_for("shop", {"team": "shop"}, engagements, matrices("default"))) == 1
    assert guards_for("shop", {"team": "other"}, engagements, matrices("default")) == []
    # A namespace not seen yet has unknown labels: fail open rather than guess.
    assert guards_for("shop", None, engagements, matrices("default")) == []


def test_a_namespace_listed_by_name_is_guarded_before_its_labels_are_known() -> None:
    listing = SupportEngagementSpec.model_validate(
        {
            **engagement("platform")["spec"],
            "coverage": {"namespaces": ["shop"], "namespaceSelector": {"matchLabels": {"team": "x"}}},
        }
    )
    assert len(guards_for("shop", None, [("platform", "contract", listing)], matrices("default"))) == 1


def test_the_strictest_mode_wins() -> None:
    assert guarding_mode([]) is None
    assert guarding_mode([guard("Audit")]) == EnforcementMode.AUDIT
    assert guarding_mode([guard("Audit"), guard("Enforce"), guard("Warn")]) == EnforcementMode.ENFORCE
    assert guarding_mode([guard("Warn"), guard("Audit")]) == EnforcementMode.WARN


# ---------------------------------------------------- the README's decision table

# (mode, case) -> (allowed, warned, audited). Cases: an end-of-life version introduced (CREATE), an
# end-of-life version already running (UPDATE keeping it), a Deprecated version (Premium engagement).
TABLE = {
    ("Audit", "eol-introduced"): (True, False, True),
    ("Audit", "eol-running"): (True, False, True),
    ("Audit", "deprecated"): (True, False, True),
    ("Warn", "eol-introduced"): (True, True, False),
    ("Warn", "eol-running"): (True, True, False),
    ("Warn", "deprecated"): (True, True, False),
    ("Enforce", "eol-introduced"): (False, False, False),
    ("Enforce", "eol-running"): (True, True, False),
    ("Enforce", "deprecated"): (True, True, False),
}


def case_request(case: str) -> dict[str, Any]:
    if case == "eol-introduced":
        return review(EOL)
    if case == "eol-running":
        return review(EOL, old_image=EOL, dryRun=False)
    return review(DEPRECATED)


@pytest.mark.parametrize(("mode", "case"), sorted(TABLE))
def test_decision_table(mode: str, case: str) -> None:
    allowed, warned, audited = TABLE[(mode, case)]
    g = guard(mode, plan="Premium")
    decision = decide(case_request(case), [g], TODAY, EXEMPT)
    assert decision.mode == EnforcementMode(mode)
    assert decision.allowed is allowed
    assert bool(decision.warnings) is warned
    assert bool(decision.audit) is audited
    if not allowed:
        assert decision.outcome == "denied"
        assert decision.message.startswith("end-of-life Stakater product version refused: reloader 1.1.0")
        assert "upgrade to 1.4.21" in decision.message and "SupportEngagement platform/contract" in decision.message
    elif warned:
        assert decision.outcome == "warned"
        assert all(len(w) <= 256 for w in decision.warnings)
    else:
        assert decision.outcome == "allowed"


def test_a_supported_version_is_allowed_silently_in_every_mode() -> None:
    for mode in ("Audit", "Warn", "Enforce"):
        decision = decide(review(CURRENT), [guard(mode)], TODAY, EXEMPT)
        assert (decision.allowed, decision.warnings, decision.audit, decision.outcome) == (True, [], [], "allowed")


def test_an_update_that_changes_to_an_end_of_life_version_is_refused() -> None:
    decision = decide(review(EOL, old_image=CURRENT), [guard("Enforce")], TODAY, EXEMPT)
    assert not decision.allowed


@pytest.mark.parametrize(
    "request_",
    [
        review(EOL, namespace="kube-system"),  # exempt namespace
        {**review(EOL), "operation": "DELETE"},
        {**review(EOL), "subResource": "scale"},
        {**review(EOL), "object": {**workload("shop", "x", EOL), "kind": "Pod"}},
    ],
    ids=["exempt", "delete", "subresource", "not-a-workload"],
)
def test_requests_outside_the_webhooks_remit_are_skipped(request_: dict[str, Any]) -> None:
    decision = decide(request_, [guard("Enforce")], TODAY, EXEMPT)
    assert (decision.allowed, decision.mode, decision.outcome) == (True, None, "skipped")


def test_the_workload_opt_out_label_only_lowers_the_treatment_to_audit() -> None:
    request = review(EOL)
    request["object"]["metadata"]["labels"]["support.stakater.com/ignore"] = "true"
    decision = decide(request, [guard("Enforce")], TODAY, EXEMPT)
    assert (decision.allowed, decision.mode, decision.outcome, decision.warnings) == (True, "Audit", "allowed", [])
    (audited,) = decision.audit
    assert "reloader 1.1.0 is end of life" in audited[1]
    assert "audited only: the workload is labelled support.stakater.com/ignore=true" in audited[1]


def test_unguarded_namespaces_are_skipped() -> None:
    decision = decide(review(EOL), [], TODAY, EXEMPT)
    assert (decision.allowed, decision.mode, decision.outcome) == (True, None, "skipped")


def test_odd_input_never_raises() -> None:
    for request in ({}, {"operation": "CREATE", "object": "nonsense"}, {"operation": "CREATE", "object": {"kind": 3}}):
        assert decide(request, [guard("Enforce")], TODAY, EXEMPT).allowed


def test_response_carries_the_refusal_and_warnings() -> None:
    denied = response("u1", Decision(allowed=False, message="no", warnings=["w"]))
    assert denied["response"] == {
        "uid": "u1",
        "allowed": False,
        "status": {"code": 403, "reason": "Forbidden", "message": "no"},
        "warnings": ["w"],
    }
    assert response("u2", Decision())["response"] == {"uid": "u2", "allowed": True}


def test_enforce_refuses_a_workload_beyond_the_container_cap() -> None:
    from eligibility_operator.core.products.workloads import MAX_CONTAINERS

    request = review(CURRENT)
    containers = [{"name": f"c{i}", "image": f"example.com/app/c{i}:v1"} for i in range(MAX_CONTAINERS)]
    request["object"]["spec"]["template"]["spec"]["containers"] = [*containers, {"name": "eol", "image": EOL}]
    decision = decide(request, [guard("Enforce")], TODAY, EXEMPT)
    assert not decision.allowed and "more than 256 containers" in decision.message
    assert decide(request, [guard("Warn")], TODAY, EXEMPT).allowed
    request["operation"], request["oldObject"] = "UPDATE", request["object"]  # already capped: stays operable
    assert decide(request, [guard("Enforce")], TODAY, EXEMPT).allowed


# ------------------------------------------------------------- the rules, one by one


def test_rule_judged_only_creates_and_updates_of_workloads_in_guarded_namespaces() -> None:
    from eligibility_operator.core.admission.decisions import judged

    guards = [guard("Enforce")]
    assert judged(review(EOL), guards, EXEMPT) == EnforcementMode.ENFORCE
    assert judged(review(EOL, operation="DELETE"), guards, EXEMPT) is None
    assert judged(review(EOL, subResource="scale"), guards, EXEMPT) is None
    assert judged(review(EOL, namespace="kube-system"), guards, EXEMPT) is None
    assert judged(review(EOL), [], EXEMPT) is None
    not_a_workload = review(EOL)
    not_a_workload["object"]["kind"] = "ConfigMap"
    assert judged(not_a_workload, guards, EXEMPT) is None


def test_rule_opted_out_reads_only_the_workloads_own_label() -> None:
    from eligibility_operator.core.admission.decisions import opted_out
    from eligibility_operator.core.products.workloads import OPT_OUT_LABEL

    assert not opted_out(workload("shop", "x", EOL))
    assert opted_out(workload("shop", "x", EOL, labels={OPT_OUT_LABEL: "true"}))
    assert not opted_out(workload("shop", "x", EOL, labels={OPT_OUT_LABEL: "yes"}))
    assert not opted_out({"metadata": "not a mapping"})


def test_rule_refusal_names_what_refuses_under_enforce_only() -> None:
    from eligibility_operator.core.admission.decisions import _findings, refusal

    obj = workload("shop", "x", EOL)
    enforced = _findings(guard("Enforce"), obj, None, TODAY)
    audited = _findings(guard("Audit"), obj, None, TODAY)
    message = refusal(enforced, "shop/Deployment/x")
    assert message is not None and message.startswith("end-of-life Stakater product version refused: ")
    assert "shop/Deployment/x" in message
    assert refusal(audited, "shop/Deployment/x") is None
    assert refusal([], "shop/Deployment/x") is None

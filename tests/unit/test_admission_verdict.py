"""The admission verdict rule: Enforce refuses what would make a product version Ineligible."""

from __future__ import annotations

from typing import Any

import pytest

from eligibility_operator.api.models import EnforcementMode, SupportEngagementSpec
from eligibility_operator.core.admission.decisions import Decision, Guard, decide
from eligibility_operator.core.compat.matrix import CompiledMatrix, load_matrix
from eligibility_operator.core.compat.platforms import Platform

from ..builders import TODAY, engagement_spec, listing_platforms, small_matrix_spec
from ..builders import manifest as workload

MATRIX = load_matrix("test", 1, small_matrix_spec())
LISTING = load_matrix("test", 1, listing_platforms(small_matrix_spec()))  # knows Kubernetes 1.34


KUBE = Platform(kubernetes="v1.30.1")


def guard(mode: str = "Enforce", platform: Platform = KUBE, matrix: CompiledMatrix = MATRIX, **spec: Any) -> Guard:
    body = engagement_spec(enforcement={"mode": mode}, **spec)
    return Guard("platform", "contract", SupportEngagementSpec.model_validate(body), matrix, platform)


def review(image: str, *guards: Guard, old_image: str | None = None) -> Decision:
    request: dict[str, Any] = {
        "operation": "UPDATE" if old_image else "CREATE",
        "namespace": "team-a",
        "object": workload(image, name="x"),
    }
    if old_image:
        request["oldObject"] = workload(old_image, name="x")
    return decide(request, list(guards), TODAY, frozenset())


@pytest.mark.parametrize(
    ("image", "spec", "platform", "allowed", "outcome"),
    [
        ("stakater/reloader:v1.4.21", {}, Platform(kubernetes="v1.30.1"), True, "allowed"),
        ("stakater/reloader:v1.1.0", {}, Platform(kubernetes="v1.30.1"), False, "denied"),  # EndOfLife
        # platform > 1.33 on a line the matrix does not list: the matrix is behind, never refused nor warned
        ("stakater/reloader:v1.4.21", {}, Platform(kubernetes="v1.34.0"), True, "allowed"),
        ("stakater/reloader:latest", {}, Platform(kubernetes="v1.30.1"), True, "warned"),  # Limited
        # newer than the matrix lists: the matrix is behind (Stakater's item); never refused nor warned
        ("stakater/reloader:v1.5.0", {}, Platform(kubernetes="v1.30.1"), True, "allowed"),
        (
            "stakater/reloader:v1.4.21",
            {"products": [{"name": "reloader", "edition": "Enterprise"}]},
            Platform(kubernetes="v1.30.1"),
            True,
            "warned",
        ),
        (  # Stakater maintains versions: its action item, the version stays Eligible
            "stakater/reloader:v1.1.0",
            {"type": "ManagedService", "versionManagement": "Stakater"},
            Platform(kubernetes="v1.30.1"),
            True,
            "warned",
        ),
    ],
)
def test_enforce_refuses_exactly_what_would_be_ineligible(
    image: str, spec: dict[str, Any], platform: Platform, allowed: bool, outcome: str
) -> None:
    decision = review(image, guard("Enforce", platform, **spec))
    assert (decision.allowed, decision.outcome, decision.mode) == (allowed, outcome, EnforcementMode.ENFORCE)
    if not allowed:
        assert decision.message.endswith("the engagement's status lists what is supported.")
        assert "SupportEngagement platform/contract" in decision.message
    if outcome == "warned":
        assert decision.warnings and all(len(w) <= 256 for w in decision.warnings)


def test_platform_refusal_says_why() -> None:
    """A documented incompatibility: the matrix knows Kubernetes 1.34 and reloader's range stops at 1.33."""
    decision = review("stakater/reloader:v1.4.21", guard("Enforce", Platform(kubernetes="v1.34.0"), LISTING))
    assert decision.message.startswith(
        "Stakater product version ineligible for support refused: reloader 1.4.21 does not support this platform "
        "(reloader supports Kubernetes 1.19..1.33, the cluster runs Kubernetes 1.34.0)"
    )


def test_a_warning_leaves_out_stakaters_items() -> None:
    """An edition finding on a platform newer than the matrix lists: the warning names the edition only."""
    spec = {"products": [{"name": "reloader", "edition": "Enterprise"}]}
    decision = review("stakater/reloader:v1.4.21", guard("Enforce", Platform(kubernetes="v1.34.0"), **spec))
    assert decision.outcome == "warned"
    assert "the contract covers Enterprise" in " ".join(decision.warnings)
    assert "newer than the matrix lists" not in " ".join(decision.warnings)


def test_end_of_life_refusal_keeps_its_wording() -> None:
    decision = review("stakater/reloader:v1.1.0", guard())
    assert decision.message.startswith("end-of-life Stakater product version refused: reloader 1.1.0 is end of life")


def test_edition_warning_names_the_contract() -> None:
    decision = review(
        "stakater/reloader:v1.4.21", guard("Warn", products=[{"name": "reloader", "edition": "Enterprise"}])
    )
    assert decision.warnings == [
        "reloader 1.4.21 has Limited Support (the contract covers Enterprise, the cluster runs the Community image) "
        "[team-a/Deployment/x; SupportEngagement platform/contract]"
    ]


def test_an_update_that_keeps_an_ineligible_version_is_allowed_with_a_warning() -> None:
    decision = review("stakater/reloader:v1.1.0", guard(), old_image="stakater/reloader:v1.1.0")
    assert (decision.allowed, decision.outcome) == (True, "warned")


def test_supported_version_under_audit_records_nothing() -> None:
    assert review("stakater/reloader:v1.4.21", guard("Audit")).audit == []


@pytest.mark.parametrize("mode", ["Enforce", "Warn", "Audit"])
def test_a_version_newer_than_the_matrix_is_never_refused_warned_or_audited(mode: str) -> None:
    for image in ("stakater/reloader:v1.5.0", "stakater/reloader:v2.0.0", "stakater/reloader-enterprise:v1.5.3-ubi"):
        decision = review(image, guard(mode))
        assert (decision.allowed, decision.outcome, decision.warnings, decision.audit) == (True, "allowed", [], [])
        # an upgrade from an end-of-life version to it is allowed too
        upgrade = review(image, guard(mode), old_image="stakater/reloader:v1.1.0")
        assert (upgrade.allowed, upgrade.warnings) == (True, [])


def test_older_than_the_oldest_line_is_still_refused() -> None:
    decision = review("stakater/reloader:v1.0.3", guard())
    assert (decision.allowed, decision.outcome) == (False, "denied")


def test_newer_version_warned_for_another_reason_names_that_reason() -> None:
    decision = review(
        "stakater/reloader:v1.5.0", guard("Warn", products=[{"name": "reloader", "edition": "Enterprise"}])
    )
    assert decision.warnings == [
        "reloader 1.5.0 has Limited Support (the contract covers Enterprise, the cluster runs the Community image) "
        "[team-a/Deployment/x; SupportEngagement platform/contract]"
    ]

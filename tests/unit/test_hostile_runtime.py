"""Runtime bounds against the in-memory API: refused status writes back off and show; coverage is confined."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from eligibility_operator.core.products.workloads import MAX_CONTAINERS

from .test_reconciler import SE, harness, run, settle, until


class Refused(Exception):
    """What the API server's client raises for an answered, refused request."""

    status = 422


def test_a_refused_status_backs_off_and_shows_as_a_condition_and_a_metric() -> None:
    async def scenario() -> None:
        async with harness(retry_seconds=0.02) as h:
            attempts: list[float] = []
            original = h.kube.replace_status
            refusing = True

            def replace_status(plural: str, namespace: str | None, name: str, status: dict[str, Any]) -> bool:
                if plural == SE and status.get("products"):
                    attempts.append(0.0)
                    if refusing:
                        raise Refused("status too large")
                return original(plural, namespace, name, status)

            h.kube.replace_status = replace_status  # type: ignore[method-assign]
            h.add_matrix()
            h.add_workload("team-a", "reloader", "ghcr.io/stakater/reloader:v1.4.21")
            h.add_engagement("team-a")
            await until(lambda: bool(h.engagement_writes()), what="the failure written")
            written = h.engagement_writes()[-1]
            ready = next(c for c in written["conditions"] if c["type"] == "Ready")
            assert (ready["status"], ready["reason"]) == ("False", "StatusWriteFailed")
            assert "status too large" in ready["message"] and not written.get("products")
            assert h.metrics.status_writes_failing._value.get() == 1
            await asyncio.sleep(0.6)
            # 0.02, 0.04, 0.08, 0.16, 0.32 s: about 6 attempts in 0.6 s, where a fixed delay gives 30
            assert 3 <= len(attempts) <= 8, len(attempts)
            refusing = False
            await until(lambda: bool(h.engagement_writes()[-1].get("products")), timeout=5, what="the full status")
            await settle(h)
            assert h.metrics.status_writes_failing._value.get() == 0

    run(scenario)


def test_engagements_outside_trusted_namespaces_cover_only_their_own() -> None:
    async def scenario() -> None:
        async with harness(cross_namespace=frozenset({"platform"})) as h:
            h.add_matrix()
            h.add_workload("tenant", "mine", "ghcr.io/stakater/reloader:v1.4.21")
            h.add_workload("other-team", "theirs", "stakater/forecastle:v2.0.1")
            h.add_engagement("tenant", "grabby", coverage={})  # asks for the whole cluster
            h.add_engagement("platform", "trusted", coverage={})
            await settle(h)
            by_namespace = {w.namespace: w.status for w in h.kube.writes_to(SE)}
            grabby = json.dumps(by_namespace["tenant"])
            assert "tenant/Deployment/mine" in grabby and "other-team" not in grabby
            assert "other-team/Deployment/theirs" in json.dumps(by_namespace["platform"])
            ready = {
                w.namespace: next(c for c in w.status["conditions"] if c["type"] == "Ready")
                for w in h.kube.writes_to(SE)
            }
            assert "only namespace 'tenant' is covered" in ready["tenant"]["message"]
            assert "only namespace" not in ready["platform"]["message"]

    run(scenario)


def test_a_workload_with_too_many_images_is_named_in_ready() -> None:
    async def scenario() -> None:
        async with harness() as h:
            h.add_matrix()
            h.add_workload("team-a", "huge", *(f"r/i{i}:1" for i in range(MAX_CONTAINERS + 1)))
            h.add_engagement("team-a")
            await until(lambda: bool(h.engagement_writes()), what="a write")
            ready = next(c for c in h.engagement_writes()[-1]["conditions"] if c["type"] == "Ready")
            assert ready["status"] == "True" and "team-a/Deployment/huge" in ready["message"]

    run(scenario)

"""Resources whose watches list themselves (the workload kinds) are not counted, recorded or swept;
priming waits for their first listing instead."""

from __future__ import annotations

import asyncio

from eligibility_operator.core.products.workloads import WATCHED_RESOURCES
from eligibility_operator.runtime.controllers.priming import SeenObjects, engagement_key, workload_key
from tests.fake_kube import FakeKubeApi

WORKLOADS = {kind for *_, kind in WATCHED_RESOURCES}  # as runtime/app.py delegates them


def test_delegated_buckets_are_neither_counted_nor_swept_and_priming_waits_for_their_listing() -> None:
    kube = FakeKubeApi()
    kube.add("deployments", "ns", "d")
    kube.add("supportengagements", "ns", "e")
    seen = SeenObjects(kube)
    listed = {"done": False}
    seen.delegate(WORKLOADS, lambda: listed["done"])

    async def scenario() -> None:
        counts = await seen.counts()
        assert set(counts) == {"e", "r", "m", "n"} and counts["e"] == 1
        assert not any(call[1][0] == "deployments" for call in kube.calls)
        seen.seen(workload_key("ns", "Deployment", "d"))
        seen.seen(engagement_key("ns", "e"))
        assert len(seen) == 1  # the workload is the watch's to track
        waiting = asyncio.create_task(seen.primed(counts, recheck_seconds=60))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # every count is met, but the workload listing is not complete
        listed["done"] = True
        assert await asyncio.wait_for(waiting, 2)
        kube.delete("supportengagements", "ns", "e")
        assert await seen.stale() == [engagement_key("ns", "e")]
        assert not any(call[0] == "list_keys" and call[1][0] == "deployments" for call in kube.calls)

    asyncio.run(scenario())

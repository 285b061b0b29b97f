"""A replica with a webhook is ready (``/readyz``, which sends the Service's reviews to it) only once the
webhook accepts connections, or has failed: ready before, it would have reviews refused (seen in
``tests/faults/test_ha.py``'s kill-the-leader test once start-up got faster)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from eligibility_operator.runtime.app import _prime
from eligibility_operator.runtime.controllers.engagements import Reconciler


class Primed:
    def __init__(self) -> None:
        self.done = False

    async def prime(self) -> None:
        self.done = True


def test_priming_waits_for_the_webhook_to_listen() -> None:
    async def main() -> None:
        reconciler, listening = Primed(), asyncio.Event()
        webhook = asyncio.create_task(asyncio.sleep(3600))
        priming = asyncio.create_task(_prime(cast(Reconciler, reconciler), listening, webhook))
        await asyncio.sleep(0.05)
        assert not reconciler.done
        listening.set()
        await asyncio.wait_for(priming, 5)
        assert reconciler.done
        webhook.cancel()

    asyncio.run(main())


def test_a_failed_webhook_does_not_hold_readiness_and_no_webhook_none() -> None:
    async def main() -> None:
        async def fails() -> Any:
            raise ValueError("no certificate")

        failed, none = Primed(), Primed()
        webhook = asyncio.create_task(fails())
        await asyncio.wait_for(_prime(cast(Reconciler, failed), asyncio.Event(), webhook), 5)
        await asyncio.wait_for(_prime(cast(Reconciler, none), asyncio.Event(), None), 5)
        assert failed.done and none.done
        await asyncio.gather(webhook, return_exceptions=True)

    asyncio.run(main())

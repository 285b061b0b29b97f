"""A replica with a webhook is ready (``/readyz``, which sends the Service's reviews to it) only once the
webhook accepts connections, or has failed: ready before, it would have reviews refused (seen in
``tests/faults/test_ha.py``'s kill-the-leader test once start-up got faster). Priming
(:meth:`Routes.start`'s ``before_ready``) waits for :func:`_listening` first."""

from __future__ import annotations

import asyncio
from typing import Any

from eligibility_operator.runtime.app import _listening


def test_readiness_waits_for_the_webhook_to_listen() -> None:
    async def main() -> None:
        listening = asyncio.Event()
        webhook = asyncio.create_task(asyncio.sleep(3600))
        waiting = asyncio.create_task(_listening(listening, webhook))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        listening.set()
        await asyncio.wait_for(waiting, 5)
        webhook.cancel()

    asyncio.run(main())


def test_a_failed_webhook_does_not_hold_readiness() -> None:
    async def main() -> None:
        async def fails() -> Any:
            raise ValueError("no certificate")

        webhook = asyncio.create_task(fails())
        await asyncio.wait_for(_listening(asyncio.Event(), webhook), 5)
        await asyncio.gather(webhook, return_exceptions=True)

    asyncio.run(main())

"""A replica with a webhook is ready (``/readyz``, which sends the Service's reviews to it) only once its
state is complete and the webhook accepts connections: ready before, it would have reviews refused
(seen in ``tests/faults/test_ha.py``'s kill-the-leader test once start-up got faster). The controllers
do not wait for the webhook: a certificate that never comes stops admission here, never the statuses."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from eligibility_operator.runtime.serving.http import make_app
from eligibility_operator.runtime.state import OperatorState


def test_ready_once_the_state_is_complete_and_the_webhook_listens() -> None:
    async def main() -> None:
        with_webhook, without = OperatorState(), OperatorState()
        with_webhook.webhook_listening = asyncio.Event()
        clients = [TestClient(TestServer(make_app(s, CollectorRegistry(), list))) for s in (with_webhook, without)]
        for client in clients:
            await client.start_server()
        try:

            async def readyz() -> list[tuple[int, str]]:
                out = []
                for client in clients:
                    response = await client.get("/readyz")
                    out.append((response.status, (await response.text()).strip()))
                return out

            assert await readyz() == [(503, "initial listing not finished")] * 2
            with_webhook.ready.set()
            without.ready.set()
            assert await readyz() == [(503, "admission webhook not listening yet"), (200, "ok")]
            with_webhook.webhook_listening.set()
            assert await readyz() == [(200, "ok"), (200, "ok")]
        finally:
            for client in clients:
                await client.close()

    asyncio.run(main())

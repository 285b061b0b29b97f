"""The operator's own API client (:class:`KubeClient`, its one aiohttp session) for tests on the real API
server: on an event loop of its own in a thread, so that its blocking calls are made from the test's
thread, as the operator makes them from worker threads."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from eligibility_operator.runtime.kube.api import KubeClient, KubeRequests
from eligibility_operator.runtime.kube.connection import ApiSession
from eligibility_operator.runtime.scan import connect


@contextlib.contextmanager
def kube_client(kubeconfig: Path, user_agent: str = "eligibility-operator-tests") -> Iterator[KubeClient]:
    """A KubeClient logged in with ``kubeconfig``'s current context; closed on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="kube-client-loop", daemon=True)
    thread.start()

    async def make() -> KubeClient:
        return KubeClient(KubeRequests(ApiSession(lambda: connect(str(kubeconfig), None, user_agent))))

    made = asyncio.run_coroutine_threadsafe(make(), loop).result(30)
    try:
        yield made
    finally:
        asyncio.run_coroutine_threadsafe(made.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

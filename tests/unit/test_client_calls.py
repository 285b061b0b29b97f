"""The operator's own API calls go through its one aiohttp session: the requests they send, the answers
they read, a 401 answered by logging in again, and the blocking interface (``KubeApi``) waiting for the
event loop from a thread; a login retiring the old session without cutting its watches; ``check
--cluster`` reading the platform with the operator's reader.

A small aiohttp server stands in for the API server (the real-API tests, ``tests/faults/test_ha.py`` (the
Lease), ``tests/cluster/test_deploy.py`` (a revoked token), ``tests/cluster/test_platform_detection.py``
and the operator tests, cover the same calls against kube-apiserver).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from eligibility_operator.runtime.controllers.matrix_store import ConfigMapStore, StoredCopy
from eligibility_operator.runtime.kube.api import KubeClient, KubeRequests
from eligibility_operator.runtime.kube.connection import ApiSession, Connection
from eligibility_operator.runtime.kube.errors import ApiHttpError
from eligibility_operator.runtime.kube.lease import KubeLeaseStore, LeaseConflict, LeaseRecord
from eligibility_operator.runtime.leadership import AlwaysLeader


class Server:
    """Records every request; answers from ``answers`` ((method, path) -> (status, JSON)), else 200 {}."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.answers: dict[tuple[str, str], list[tuple[int, Any]]] = {}

    def answer(self, method: str, path: str, *replies: tuple[int, Any]) -> None:
        self.answers[(method, path)] = list(replies)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "type": request.headers.get("Content-Type"),
                "auth": request.headers.get("Authorization"),
                "agent": request.headers.get("User-Agent"),
                "body": json.loads(body) if body else None,
            }
        )
        replies = self.answers.get((request.method, request.path))
        status, answer = replies.pop(0) if replies else (200, {})
        return web.json_response(answer, status=status)


def api_app(server: Server) -> web.Application:
    """``server`` answering every method and path."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    return app


@contextlib.asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[int]:
    """``app`` on a free port of 127.0.0.1 (the port), stopped on leaving."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def _run(check: Callable[[Server, KubeClient, list[str]], Awaitable[None]]) -> None:
    async def main() -> None:
        server = Server()
        tokens: list[str] = []
        async with served(api_app(server)) as port:

            def login() -> Connection:  # a new token at each login, as a rotated service-account token
                tokens.append(f"t{len(tokens) + 1}")
                headers = {"Authorization": f"Bearer {tokens[-1]}", "User-Agent": "eo-test"}
                return Connection(f"http://127.0.0.1:{port}", ssl.create_default_context(), headers)

            kube = KubeClient(KubeRequests(ApiSession(login)))
            try:
                await check(server, kube, tokens)
            finally:
                await kube.close()

    asyncio.run(main())


def test_status_patch_event_and_a_gone_object() -> None:
    async def check(server: Server, kube: KubeClient, _: list[str]) -> None:
        path = "/apis/support.stakater.com/v1alpha1/namespaces/ns/supportengagements/x/status"
        server.answer("PATCH", path, (200, {}), (404, {"message": "not found"}))
        status = {"eligibility": "Eligible"}
        assert await asyncio.to_thread(kube.replace_status, "supportengagements", "ns", "x", status)
        assert not await asyncio.to_thread(kube.replace_status, "supportengagements", "ns", "x", status)
        patch = server.seen[0]
        assert patch["type"] == "application/json-patch+json" and patch["agent"] == "eo-test"
        assert patch["body"] == [{"op": "add", "path": "/status", "value": status}]
        await asyncio.to_thread(
            kube.emit_event, namespace="ns", name="x", uid="u", kind="SupportEngagement", reason="R", message="m",
            warning=True,
        )  # fmt: skip
        event = server.seen[-1]
        assert event["method"] == "POST" and event["path"] == "/api/v1/namespaces/ns/events"
        assert event["body"]["involvedObject"]["uid"] == "u" and event["body"]["type"] == "Warning"

    _run(check)


def test_a_refused_request_raises_with_the_servers_message() -> None:
    async def check(server: Server, kube: KubeClient, _: list[str]) -> None:
        server.answer("GET", "/version", (503, {"message": "etcd is away"}))
        with pytest.raises(ApiHttpError, match="HTTP 503 Service Unavailable: etcd is away") as caught:
            await asyncio.to_thread(kube.platform)
        assert caught.value.status == 503
        server.answer("GET", "/version", (200, {"gitVersion": "v1.31.2"}))
        server.answer("GET", "/apis/config.openshift.io/v1/clusterversions/version", (404, {}))
        assert (await kube.requests.platform()).kubernetes == "v1.31.2"  # the asynchronous interface

    _run(check)


def test_a_401_logs_in_again_and_retries_once() -> None:
    async def check(server: Server, kube: KubeClient, tokens: list[str]) -> None:
        server.answer("GET", "/version", (401, {"message": "token expired"}), (200, {"gitVersion": "v1.30.0"}))
        server.answer("GET", "/apis/config.openshift.io/v1/clusterversions/version", (403, {}))
        platform = await asyncio.to_thread(kube.platform)
        assert platform.kubernetes == "v1.30.0" and platform.openshift is None
        assert [r["auth"] for r in server.seen[:2]] == ["Bearer t1", "Bearer t2"] and tokens == ["t1", "t2"]

    _run(check)


def test_lists_count_and_keys_as_metadata() -> None:
    async def check(server: Server, kube: KubeClient, _: list[str]) -> None:
        path = "/apis/apps/v1/namespaces/a/deployments"
        server.answer("GET", path, (200, {"metadata": {"continue": "c", "remainingItemCount": 4}, "items": [{}]}))
        assert await asyncio.to_thread(kube.count, "apps", "v1", "deployments", "a") == 5
        assert server.seen[-1]["query"] == {"limit": "1"}
        page = {"metadata": {"continue": "next"}, "items": [{"metadata": {"namespace": "a", "name": "d1"}}]}
        last = {"metadata": {}, "items": [{"metadata": {"namespace": "a", "name": "d2"}}]}
        server.answer("GET", path, (200, page), (200, last))
        assert await asyncio.to_thread(kube.list_keys, "apps", "v1", "deployments", "a") == {("a", "d1"), ("a", "d2")}
        assert server.seen[-1]["query"] == {"limit": "500", "continue": "next"}
        server.answer("GET", "/apis/example.com/v1/nothing", (404, {}))
        assert await asyncio.to_thread(kube.count, "example.com", "v1", "nothing") is None  # 404: not served

    _run(check)


def test_lease_store_maps_conflicts() -> None:
    async def check(server: Server, kube: KubeClient, _: list[str]) -> None:
        store = KubeLeaseStore(kube, "ops", "lease")
        path = "/apis/coordination.k8s.io/v1/namespaces/ops/leases"
        server.answer("GET", f"{path}/lease", (404, {}))
        assert await asyncio.to_thread(store.get) is None
        lease = {"metadata": {"resourceVersion": "5"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 10}}
        server.answer("POST", path, (201, lease), (409, {}))
        created = await asyncio.to_thread(store.create, LeaseRecord(holder="a", duration_seconds=10))
        assert created.holder == "a" and created.resource_version == "5"
        assert server.seen[-1]["body"]["spec"]["holderIdentity"] == "a"
        with pytest.raises(LeaseConflict, match="exists already"):
            await asyncio.to_thread(store.create, LeaseRecord(holder="b"))
        server.answer("PUT", f"{path}/lease", (409, {}))
        with pytest.raises(LeaseConflict, match="changed since it was read"):
            await asyncio.to_thread(store.update, created)
        assert server.seen[-1]["body"]["metadata"]["resourceVersion"] == "5"

    _run(check)


def test_matrix_store_replaces_its_configmap_at_the_version_read() -> None:
    async def check(server: Server, kube: KubeClient, _: list[str]) -> None:
        store = ConfigMapStore(kube, "ops", AlwaysLeader())
        path = "/api/v1/namespaces/ops/configmaps"
        copy = StoredCopy(b"products: {}", None, "r1", "https://x", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
        server.answer("GET", f"{path}/eligibility-operator-matrices", (404, {}))
        await asyncio.to_thread(store.save, "m", copy)
        created = server.seen[-1]
        assert created["method"] == "POST" and created["path"] == path
        stored = {**created["body"], "metadata": {**created["body"]["metadata"], "resourceVersion": "9"}}
        server.answer("GET", f"{path}/eligibility-operator-matrices", (200, stored), (200, stored))
        assert (await asyncio.to_thread(store.load))["m"].revision == "r1"
        await asyncio.to_thread(store.remove, "m")
        replaced = server.seen[-1]
        assert replaced["method"] == "PUT" and replaced["body"]["metadata"]["resourceVersion"] == "9"
        assert not replaced["body"]["data"] and not replaced["body"]["binaryData"]

    _run(check)


def test_a_blocking_call_on_the_loop_raises_instead_of_waiting_for_ever() -> None:
    async def check(server: Server, kube: KubeClient, _: list[str]) -> None:
        with pytest.raises(RuntimeError, match="on the event loop"):
            kube.platform()

    _run(check)


def test_an_unreachable_server_fails_the_call() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main() -> None:
        connection = Connection(f"http://127.0.0.1:{port}", ssl.create_default_context(), {})
        kube = KubeClient(KubeRequests(ApiSession(lambda: connection)))
        try:
            with pytest.raises(aiohttp.ClientConnectionError):
                await asyncio.to_thread(kube.replace_status, "compatibilitymatrices", None, "x", {"products": 1})
        finally:
            await kube.close()

    asyncio.run(main())


def test_a_named_server_is_reached_when_every_worker_thread_waits_for_the_loop() -> None:
    """The blocking calls occupy the default executor's threads while their requests run on the loop; a new
    connection to a server named by host name must not need one of those threads to resolve the name."""

    async def main() -> None:
        server = Server()
        async with served(api_app(server)) as port:
            asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
            connection = Connection(f"http://localhost:{port}", ssl.create_default_context(), {})
            kube = KubeClient(KubeRequests(ApiSession(lambda: connection)))
            server.answer("GET", "/apis/config.openshift.io/v1/clusterversions/version", (404, {}))
            try:
                async with asyncio.timeout(10):  # with the loop's own resolver: waits until WAIT_LIMIT
                    await asyncio.to_thread(kube.platform)
            finally:
                await kube.close()

    asyncio.run(main())


@pytest.mark.parametrize("group_served", [True, False], ids=["openshift", "plain-kubernetes"])
def test_check_cluster_reads_the_platform_with_the_operators_reader(group_served: bool) -> None:
    """A 403 on ClusterVersion: an unreadable OpenShift version where config.openshift.io is served
    (PlatformCompatible Unknown), plain Kubernetes where it is not; ``check --cluster`` and the operator
    say the same."""
    from eligibility_operator.runtime.scan import scan

    async def main() -> None:
        server = Server()

        def answers() -> None:
            server.answer("GET", "/version", (200, {"gitVersion": "v1.31.2"}))
            server.answer("GET", "/apis/config.openshift.io/v1/clusterversions/version", (403, {"message": "no"}))
            server.answer("GET", "/apis/config.openshift.io", (200, {}) if group_served else (404, {}))

        async with served(api_app(server)) as port:

            def login() -> Connection:
                return Connection(f"http://127.0.0.1:{port}", ssl.create_default_context(), {})

            kube = KubeClient(KubeRequests(ApiSession(login)))
            try:
                answers()
                scanned = (await scan(login, "ctx", resources=())).platform
                answers()
                operator = await asyncio.to_thread(kube.platform)
            finally:
                await kube.close()
        assert scanned == operator
        assert scanned.kubernetes == "v1.31.2" and scanned.openshift is None
        if group_served:
            assert "HTTP 403 Forbidden: no" in str(scanned.openshift_problem)
        else:
            assert scanned.openshift_problem is None

    asyncio.run(main())


def test_a_stream_on_the_old_session_goes_on_after_a_login() -> None:
    """A login (after a 401 on any request) retires the session: a watch streaming on it goes on until the
    server ends it. Closed at once, its reader would wait for its read timeout (70 s for the workload
    watches) with nothing to read."""

    async def main() -> None:
        async def stream(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse()
            await response.prepare(request)
            for _ in range(8):
                await response.write(b"{}\n")
                await asyncio.sleep(0.1)
            return response

        app = web.Application()
        app.router.add_get("/watch", stream)
        async with served(app) as port:
            api = ApiSession(lambda: Connection(f"http://127.0.0.1:{port}", ssl.create_default_context(), {}))
            chunks, first = 0, api.session()
            try:
                async with first.get(f"{api.server}/watch") as response:
                    async with asyncio.timeout(5):
                        async for _ in response.content.iter_any():
                            chunks += 1
                            if chunks == 2:
                                await api.relogin(first)  # e.g. a status write answered 401
                assert api.session() is not first  # the next request uses the new login's session
            finally:
                await api.close()
        assert chunks >= 3  # read to the end after the login

    asyncio.run(main())


def test_one_login_for_every_401_on_the_same_session_and_at_most_one_per_interval() -> None:
    """After a token rotation every watch and request meets a 401 on the same session: one login serves
    them all; while 401s go on (revoked token), at most one login per ``login_every``; credentials that
    come back unchanged keep the session; after close, no request makes a new session."""

    async def main() -> None:
        logins: list[str] = []
        tokens = iter(["a", "b", "b", "c"])

        def login() -> Connection:
            token = next(tokens)
            logins.append(token)
            return Connection("https://127.0.0.1:1", ssl.create_default_context(), {"Authorization": f"Bearer {token}"})

        api = ApiSession(login, login_every=0.2)
        first = api.session()
        await asyncio.gather(*(api.relogin(first) for _ in range(20)))  # 20 watches, one 401 each
        assert logins == ["a", "b"]
        second = api.session()
        assert second is not first
        await api.relogin(second)  # too soon after the last login: none
        assert logins == ["a", "b"]
        await asyncio.sleep(0.25)
        await api.relogin(second)  # the same token comes back: the session is kept
        assert logins == ["a", "b", "b"] and api.session() is second
        await api.relogin(first)  # a 401 on a retired session: already renewed
        assert logins == ["a", "b", "b"]
        await api.close()
        with pytest.raises(RuntimeError, match="closed"):
            api.session()

    asyncio.run(main())

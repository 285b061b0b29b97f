"""Servers under hostile clients, on loopback: slow heads, slow bodies, floods, disconnects, forged reviews."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from eligibility_operator.core.admission.reviews import ReviewError, parse_review
from eligibility_operator.runtime.serving import limits as serving

LIMITS = serving.Limits(
    max_connections=4, handshake_timeout=1.0, header_timeout=0.5, body_timeout=0.5, max_body_bytes=1000
)


async def _echo(request: web.Request) -> web.Response:
    try:
        body = await serving.read_body(request, LIMITS)
    except serving.BodyError as exc:
        logging.getLogger("eligibility_operator").warning("body: %s", exc.text.strip())
        return web.Response(status=exc.status, text=exc.text)
    return web.Response(text=f"{len(body)}\n")


def _serve(test: Callable[[int], Awaitable[None]]) -> None:
    async def main() -> None:
        app = web.Application(client_max_size=LIMITS.max_body_bytes)
        app.add_routes([web.post("/", _echo)])
        runner = serving.runner(app, LIMITS)
        await runner.setup()
        listener = await serving.start(runner, "127.0.0.1", 0, LIMITS)
        port = listener.sockets[0].getsockname()[1]
        try:
            await asyncio.wait_for(test(port), timeout=20)
        finally:
            await serving.stop(listener, runner)

    asyncio.run(main())


async def _request(port: int, body: bytes = b"{}", head_extra: str = "") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{head_extra}\r\n"
    writer.write(head.encode() + body)
    await writer.drain()
    line = await reader.readline()
    writer.close()
    return line


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(1024):
                pass
        return True
    except ConnectionError:
        return True
    except TimeoutError:
        return False


def test_a_slow_request_head_is_cut_off() -> None:
    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\n")
        for _ in range(5):  # a header line every 0.2 s, never the end of the head
            await asyncio.sleep(0.2)
            try:
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()
            except ConnectionError:
                break
        assert await _closed_within(reader, 3)
        assert time.monotonic() - started < 3

    _serve(test)


def test_a_slow_body_gets_408(caplog: pytest.LogCaptureFixture) -> None:
    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n" + b"x" * 10)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 3)
        assert line.startswith(b"HTTP/1.1 408"), line
        writer.close()

    _serve(test)


def test_oversized_bodies_get_413_without_being_read() -> None:
    async def test(port: int) -> None:
        assert (await _request(port, b"x" * 2000)).startswith(b"HTTP/1.1 413")
        assert (await _request(port, b"x" * 100)).startswith(b"HTTP/1.1 200")

    _serve(test)


def test_a_connection_flood_is_capped_and_the_server_stays_usable() -> None:
    async def test(port: int) -> None:
        hogs = [await asyncio.open_connection("127.0.0.1", port) for _ in range(LIMITS.max_connections + 20)]
        await asyncio.sleep(0.05)
        closed = await asyncio.gather(*(_closed_within(r, 0.3) for r, _ in hogs))
        assert sum(not c for c in closed) <= LIMITS.max_connections, "at most the cap stays open"
        assert not any(closed[-LIMITS.max_connections :]), "the oldest idle connections were evicted first"
        # While idle connections fill every slot, a client that sends a request still gets in (and answered).
        assert (await _request(port)).startswith(b"HTTP/1.1 200")
        for _, w in hogs:
            w.close()

    _serve(test)


def test_a_client_leaving_mid_body_logs_one_line(caplog: pytest.LogCaptureFixture) -> None:
    async def test(port: int) -> None:
        for _ in range(3):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n" + b"x" * 10)
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.transport.abort()
        await asyncio.sleep(0.2)

    with caplog.at_level(logging.DEBUG):
        _serve(test)
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# ------------------------------------------------------------------------------------ review parsing


def _review(**overrides: Any) -> bytes:
    review: dict[str, Any] = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "operation": "CREATE"},
    }
    review.update(overrides)
    return json.dumps(review).encode()


def test_a_review_is_read() -> None:
    uid, request = parse_review(_review())
    assert uid == "705ab4f5-6393-11e8-b7cc-42010a800002" and request["operation"] == "CREATE"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"[]", "not a JSON object"),
        (_review(apiVersion="admission.k8s.io/v1beta1"), "not an admission.k8s.io/v1 AdmissionReview"),
        (_review(kind="Pod"), "not an admission.k8s.io/v1 AdmissionReview"),
        (_review(request=None), "no request"),
        (_review(request={"operation": "CREATE"}), "uid"),
        (_review(request={"uid": 5}), "uid"),
        (_review(request={"uid": "x" * 500}), "uid"),
        (_review(request={"uid": "a\nb"}), "uid"),
    ],
    ids=[
        "deep-array",
        "deep-object",
        "bytes",
        "array",
        "v1beta1",
        "kind",
        "no-request",
        "no-uid",
        "int-uid",
        "long-uid",
        "newline-uid",
    ],
)
def test_what_is_not_a_review_is_refused(body: bytes, why: str) -> None:
    with pytest.raises(ReviewError, match=why):
        parse_review(body)


# --------------------------------------------------------------------------- bad requests, body budget


def test_bad_requests_log_no_traceback_and_few_lines(caplog: pytest.LogCaptureFixture) -> None:
    """aiohttp logs each malformed request with a traceback ("Error handling request"); here one line each,
    at most the filter's burst per window (issue 37: 117 tracebacks during a hostile review)."""

    async def test(port: int) -> None:
        for _ in range(30):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 3)
            assert b" 400 " in line, line
            writer.close()

    with caplog.at_level(logging.DEBUG):
        _serve(test)
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    lines = [r for r in caplog.records if "Error handling request" in r.getMessage()]
    assert 1 <= len(lines) <= 10, len(lines)


def test_the_body_budget_evicts_the_body_arriving_longest() -> None:
    limits = serving.Limits(
        max_connections=16, header_timeout=5.0, body_timeout=5.0, max_body_bytes=1000, max_body_total=1000
    )

    async def echo(request: web.Request) -> web.Response:
        try:
            body = await serving.read_body(request, limits)
        except serving.BodyError as exc:
            return web.Response(status=exc.status, text=exc.text)
        return web.Response(text=f"{len(body)}\n")

    async def main() -> None:
        app = web.Application(client_max_size=limits.max_body_bytes)
        app.add_routes([web.post("/", echo)])
        runner = serving.runner(app, limits)
        await runner.setup()
        listener = await serving.start(runner, "127.0.0.1", 0, limits)
        port = listener.sockets[0].getsockname()[1]
        try:
            slow = []
            for _ in range(2):  # two bodies of 450 bytes announced, 10 sent: 900 of the 1,000 reserved
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 450\r\n\r\n" + b"x" * 10)
                await writer.drain()
                slow.append((reader, writer))
                await asyncio.sleep(0.1)
            assert (await _request(port, b"y" * 300)).startswith(b"HTTP/1.1 200")  # the oldest made room
            assert await _closed_within(slow[0][0], 1.0), "the body arriving longest was evicted"
            assert serving.connections(runner).evicted == 1
            for _, writer in slow:
                writer.close()
        finally:
            await serving.stop(listener, runner)

    asyncio.run(main())

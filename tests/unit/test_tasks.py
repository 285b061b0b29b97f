"""tasks.py: kept references, failures counted and logged once, cancellation on close, retry with backoff."""

from __future__ import annotations

import asyncio
import logging

import pytest

from eligibility_operator.runtime.tasks import BackgroundTasks, Backoff, retry


def test_backoff_doubles_up_to_the_maximum_and_resets() -> None:
    backoff = Backoff(1.0, 5.0)
    assert [backoff.delay() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.delay() == 1.0


def test_retry_counts_and_logs_each_failure_once(caplog: pytest.LogCaptureFixture) -> None:
    errors: list[str] = []
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("refused")
        return "done"

    async def scenario() -> str:
        return await retry(
            flaky, operation="thing", what="doing the thing", count_error=errors.append, backoff=Backoff(0.001, 0.01)
        )

    with caplog.at_level(logging.WARNING, logger="eligibility_operator"):
        assert asyncio.run(scenario()) == "done"
    assert errors == ["thing", "thing"]
    assert [r.getMessage().split(",")[0] for r in caplog.records] == ["doing the thing failed"] * 2


def test_a_failed_task_is_counted_and_logged_once_and_reported_stopped(caplog: pytest.LogCaptureFixture) -> None:
    errors: list[str] = []

    async def boom() -> None:
        raise RuntimeError("bug")

    async def scenario() -> list[str]:
        tasks = BackgroundTasks(errors.append)
        tasks.start(boom(), name="loop", forever=True)
        tasks.start(asyncio.sleep(0), name="one-off")
        await asyncio.sleep(0.01)
        stopped = tasks.stopped()
        assert len(tasks) == 0  # finished tasks are released
        await tasks.close()
        return stopped

    with caplog.at_level(logging.ERROR, logger="eligibility_operator"):
        assert asyncio.run(scenario()) == ["loop"]
    assert errors == ["task"]
    assert len(caplog.records) == 1 and "loop" in caplog.records[0].getMessage()


def test_a_critical_task_may_finish_but_not_fail() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        tasks = BackgroundTasks()

        async def fails() -> None:
            raise ValueError

        tasks.start(asyncio.sleep(0), name="prime", critical=True)
        await asyncio.sleep(0.01)
        finished = tasks.stopped()
        tasks.start(fails(), name="prime-2", critical=True)
        await asyncio.sleep(0.01)
        failed = tasks.stopped()
        await tasks.close()
        return finished, failed

    assert asyncio.run(scenario()) == ([], ["prime-2"])


def test_close_cancels_everything_and_waits() -> None:
    cancelled: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    async def scenario() -> int:
        tasks = BackgroundTasks()
        tasks.start(forever("a"), name="a", forever=True)
        tasks.call_later(60, lambda: None, name="later")
        await asyncio.sleep(0.01)
        await tasks.close()
        return len(tasks)

    assert asyncio.run(scenario()) == 0
    assert cancelled == ["a"]


def test_call_later_calls_plain_and_async_callbacks() -> None:
    calls: list[str] = []

    async def later_async() -> None:
        calls.append("async")

    async def scenario() -> None:
        tasks = BackgroundTasks()
        tasks.call_later(0.001, lambda: calls.append("plain"), name="p")
        tasks.call_later(0.002, later_async, name="a")
        await asyncio.sleep(0.05)
        await tasks.close()

    asyncio.run(scenario())
    assert calls == ["plain", "async"]

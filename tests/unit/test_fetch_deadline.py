"""The whole-fetch deadline (matrix_source.deadline): a worker blocked on a socket is woken by shutting the
socket down from outside, the caller gets TimedOut on time, and workers cannot pile up."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from eligibility_operator.matrix_source import Reason, SourceError
from eligibility_operator.matrix_source import deadline as module
from eligibility_operator.matrix_source.deadline import Deadline, within


def test_a_blocked_read_is_woken_and_the_caller_times_out_on_time() -> None:
    ours, theirs = socket.socketpair()
    ended = threading.Event()

    def work(deadline: Deadline) -> bytes:
        deadline.track(ours)
        try:
            return ours.recv(1)  # nothing is ever sent
        finally:
            ended.set()

    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        within(0.5, "https://example/m.yaml", work)
    assert err.value.reason == Reason.TIMED_OUT and "within 0.5 s" in err.value.message
    assert time.monotonic() - started < 1.5
    assert ended.wait(2), "the worker was not woken"
    ours.close()
    theirs.close()


def test_results_and_errors_within_the_deadline_are_returned() -> None:
    assert within(2, "x", lambda d: d.remaining() > 0) is True
    with pytest.raises(SourceError) as err:
        within(2, "x", lambda d: (_ for _ in ()).throw(SourceError(Reason.TOO_LARGE, "big")))
    assert err.value.reason == Reason.TOO_LARGE


def test_a_tracked_socket_after_expiry_is_shut_at_once_and_guards_are_closed() -> None:
    ours, theirs = socket.socketpair()
    deadline = Deadline(10, "x")
    deadline.expire()
    deadline.track(ours)
    assert ours.recv(1) == b""  # shut down: reads end at once
    deadline.release()
    ours.close()
    theirs.close()
    with pytest.raises(SourceError):
        deadline.remaining()
    assert isinstance(deadline.or_error("reset"), SourceError) and deadline.or_error("reset").reason == Reason.TIMED_OUT
    assert Deadline(10, "x").or_error("reset").reason == Reason.SOURCE_UNREACHABLE


def test_workers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that ignores its deadline keeps its slot; with every slot held, a fetch fails at once."""
    monkeypatch.setattr(module, "MAX_WORKERS", 1)
    monkeypatch.setattr(module, "_SLOTS", threading.BoundedSemaphore(1))
    release = threading.Event()
    with pytest.raises(SourceError):
        within(0.2, "stuck", lambda d: release.wait(10))
    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        within(5, "next", lambda d: b"")
    assert "earlier fetches have not ended" in err.value.message and time.monotonic() - started < 0.5
    release.set()
    end = time.monotonic() + 2
    while time.monotonic() < end:
        try:
            assert within(5, "after", lambda d: b"ok") == b"ok"
            break
        except SourceError:
            time.sleep(0.05)
    else:
        pytest.fail("the slot was not given back")

"""Leader election logic with a manual clock and an in-memory Lease that checks resourceVersions like
the API server does (tests/faults/test_ha.py runs the same elector against the real API server)."""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import replace

import pytest

from eligibility_operator.runtime.leadership import LeaderElector, LeaseConflict, LeaseRecord, LeaseTiming

TIMING = LeaseTiming(duration=10, renew_deadline=7, retry_period=2)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class MemoryLease:
    """One Lease with optimistic concurrency; counts calls, can be made to fail."""

    def __init__(self) -> None:
        self.record: LeaseRecord | None = None
        self._versions = itertools.count(1)
        self.calls = 0
        self.down = False

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionError("API server unreachable")

    def get(self) -> LeaseRecord | None:
        self._check()
        return self.record

    def create(self, record: LeaseRecord) -> LeaseRecord:
        self._check()
        if self.record is not None:
            raise LeaseConflict("exists")
        self.record = replace(record, resource_version=str(next(self._versions)))
        return self.record

    def update(self, record: LeaseRecord) -> LeaseRecord:
        self._check()
        if self.record is None or record.resource_version != self.record.resource_version:
            raise LeaseConflict("changed")
        self.record = replace(record, resource_version=str(next(self._versions)))
        return self.record


def pair() -> tuple[MemoryLease, Clock, LeaderElector, LeaderElector]:
    lease, clock = MemoryLease(), Clock()
    a = LeaderElector(lease, "a", TIMING, clock=clock)
    b = LeaderElector(lease, "b", TIMING, clock=clock)
    return lease, clock, a, b


def test_timing_must_leave_the_leader_time_to_stop() -> None:
    for bad in ((10, 10, 2), (10, 7, 7), (10, 12, 2), (0.5, 0.4, 0.1), (10, 7, 0)):
        with pytest.raises(ValueError, match=r"leader election|whole number"):
            LeaseTiming(*bad)


def test_first_candidate_leads_the_second_follows() -> None:
    lease, _, a, b = pair()
    assert a.try_acquire_or_renew() and a.may_write()
    assert not b.try_acquire_or_renew() and not b.may_write()
    assert b.leader == "a"
    assert lease.record is not None and lease.record.holder == "a" and lease.record.duration_seconds == 10


def test_renewal_keeps_the_acquire_time_and_transitions() -> None:
    lease, clock, a, _ = pair()
    a.try_acquire_or_renew()
    assert lease.record is not None
    first = lease.record
    clock.now += 2
    assert a.try_acquire_or_renew()
    assert lease.record.acquire_time == first.acquire_time and lease.record.transitions == 0
    assert lease.record.resource_version != first.resource_version


def test_follower_waits_the_whole_duration_by_its_own_clock() -> None:
    lease, clock, a, b = pair()
    a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()  # b starts its clock on this Lease state now
    clock.now += 9.9
    assert not b.try_acquire_or_renew()
    clock.now += 0.2
    assert b.try_acquire_or_renew() and b.may_write()
    assert lease.record is not None and lease.record.holder == "b" and lease.record.transitions == 1


def test_a_renewal_seen_by_the_follower_restarts_its_wait() -> None:
    _, clock, a, b = pair()
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()
    for _ in range(10):  # a renews every 2 s for 20 s; b never takes over
        clock.now += 2
        a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew()
    assert b.seconds_until_expiry() == pytest.approx(10)


def test_leader_stops_writing_at_the_renew_deadline_when_renewals_fail() -> None:
    lease, clock, a, _ = pair()
    a.try_acquire_or_renew()
    lease.down = True
    clock.now += 6.9
    assert a.may_write()
    clock.now += 0.2
    assert not a.may_write()  # before anyone could have taken over (10 s)


def test_frozen_leader_knows_on_waking_without_any_request() -> None:
    lease, clock, a, b = pair()
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()
    clock.now += 12  # a is frozen (SIGSTOP); b sees no renewal for the whole duration
    assert b.try_acquire_or_renew()
    calls = lease.calls
    assert not a.may_write()  # a wakes: the deadline passed; no I/O needed to know
    assert lease.calls == calls
    assert not a.try_acquire_or_renew() and not a.leading and a.leader == "b"


def test_two_candidates_racing_for_an_expired_lease_one_wins() -> None:
    lease, clock, a, b = pair()

    class ReadEarlier(MemoryLease):
        """c's view: it read the Lease before b's write landed, then writes at that version."""

        def get(self) -> LeaseRecord | None:
            return stale

        def update(self, record: LeaseRecord) -> LeaseRecord:
            return lease.update(record)

    c = LeaderElector(ReadEarlier(), "c", TIMING, clock=clock)
    a.try_acquire_or_renew()
    stale = lease.get()
    b.try_acquire_or_renew()
    c.try_acquire_or_renew()
    clock.now += 11
    stale = lease.get()
    assert b.try_acquire_or_renew()
    assert not c.try_acquire_or_renew()  # its write at the old resourceVersion is refused
    assert not c.may_write() and lease.record is not None and lease.record.holder == "b"


def test_release_lets_the_other_take_over_at_once() -> None:
    lease, _, a, b = pair()
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()
    assert a.release() and not a.may_write()
    assert lease.record is not None and lease.record.holder == ""
    assert b.try_acquire_or_renew()


def test_a_follower_does_not_release() -> None:
    lease, _, a, b = pair()
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()
    assert not b.release()
    assert lease.record is not None and lease.record.holder == "a"


def test_callbacks_see_each_change_once() -> None:
    _, clock, a, b = pair()
    seen: list[bool] = []
    a.on_change(seen.append)
    a.try_acquire_or_renew()
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()
    clock.now += 11
    b.try_acquire_or_renew()
    a.try_acquire_or_renew()
    assert seen == [True, False]


def test_run_steps_down_when_the_api_server_is_away() -> None:
    lease, clock, a, _ = pair()
    states: list[bool] = []
    threads: set[int] = set()
    a.on_change(states.append)
    a.on_change(lambda _: threads.add(threading.get_ident()))  # the loop's thread, not the worker's

    async def scenario() -> None:
        task = asyncio.create_task(a.run())
        await asyncio.sleep(0.05)
        assert a.leading
        lease.down = True
        clock.now += 8
        await asyncio.sleep(0.5)  # the next round fails and finds the deadline passed
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    a.timing = LeaseTiming(duration=10, renew_deadline=7, retry_period=0.1)
    asyncio.run(scenario())
    assert states == [True, False] and not a.may_write()
    assert threads == {threading.get_ident()}


def test_a_lapsed_leader_that_wins_back_its_own_lease_starts_a_new_term() -> None:
    lease, clock, a, _ = pair()
    seen: list[bool] = []
    a.on_change(seen.append)
    a.try_acquire_or_renew()
    clock.now += 8  # frozen past its renew deadline; nobody else took the Lease
    assert not a.may_write()
    assert a.try_acquire_or_renew() and a.may_write()
    assert seen == [True, False, True]  # the follower-time work is redone on the new term
    assert lease.record is not None and lease.record.transitions == 0

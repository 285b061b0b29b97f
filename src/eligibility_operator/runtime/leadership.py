"""Leader election with a ``coordination.k8s.io/v1`` Lease: one replica writes, all keep state warm.

Every replica watches and keeps its in-memory state current, and serves admission and metrics from it;
only the holder of the Lease writes (status, eligibility Events, the managed webhook configuration).

The algorithm is client-go's: a candidate takes the Lease when it is absent, released, or has not changed
for ``duration`` seconds *by the candidate's own monotonic clock* (never by comparing the holder's
``renewTime`` with a local wall clock, so clock skew between nodes does not matter); every update
carries the ``resourceVersion`` it read, so of two candidates exactly one wins. The leader renews every
``retry_period``.

Fencing: the leader may write only until ``renew_deadline`` seconds after the start of its last
successful renewal (:meth:`LeaderElector.may_write`, checked just before each write). Another replica
cannot take the Lease earlier than ``duration`` seconds after that renewal, and
``renew_deadline < duration``, so the leader stops before anyone else can start. A frozen leader
(SIGSTOP, a long GC pause, a suspended VM) therefore finds on waking that its deadline has passed and
writes nothing, without asking the API server first. One write whose request was already on the wire when
the process froze can still arrive late: Kubernetes has no fencing tokens for ordinary writes.

Why not Kopf's peering: it needs its own cluster-scoped CRD and RBAC, pauses every watch on non-leaders
(followers would go cold and need a full relisting to take over), and lets same-priority peers, i.e. two
replicas of one Deployment, both keep running with only a warning. Why not ``kubernetes.leaderelection``:
it runs in a thread with wall-clock deadlines, no request timeouts and the global client configuration,
elects once and never again, cannot be stopped, and exposes no deadline to fence writes with.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from .kube.lease import LEASE_NAME, KubeLeaseStore, LeaseConflict, LeaseRecord, LeaseStore, default_identity, now_text

__all__ = [
    "LEASE_NAME",
    "AlwaysLeader",
    "FencedKubeApi",
    "KubeLeaseStore",
    "LeaderElector",
    "Leadership",
    "LeaseConflict",
    "LeaseRecord",
    "LeaseStore",
    "LeaseTiming",
    "NotLeading",
    "default_identity",
]

if TYPE_CHECKING:
    from ..core.verdict.evaluation import Platform
    from .kube.api import KubeApi

log = logging.getLogger("eligibility_operator")


@dataclass(frozen=True)
class LeaseTiming:
    """How long the others wait (``duration``), how long a leader writes without renewing
    (``renew_deadline``) and how often everyone acts (``retry_period``). Failover after a crash takes
    at most about ``duration + retry_period`` seconds."""

    duration: float = 10.0
    renew_deadline: float = 7.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.duration:
            raise ValueError(
                "leader election needs 0 < retry period < renew deadline < lease duration, got "
                f"{self.retry_period} / {self.renew_deadline} / {self.duration}"
            )
        if self.duration < 1:
            raise ValueError("the lease duration is a whole number of seconds, at least 1")


class LeaderElector:
    """Campaigns for the Lease forever; :meth:`may_write` says whether this replica may write now."""

    def __init__(
        self,
        store: LeaseStore,
        identity: str,
        timing: LeaseTiming | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store = store
        self.identity = identity
        self.timing = timing or LeaseTiming()
        self.clock = clock
        self.wall = wall
        self.leading = False  # we hold the Lease (as far as we know); writes also need may_write()
        self.leader: str = ""  # the holder we last saw ("" when none)
        self._valid_until = float("-inf")  # monotonic: start of the last successful renewal + renew_deadline
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0  # monotonic time the observed record was first seen
        self._callbacks: list[Callable[[bool], None]] = []  # called in the event loop's thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self.transitions = 0  # how often this replica became leader
        # Changes whenever this replica may write again after a time it could not (see on_change).
        self.term = 0

    # ---------------------------------------------------------------- asking

    def may_write(self) -> bool:
        """True while this replica holds the Lease and its last renewal is recent enough to be sure
        nobody else can have taken it. Depends only on the local monotonic clock: a replica that wakes
        from a freeze knows without any I/O that it must not write."""
        return self.leading and self.clock() < self._valid_until

    def on_change(self, callback: Callable[[bool], None]) -> None:
        """Call ``callback(leading)`` whenever this replica stops leading, and ``callback(True)`` at the
        start of every *term*: whenever it may write again after any moment it could not (became leader,
        or renewed only after its deadline). Whatever was refused meanwhile is to be redone then."""
        self._callbacks.append(callback)

    def _set_leading(self, leading: bool, *, new_term: bool = False) -> None:
        if leading == self.leading and not (leading and new_term):
            return
        if leading:
            self.term += 1
            if self.leading:
                log.warning(
                    "leader election: %s renewed its Lease only after its renew deadline; what it could not "
                    "write meanwhile is redone (term %d)",
                    self.identity,
                    self.term,
                )
            else:
                self.transitions += 1
                log.info("leader election: %s is now the leader (term %d)", self.identity, self.term)
        self.leading = leading
        if not leading:
            self._valid_until = float("-inf")
            log.warning("leader election: %s stopped leading; it writes nothing until it leads again", self.identity)
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            # Rounds run in a worker thread; the callbacks touch the event loop's objects.
            loop.call_soon_threadsafe(self._notify, leading)
        else:
            self._notify(leading)

    def _notify(self, leading: bool) -> None:
        for callback in self._callbacks:
            try:
                callback(leading)
            except Exception:
                log.exception("leader election: a leadership callback failed")

    # ---------------------------------------------------------- one attempt

    def try_acquire_or_renew(self) -> bool:
        """One round of the algorithm (blocking): take or renew the Lease if we may. True if we lead."""
        if self.leading and not self.may_write():
            # The deadline passed (frozen, or renewals failed): we stopped leading, even if the Lease still
            # names us. Winning it back below counts as a new term, so work skipped meanwhile is redone.
            self._set_leading(False)
        started = self.clock()
        now = now_text(self.wall())
        current = self.store.get()
        seen_at = self.clock()
        mine = LeaseRecord(
            holder=self.identity,
            duration_seconds=max(1, round(self.timing.duration)),
            acquire_time=now,
            renew_time=now,
        )
        try:
            if current is None:
                written = self.store.create(mine)
            else:
                if not current.same_as(self._observed):
                    self._observed, self._observed_at = current, seen_at
                self.leader = current.holder
                if current.holder == self.identity:
                    written = self.store.update(
                        replace(
                            mine,
                            acquire_time=current.acquire_time or now,
                            transitions=current.transitions,
                            resource_version=current.resource_version,
                        )
                    )
                elif current.holder and not self._expired(current, seen_at):
                    self._follow()
                    return False
                else:
                    written = self.store.update(
                        replace(mine, transitions=current.transitions + 1, resource_version=current.resource_version)
                    )
        except LeaseConflict as exc:
            log.debug("leader election: %s", exc)
            self._observed = None  # read it again next round, and start its expiry clock afresh
            self._follow()
            return False
        finished = self.clock()
        self._observed, self._observed_at, self.leader = written, finished, self.identity
        # A renewal that started before the deadline and returned after it leaves a gap in which writes
        # were refused: the work refused then must be redone, so that is a new term, announced like any.
        lapsed = not self.leading or finished >= self._valid_until
        self._valid_until = started + self.timing.renew_deadline
        self._set_leading(True, new_term=lapsed)
        return True

    def _expired(self, current: LeaseRecord, seen_at: float) -> bool:
        # The holder's own duration counts (another version of us may use another), never less than ours.
        duration = max(float(current.duration_seconds), self.timing.duration)
        return seen_at - self._observed_at >= duration

    def _follow(self) -> None:
        self._set_leading(False)

    def seconds_until_expiry(self) -> float:
        """For a follower: how long until the observed Lease may be taken over."""
        if self._observed is None:
            return 0.0
        if not self._observed.holder:
            return 0.0
        duration = max(float(self._observed.duration_seconds), self.timing.duration)
        return max(0.0, self._observed_at + duration - self.clock())

    # ---------------------------------------------------------------- loop

    async def run(self) -> None:
        """Campaign and renew until cancelled."""
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        while True:
            try:
                await asyncio.to_thread(self.try_acquire_or_renew)
            except Exception as exc:
                log.warning("leader election: could not read or write the Lease: %s", _describe(exc))
            if self.leading and not self.may_write():
                self._set_leading(False)  # renewals failed for renew_deadline: step down
            await asyncio.sleep(self._next_wait())

    def _next_wait(self) -> float:
        period = self.timing.retry_period
        if self.leading:
            # Renew in time even if the last renewal was slow.
            return max(0.2, min(period, self._valid_until - self.clock() - period / 2))
        # A follower tries again right when the Lease it watches would expire, if that is sooner.
        return min(period, self.seconds_until_expiry() + 0.05)

    def release(self) -> bool:
        """Give the Lease up (at a clean exit), so that another replica takes over at once instead of
        after ``duration``. Blocking; True if released."""
        if not self.leading:
            return False
        self._set_leading(False)
        try:
            current = self.store.get()
            if current is None or current.holder != self.identity:
                return False
            self.store.update(replace(current, holder="", duration_seconds=1, renew_time=now_text(self.wall())))
        except Exception as exc:
            log.warning("leader election: could not release the Lease: %s", _describe(exc))
            return False
        log.info("leader election: %s released the Lease", self.identity)
        return True


class Leadership(Protocol):
    """What the rest of the operator asks of leader election."""

    identity: str
    term: int  # changes whenever writing is allowed again after a time it was not

    def may_write(self) -> bool: ...

    def on_change(self, callback: Callable[[bool], None]) -> None: ...


class AlwaysLeader:
    """Leader election switched off (``--no-leader-election``): this replica always writes."""

    def __init__(self, identity: str = "standalone") -> None:
        self.identity = identity
        self.leading = True
        self.leader = identity
        self.term = 1

    def may_write(self) -> bool:
        return True

    def on_change(self, callback: Callable[[bool], None]) -> None:
        """Never changes."""


class NotLeading(Exception):
    """A write was refused because this replica does not (or no longer surely) hold the Lease."""


def _describe(exc: BaseException) -> str:
    from .kube.api import describe_error

    return describe_error(exc)


class FencedKubeApi:
    """The operator's API client with every write fenced by leadership.

    The check runs in the calling thread right before the request goes out, so that a replica frozen
    between deciding to write and writing (the reconciler runs writes in threads) still refuses on
    waking. Reads pass through.
    """

    def __init__(self, inner: KubeApi, leadership: Leadership) -> None:
        self.inner = inner
        self.leadership = leadership

    def _fence(self, what: str) -> None:
        if not self.leadership.may_write():
            raise NotLeading(f"{self.leadership.identity} is not the leader: {what} not written")

    def replace_status(self, plural: str, namespace: str | None, name: str, status: dict[str, Any]) -> bool:
        self._fence(f"status of {plural} {namespace or ''}/{name}")
        return self.inner.replace_status(plural, namespace, name, status)

    def emit_event(
        self, *, namespace: str, name: str, uid: str, kind: str, reason: str, message: str, warning: bool
    ) -> None:
        self._fence(f"Event {reason} about {namespace}/{name}")
        self.inner.emit_event(
            namespace=namespace, name=name, uid=uid, kind=kind, reason=reason, message=message, warning=warning
        )

    def apply_webhook_configuration(self, body: dict[str, Any]) -> None:
        self._fence("ValidatingWebhookConfiguration")
        self.inner.apply_webhook_configuration(body)

    def delete_webhook_configuration(self, name: str) -> None:
        self._fence("ValidatingWebhookConfiguration deletion")
        self.inner.delete_webhook_configuration(name)

    def count(self, group: str, version: str, plural: str, namespace: str | None = None) -> int | None:
        return self.inner.count(group, version, plural, namespace)

    def list_keys(
        self, group: str, version: str, plural: str, namespace: str | None = None
    ) -> set[tuple[str, str]] | None:
        return self.inner.list_keys(group, version, plural, namespace)

    def workload_status(self, namespace: str, kind: str, name: str) -> tuple[dict[str, Any], Any] | None:
        return self.inner.workload_status(namespace, kind, name)

    def events_about(self, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
        return self.inner.events_about(namespace, kind, name)

    def platform(self) -> Platform:
        return self.inner.platform()

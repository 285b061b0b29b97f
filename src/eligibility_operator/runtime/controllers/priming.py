"""Which watched objects the operator has seen, and when: for priming and for sweeping.

*Priming*: at start, the watches list every object; evaluating before they all arrived
would write statuses (and post Events) from a partial inventory. :meth:`SeenObjects.primed`
waits until as many objects of each resource arrived as the API server counts.

*Sweeping*: after a watch was interrupted (410 Gone, reconnect), objects deleted meanwhile
are never reported. :meth:`SeenObjects.stale` compares what was seen with a metadata-only
LIST and returns what no longer exists.

With selected namespaces, namespaced resources are counted and listed in those namespaces
only, never cluster-wide.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

from ...api.models import GROUP, VERSION
from ...core.products.workloads import WATCHED_RESOURCES
from ..kube.api import KubeApi, describe_error

log = logging.getLogger("eligibility_operator")

# A seen object's key: ("w", namespace, kind, name) for workloads, ("e", namespace, name) for engagements,
# ("r", namespace, name) for support requests, ("m", name) for matrices and ("n", name) for namespaces.
SeenKey = tuple[str, ...]


def workload_key(namespace: str, kind: str, name: str) -> SeenKey:
    return ("w", namespace, kind, name)


def engagement_key(namespace: str, name: str) -> SeenKey:
    return ("e", namespace, name)


def request_key(namespace: str, name: str) -> SeenKey:
    return ("r", namespace, name)


def matrix_key(name: str) -> SeenKey:
    return ("m", name)


def namespace_key(name: str) -> SeenKey:
    return ("n", name)


def _bucket(key: SeenKey) -> str:
    """Workloads count per kind, everything else per prefix."""
    return key[2] if key[0] == "w" else key[0]


# (bucket, group, version, plural, namespaced) of every watched resource.
RESOURCES = (
    *((kind, group, version, plural, True) for group, version, plural, kind in WATCHED_RESOURCES),
    ("e", GROUP, VERSION, "supportengagements", True),
    ("r", GROUP, VERSION, "supportrequests", True),
    ("m", GROUP, VERSION, "compatibilitymatrices", False),
    ("n", "", "v1", "namespaces", False),
)


class SeenObjects:
    """When each watched object was last seen by a watch (monotonic time)."""

    def __init__(
        self,
        kube: KubeApi,
        namespaces: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube = kube
        self.namespaces = namespaces  # empty: the whole cluster
        self.clock = clock
        self._seen_at: dict[SeenKey, float] = {}
        self.resources = RESOURCES  # those counted at start and listed by sweeps
        self._listings: list[Callable[[], bool]] = []
        self._delegated: set[str] = set()  # buckets whose watches keep track themselves: not recorded

    def delegate(self, buckets: set[str], listed: Callable[[], bool]) -> None:
        """Resources (buckets) whose watches list them themselves and forget what a relisting lacks
        (``runtime.watches``): priming waits for ``listed()`` instead of counting them, sweeps skip them."""
        self.resources = tuple(r for r in self.resources if r[0] not in buckets)
        self._listings.append(listed)
        self._delegated |= buckets
        for key in [key for key in self._seen_at if _bucket(key) in buckets]:
            del self._seen_at[key]

    def seen(self, key: SeenKey) -> None:
        if self._delegated and _bucket(key) in self._delegated:
            return
        self._seen_at[key] = self.clock()

    def gone(self, key: SeenKey) -> None:
        self._seen_at.pop(key, None)

    def __len__(self) -> int:
        return len(self._seen_at)

    def _scopes(self, namespaced: bool) -> list[str | None]:
        if namespaced and self.namespaces:
            return list(sorted(self.namespaces))
        return [None]

    # ------------------------------------------------------------- priming

    async def counts(self, only: set[str] | None = None) -> dict[str, int]:
        """How many objects of each watched resource (or of the buckets ``only``) exist now: one small
        LIST per resource and scope."""
        counts: dict[str, int] = {}
        for bucket, group, version, plural, namespaced in self.resources:
            if only is not None and bucket not in only:
                continue
            total = 0
            for scope in self._scopes(namespaced):
                found = await asyncio.to_thread(self.kube.count, group, version, plural, scope)
                total += found or 0  # None: the resource is not served here (e.g. no OLM)
            counts[bucket] = total
        return counts

    def seen_counts(self) -> Counter[str]:
        return Counter(_bucket(key) for key in self._seen_at)

    async def primed(
        self, expected: dict[str, int], recheck_seconds: float = 5.0, give_up_seconds: float = 300.0
    ) -> bool:
        """Wait until the watches delivered ``expected`` objects of each resource (and the delegated
        watches their first listing); False if that took too long.

        The counts of resources not complete yet are refreshed after ``recheck_seconds``, doubling each
        time, so that objects deleted meanwhile (whose listing events never come) do not block, and a
        server that makes counting expensive is not asked every few seconds. (An object created while
        another is deleted can make the counts match a moment early; the late one is then evaluated
        when it arrives.)
        """
        began = checked = self.clock()
        wait = recheck_seconds
        while True:
            seen = self.seen_counts()
            behind = {bucket for bucket, n in expected.items() if seen[bucket] < n}
            if not behind and all(listed() for listed in self._listings):
                return True
            if self.clock() - began > give_up_seconds:
                return False
            await asyncio.sleep(0.1)
            if behind and self.clock() - checked > wait:
                try:
                    expected = {**expected, **await self.counts(behind)}
                except Exception as exc:  # keep the last counts; the next recheck tries again
                    log.debug("recounting the objects at start failed: %s", describe_error(exc))
                checked = self.clock()
                wait *= 2

    # ------------------------------------------------------------ sweeping

    async def stale(self) -> list[SeenKey]:
        """Seen objects that a fresh LIST no longer has; raises if a LIST fails.

        Objects seen after the LIST began are kept: they may be newer than the LIST.
        """
        started = self.clock()
        listed: dict[str, set[tuple[str, str]] | None] = {}
        for bucket, group, version, plural, namespaced in self.resources:
            keys: set[tuple[str, str]] | None = None
            for scope in self._scopes(namespaced):
                found = await asyncio.to_thread(self.kube.list_keys, group, version, plural, scope)
                if found is not None:
                    keys = (keys or set()) | found
            listed[bucket] = keys  # None: not served, so nothing of it is judged stale
        stale = []
        for key, at in self._seen_at.items():
            present = listed.get(_bucket(key))
            ident = (key[1], key[3]) if key[0] == "w" else (key[1], key[2]) if key[0] in ("e", "r") else ("", key[1])
            if present is not None and ident not in present and at < started:
                stale.append(key)
        return stale

"""The operator's state: what it knows of the cluster, and nothing it does.

The reconciler writes this state (from watch events, and the status it wrote);
the admission webhook, the metrics collector and the health endpoints only read
it, through the typed methods below. Everything here lives in the operator's one
event loop, so readers need no locks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterator, Mapping

from ..api.models import SupportEngagementSpec
from ..core.compat.matrix import CompiledMatrix
from ..core.products.coverage import covers
from ..core.products.inventory import Inventory, MatrixRecord
from ..core.requests.records import RequestKey, RequestRecord
from ..core.verdict.engagements import EngagementRecord
from ..core.verdict.evaluation import Platform

EngagementKey = tuple[str, str]  # namespace, name


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class OperatorState:
    """Engagements, matrices (in the inventory: detection needs them there), platform and readiness."""

    def __init__(self, *, namespaces: frozenset[str] = frozenset(), today: Callable[[], dt.date] = utc_today) -> None:
        self.namespaces = namespaces  # watched namespaces; empty: the whole cluster
        self.today = today
        self.inventory = Inventory()
        self.engagements: dict[EngagementKey, EngagementRecord] = {}
        self.platform = Platform()
        self.requests: dict[RequestKey, RequestRecord] = {}  # SupportRequests (see request_triager)
        self.last_evaluation: float | None = None  # unix time
        self.ready = asyncio.Event()  # set once the watches delivered every object that existed at start
        # With a webhook: set once it accepts connections. /readyz waits for it too (the Service sends
        # reviews to ready replicas only); the controllers do not (a stuck certificate stops admission
        # on this replica, never the statuses).
        self.webhook_listening: asyncio.Event | None = None

    # ------------------------------------------------------------- reads

    def is_ready(self) -> bool:
        return self.ready.is_set()

    def engagement(self, key: EngagementKey) -> EngagementRecord | None:
        return self.engagements.get(key)

    def engagement_records(self) -> Iterator[EngagementRecord]:
        """Every engagement, in (namespace, name) order."""
        for key in sorted(self.engagements):
            yield self.engagements[key]

    def engagement_specs(self) -> Iterator[tuple[str, str, SupportEngagementSpec | None]]:
        """(namespace, name, spec) of every engagement; spec None while it is invalid."""
        for record in self.engagements.values():
            yield record.namespace, record.name, record.spec

    def engagement_count(self) -> int:
        return len(self.engagements)

    def workload_count(self) -> int:
        return len(self.inventory.workloads)

    def matrix(self, name: str) -> MatrixRecord | None:
        """One CompatibilityMatrix: identity, status on the server, compiled version, problem, detections."""
        return self.inventory.matrices.get(name)

    def compiled_matrix(self, name: str) -> CompiledMatrix | None:
        """The last valid version of a matrix, if it ever had one."""
        compiled = self.inventory.matrices.get(name)
        return compiled.compiled if compiled is not None else None

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        """A namespace's labels; None for a namespace not seen (yet)."""
        return self.inventory.namespace_labels.get(namespace)

    def engagements_covering(self, namespace: str) -> list[EngagementKey]:
        """Engagements whose coverage includes ``namespace`` (and those with an invalid spec)."""
        labels = self.namespace_labels(namespace)
        return [
            key
            for key, record in self.engagements.items()
            if record.spec is None or covers(record.spec.coverage, namespace, labels)
        ]

    def engagements_using_matrix(self, name: str) -> list[EngagementKey]:
        """Engagements that use matrix ``name`` (and those with an invalid spec)."""
        return [key for key, record in self.engagements.items() if record.matrix_name in (name, None)]

    def engagements_with_selectors(self) -> list[EngagementKey]:
        return [k for k, r in self.engagements.items() if r.spec and r.spec.coverage.namespace_selector]

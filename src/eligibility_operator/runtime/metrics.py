"""Prometheus metrics: the operator's counters, and families built at scrape time from its state.

The per-engagement families are produced by the collectors in :mod:`.collectors`, which read the
engagements' current status when Prometheus scrapes. docs/reference/metrics.md lists every family.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from ..api.models import (
    EnforcementMode,
)
from ..matrix_source import Reason
from .collectors import PREFIX, ClusterLabel, RequestCollector, StateCollector
from .state import OperatorState

# `_created` series double every counter for no use to dashboards or alerts.
disable_created_metrics()  # type: ignore[no-untyped-call]

ADMISSION_OUTCOMES = ("allowed", "warned", "denied")


# The webhook's own trouble, counted under errors_total{operation}: a review not judged within the
# deadline, reviews waiting too long for a slot, connections closed at the connection cap.
ADMISSION_TROUBLE = ("admission_deadline", "admission_busy", "admission_refused")


AUDIT_WITHHELD = ("duplicate", "rate_limited", "overflow")


class OperatorMetrics:
    """The operator's own counters and histograms, in a private registry.

    ``cluster``: with a name, every series the operator serves carries ``cluster="<name>"``
    (``--cluster-name``); empty, none does (Prometheus ``external_labels`` may add it instead).
    """

    def __init__(self, cluster: str = "") -> None:
        self.cluster = cluster
        self.registry = CollectorRegistry(auto_describe=True)
        self.evaluations = self._counter("evaluations", "Engagement evaluations performed.")
        self.evaluation_seconds = Histogram(
            f"{PREFIX}_evaluation_duration_seconds",
            "Time to evaluate one engagement.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self.watch_events = self._counter("watch_events", "Watch events received, by kind.", ["kind"])
        self.status_patches = self._counter("status_patches", "Status patches written, by resource.", ["resource"])
        self.events_posted = self._counter("kubernetes_events", "Kubernetes Events posted about engagements.")
        self.errors = self._counter("errors", "Errors talking to the API server (each is retried).", ["operation"])
        self.leader = self._gauge(
            "leader", "1 on the replica that holds the leader-election Lease and may write, else 0."
        )
        self.admission_reviews = self._counter(
            "admission_reviews", "Admission reviews of workloads, by mode and outcome.", ["mode", "outcome"]
        )
        self.status_writes_failing = self._gauge(
            "status_writes_failing", "Engagements whose last status write failed; retried with exponential backoff."
        )
        self.audit_withheld = self._counter(
            "admission_audit_events_withheld",
            "Admission audit findings not posted as Events: repeats within the window (duplicate), over an "
            "engagement's rate (rate_limited), or too many waiting to be posted (overflow).",
            ["reason"],
        )
        # Matrices with spec.source (runtime/controllers/matrices.py sets them).
        self.matrix_last_refresh = self._gauge(
            "matrix_last_refresh_timestamp_seconds",
            "Unix time of the last successful fetch of a CompatibilityMatrix's spec.source.",
            ["matrix"],
        )
        self.matrix_max_age = self._gauge(
            "matrix_max_age_seconds",
            "spec.source.maxAge of a CompatibilityMatrix: stale when the last refresh is older.",
            ["matrix"],
        )
        self.matrix_refresh_errors = self._counter(
            "matrix_refresh_errors", "Fetches of a spec.source that were not applied, by reason.", ["reason"]
        )
        for source_reason in Reason:
            self.matrix_refresh_errors.labels(source_reason.value)
        for reason in AUDIT_WITHHELD:
            self.audit_withheld.labels(reason)
        for resource in ("supportengagements", "compatibilitymatrices", "supportrequests"):
            self.status_patches.labels(resource)
        for operation in ("status_patch", "event", "platform", "admission", "sweep", *ADMISSION_TROUBLE):
            self.errors.labels(operation)
        # Exported from the start, so that rates and panels show 0 rather than nothing.
        for mode in EnforcementMode:
            for outcome in ADMISSION_OUTCOMES:
                self.admission_reviews.labels(mode.value, outcome)

    def _counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(f"{PREFIX}_{name}", documentation, labels, registry=self.registry)

    def _gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", documentation, labels, registry=self.registry)


def build_registry(metrics: OperatorMetrics, state: OperatorState) -> CollectorRegistry:
    """The registry ``/metrics`` serves: the operator's counters plus the families read from ``state``,
    all labelled with the cluster's name when one is set."""
    registry = metrics.registry
    registry.register(StateCollector(state))
    registry.register(RequestCollector(state))
    if not metrics.cluster:
        return registry
    labelled = CollectorRegistry(auto_describe=False)
    labelled.register(ClusterLabel(registry, metrics.cluster))
    return labelled

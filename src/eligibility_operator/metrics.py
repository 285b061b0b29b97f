"""Prometheus metrics: the operator's counters, and families built at scrape time from its state.

The per-engagement families are produced by a custom collector that reads the
engagements' current status when Prometheus scrapes, so a series disappears
with the engagement or workload it describes, and nothing survives a restart.
Label values are bounded: engagements, products, versions, responsibilities;
never pods or containers. The README's metrics table lists every family.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from . import __version__
from .api.models import ConditionStatus, ConditionType, Eligibility, Lifecycle, Party
from .state import OperatorState

# `_created` series double every counter for no use to dashboards or alerts.
disable_created_metrics()  # type: ignore[no-untyped-call]

PREFIX = "stakater_support"
ENGAGEMENT_LABELS = ("namespace", "engagement", "type", "plan")
KEY_LABELS = ("namespace", "engagement")


# The webhook's own trouble, counted under errors_total{operation}: a review not judged within the
# deadline, reviews waiting too long for a slot, connections closed at the connection cap.
ADMISSION_TROUBLE = ("admission_deadline", "admission_busy", "admission_refused")


class OperatorMetrics:
    """The operator's own counters and histograms, in a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.evaluations = Counter(f"{PREFIX}_evaluations", "Engagement evaluations performed.", registry=self.registry)
        self.evaluation_seconds = Histogram(
            f"{PREFIX}_evaluation_duration_seconds",
            "Time to evaluate one engagement.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self.watch_events = Counter(
            f"{PREFIX}_watch_events", "Watch events received, by kind.", ["kind"], registry=self.registry
        )
        self.status_patches = Counter(
            f"{PREFIX}_status_patches", "Status patches written, by resource.", ["resource"], registry=self.registry
        )
        self.events_posted = Counter(
            f"{PREFIX}_kubernetes_events", "Kubernetes Events posted about engagements.", registry=self.registry
        )
        self.errors = Counter(
            f"{PREFIX}_errors",
            "Errors talking to the API server (each is retried).",
            ["operation"],
            registry=self.registry,
        )
        self.admission_reviews = Counter(
            f"{PREFIX}_admission_reviews",
            "Admission reviews of workloads, by mode and outcome.",
            ["mode", "outcome"],
            registry=self.registry,
        )
        self.status_writes_failing = Gauge(
            f"{PREFIX}_status_writes_failing",
            "Engagements whose last status write failed; retried with exponential backoff.",
            registry=self.registry,
        )
        for resource in ("supportengagements", "compatibilitymatrices", "supportrequests"):
            self.status_patches.labels(resource)
        for operation in ("status_patch", "event", "platform", "admission", "sweep", *ADMISSION_TROUBLE):
            self.errors.labels(operation)


def _seconds_until_end_of(date_text: str, now: float) -> float | None:
    """Seconds from ``now`` until the end (UTC) of the day ``date_text``; negative when past.

    A version is supported through its end-of-support day, so the clock runs to the next midnight.
    """
    try:
        end = dt.datetime.combine(dt.date.fromisoformat(date_text) + dt.timedelta(days=1), dt.time(), dt.UTC)
    except ValueError:
        return None
    return end.timestamp() - now


class StateCollector(Collector):
    """Per-engagement, per-product and platform families from the operator's state."""

    def __init__(self, state: OperatorState) -> None:
        self.state = state

    def describe(self) -> list[Metric]:
        return []  # collected fresh at every scrape; nothing to pre-register

    def collect(self) -> Iterator[Metric]:
        state = self.state
        now = time.time()
        eligibility = GaugeMetricFamily(
            f"{PREFIX}_engagement_eligibility",
            "Engagement eligibility as a state set: 1 for the current state.",
            labels=[*ENGAGEMENT_LABELS, "eligibility"],
        )
        eligible = GaugeMetricFamily(
            f"{PREFIX}_engagement_eligible", "1 if the engagement is Eligible, else 0.", labels=list(ENGAGEMENT_LABELS)
        )
        ready = GaugeMetricFamily(
            f"{PREFIX}_engagement_ready",
            "1 if the engagement could be evaluated (Ready=True).",
            labels=list(KEY_LABELS),
        )
        credits = GaugeMetricFamily(
            f"{PREFIX}_engagement_service_credits_applicable",
            "1 if service credits apply now.",
            labels=list(KEY_LABELS),
        )
        out_of_support = GaugeMetricFamily(
            f"{PREFIX}_engagement_products_out_of_support",
            "Covered product versions that are EndOfLife or Unknown.",
            labels=list(KEY_LABELS),
        )
        compatible = GaugeMetricFamily(
            f"{PREFIX}_engagement_platform_compatible",
            "1 if every detected product supports the platform, 0 if not (absent when unknown).",
            labels=list(KEY_LABELS),
        )
        workloads = GaugeMetricFamily(
            f"{PREFIX}_product_workloads",
            "Workloads running a product version, by lifecycle.",
            labels=[*KEY_LABELS, "product", "version", "lifecycle"],
        )
        remaining = GaugeMetricFamily(
            f"{PREFIX}_product_time_to_end_of_support_seconds",
            "Time until the version's end of support (end of that day, UTC); negative when past.",
            labels=[*KEY_LABELS, "product", "version"],
        )
        owner = GaugeMetricFamily(
            f"{PREFIX}_responsibility_owner",
            "Owner of each responsibility as a state set.",
            labels=[*KEY_LABELS, "responsibility", "owner"],
        )
        for record in state.engagement_records():
            namespace, name = record.key
            status: dict[str, Any] = record.written or {}
            spec = record.spec
            kind = str(spec.type) if spec else ""
            plan = str(spec.plan) if spec else ""
            current = status.get("eligibility", Eligibility.UNKNOWN.value)
            for value in Eligibility:
                eligibility.add_metric(
                    [namespace, name, kind, plan, value.value], 1.0 if current == value.value else 0.0
                )
            eligible.add_metric([namespace, name, kind, plan], 1.0 if current == Eligibility.ELIGIBLE.value else 0.0)
            key = [namespace, name]
            conditions = {c.get("type"): c.get("status") for c in status.get("conditions", [])}
            ready.add_metric(key, 1.0 if conditions.get(ConditionType.READY) == ConditionStatus.TRUE else 0.0)
            credits.add_metric(key, 1.0 if (status.get("serviceCredits") or {}).get("applicable") else 0.0)
            out_of_support.add_metric(key, float(status.get("productsOutOfSupport", 0)))
            platform_ok = (status.get("platform") or {}).get("compatible")
            if platform_ok is not None:
                compatible.add_metric(key, 1.0 if platform_ok else 0.0)
            for product in status.get("products", []):
                labels = [*key, product.get("product", ""), product.get("version", "")]
                workloads.add_metric(
                    [*labels, product.get("lifecycle", Lifecycle.UNKNOWN.value)], float(product.get("workloadCount", 0))
                )
                left = _seconds_until_end_of(product["endOfSupport"], now) if product.get("endOfSupport") else None
                if left is not None:
                    remaining.add_metric(labels, left)
            for item in status.get("responsibilities", []):
                for party in Party:
                    owner.add_metric(
                        [*key, item.get("item", ""), party.value], 1.0 if item.get("owner") == party.value else 0.0
                    )
        yield from (eligibility, eligible, ready, credits, out_of_support, compatible, workloads, remaining, owner)

        engagements = GaugeMetricFamily(f"{PREFIX}_engagements", "SupportEngagements known to the operator.")
        engagements.add_metric([], float(state.engagement_count()))
        yield engagements
        inventory = GaugeMetricFamily(f"{PREFIX}_inventory_workloads", "Workloads held in the operator's inventory.")
        inventory.add_metric([], float(state.workload_count()))
        yield inventory
        last = GaugeMetricFamily(
            f"{PREFIX}_last_evaluation_timestamp_seconds", "Unix time of the last engagement evaluation."
        )
        if state.last_evaluation is not None:
            last.add_metric([], state.last_evaluation)
        yield last
        platform = InfoMetricFamily(f"{PREFIX}_platform", "Kubernetes and OpenShift versions of the cluster.")
        if state.platform.kubernetes:
            platform.add_metric(
                [],
                {
                    "kubernetes_version": state.platform.kubernetes,
                    "openshift_version": state.platform.openshift or "",
                },
            )
        yield platform
        build = InfoMetricFamily(f"{PREFIX}_build", "Version of the operator.")
        build.add_metric([], {"version": __version__})
        yield build


# ------------------------------------------------------------ SupportRequests


def _due_seconds(due: Any, now: float) -> float | None:
    try:
        return dt.datetime.fromisoformat(str(due).replace("Z", "+00:00")).timestamp() - now
    except ValueError:
        return None


class RequestCollector(Collector):
    """SupportRequest families from the triage the operator wrote. A request exists until it is deleted:
    the operator does not know when Stakater replied or the ticket closed (delete the request then)."""

    def __init__(self, state: OperatorState) -> None:
        self.state = state

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        requests = GaugeMetricFamily(
            f"{PREFIX}_requests",
            "SupportRequests by engagement, scope, route and proposed severity.",
            labels=["namespace", "engagement", "scope", "route", "request_severity"],
        )
        due = GaugeMetricFamily(
            f"{PREFIX}_request_first_response_due_seconds",
            "Seconds until a SupportRequest's first-response due time; negative when past.",
            labels=["namespace", "request", "engagement", "request_severity"],
        )
        ineligible = GaugeMetricFamily(
            f"{PREFIX}_request_ineligible_products",
            "Affected products of a SupportRequest that are Ineligible (upgrade first).",
            labels=["namespace", "request", "request_severity"],
        )
        counts: dict[tuple[str, str, str, str, str], int] = {}
        for (namespace, name), record in sorted(self.state.requests.items()):
            status: dict[str, Any] = record.written or {}
            severity = str(record.spec.severity) if record.spec else ""
            engagement_ns, _, engagement = str(status.get("engagement") or "").partition("/")
            key = (
                engagement_ns or namespace,
                engagement,
                str(status.get("scope") or "Unknown"),
                str(status.get("route") or "Unknown"),
                severity,
            )
            counts[key] = counts.get(key, 0) + 1
            left = _due_seconds((status.get("firstResponse") or {}).get("due"), now)
            if left is not None:
                due.add_metric([namespace, name, engagement, severity], left)
            bad = sum(1 for p in status.get("products") or [] if p.get("eligibility") == Eligibility.INELIGIBLE.value)
            ineligible.add_metric([namespace, name, severity], float(bad))
        for labels, count in sorted(counts.items()):
            requests.add_metric(list(labels), float(count))
        yield from (requests, due, ineligible)


def build_registry(metrics: OperatorMetrics, state: OperatorState) -> CollectorRegistry:
    """The registry ``/metrics`` serves: the operator's counters plus the families read from ``state``."""
    registry = metrics.registry
    registry.register(StateCollector(state))
    registry.register(RequestCollector(state))
    return registry

"""Families built at scrape time from the operator's state: per engagement, per product version, per
SupportRequest, and the cluster label. A series disappears with the engagement or workload it describes;
label values are bounded (engagements, products, versions, responsibilities; never pods or containers)."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter as Counter_
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from .. import __version__
from ..api.models import (
    ConditionStatus,
    ConditionType,
    Eligibility,
    EngagementType,
    Lifecycle,
    Party,
)
from ..core.base.status_wire import parse_rfc3339
from ..core.verdict.engagements import EngagementRecord
from .state import OperatorState

PREFIX = "stakater_support"


def _seconds_until_end_of(date_text: str, now: float) -> float | None:
    """Seconds from ``now`` until the end (UTC) of the day ``date_text``; negative when past.

    A version is supported through its end-of-support day, so the clock runs to the next midnight.
    """
    try:
        end = dt.datetime.combine(dt.date.fromisoformat(date_text) + dt.timedelta(days=1), dt.time(), dt.UTC)
    except ValueError:
        return None
    return end.timestamp() - now


def _findings(status: dict[str, Any], managed: bool) -> Counter_[tuple[str, str]]:
    """Findings someone must act on (not advice), counted by (kind, party that must act).

    A product version counts when its eligibility is Limited or Ineligible, or when it is Stakater's
    action item (EndOfLife or Unknown under ``versionManagement: Stakater``, which does not reduce
    eligibility; a version newer than the matrix lists is ``product_not_in_matrix`` instead); the platform
    when it is incompatible or past its end of maintenance; the agreement when it is not in force.
    Without a recorded owner the customer acts, except for the platform of a managed service, which is
    Stakater's.
    """
    found: Counter_[tuple[str, str]] = Counter_()
    for product in status.get("products", []):
        owner = product.get("actionOwner") or Party.CUSTOMER.value
        limiting = product.get("eligibility") in (Eligibility.LIMITED.value, Eligibility.INELIGIBLE.value)
        out_of_support = product.get("lifecycle") in (Lifecycle.END_OF_LIFE.value, Lifecycle.UNKNOWN.value)
        out_of_support = out_of_support and not product.get("matrixBehind")
        if limiting or (out_of_support and owner == Party.STAKATER.value):
            found["product", owner] += 1
    platform = status.get("platform") or {}
    if platform.get("compatible") is False or platform.get("lifecycle") == Lifecycle.END_OF_LIFE.value:
        default = Party.STAKATER.value if managed else Party.CUSTOMER.value
        found["platform", platform.get("actionOwner") or default] += 1
    agreement = status.get("agreement") or {}
    if agreement.get("inForce") is False:
        found["agreement", agreement.get("actionOwner") or Party.CUSTOMER.value] += 1
    return found


def _info_labels(record: EngagementRecord, status: dict[str, Any]) -> list[str]:
    """customer, type, plan, agreement, master_agreement, editions of an engagement ("" when unknown)."""
    spec = record.spec
    if spec is None:
        return ["", "", "", "", "", ""]
    refs = spec.agreement
    reference = (status.get("agreement") or {}).get("reference") or refs.order_form or refs.master_agreement or ""
    editions = ",".join(f"{p.name}={p.edition}" for p in sorted(spec.products, key=lambda p: p.name))
    return [spec.customer, str(spec.type), str(spec.plan), reference, refs.master_agreement or "", editions]


class StateCollector(Collector):
    """Per-engagement, per-product and platform families from the operator's state.

    The families stay narrow (namespace, engagement and what varies); the contract terms are on
    ``engagement_info`` once, to be joined with ``* on (...) group_left (...)``.
    """

    def __init__(self, state: OperatorState) -> None:
        self.state = state

    def describe(self) -> list[Metric]:
        return []  # collected fresh at every scrape; nothing to pre-register

    def collect(self) -> Iterator[Metric]:
        yield from self._engagement_families()
        yield from self._operator_families()

    def _engagement_families(self) -> list[Metric]:
        now = time.time()
        key_labels = ["namespace", "engagement"]
        product_labels = [*key_labels, "product", "edition", "version"]
        info = GaugeMetricFamily(
            f"{PREFIX}_engagement_info",
            "Contract terms of each engagement (always 1): join onto the other series by namespace and engagement.",
            labels=[*key_labels, "customer", "type", "plan", "agreement", "master_agreement", "editions"],
        )
        eligibility = GaugeMetricFamily(
            f"{PREFIX}_engagement_eligibility",
            "Engagement eligibility as a state set: 1 for the current state.",
            labels=[*key_labels, "eligibility"],
        )
        eligible = GaugeMetricFamily(
            f"{PREFIX}_engagement_eligible", "1 if the engagement is Eligible, else 0.", labels=key_labels
        )
        ready = GaugeMetricFamily(
            f"{PREFIX}_engagement_ready", "1 if the engagement could be evaluated (Ready=True).", labels=key_labels
        )
        findings = GaugeMetricFamily(
            f"{PREFIX}_engagement_findings",
            "Findings someone must act on, by kind (product, platform, agreement) and the party that must act.",
            labels=[*key_labels, "kind", "owner"],
        )
        credits = GaugeMetricFamily(
            f"{PREFIX}_engagement_service_credits_applicable", "1 if service credits apply now.", labels=key_labels
        )
        out_of_support = GaugeMetricFamily(
            f"{PREFIX}_engagement_products_out_of_support",
            "Covered product versions that are EndOfLife or Unknown.",
            labels=key_labels,
        )
        compatible = GaugeMetricFamily(
            f"{PREFIX}_engagement_platform_compatible",
            "1 if every detected product supports the platform, 0 if not (absent when unknown).",
            labels=key_labels,
        )
        workloads = GaugeMetricFamily(
            f"{PREFIX}_product_workloads",
            "Workloads running a product version and edition, with its lifecycle, eligibility and who must act.",
            labels=[*product_labels, "lifecycle", "eligibility", "action_owner"],
        )
        remaining = GaugeMetricFamily(
            f"{PREFIX}_product_time_to_end_of_support_seconds",
            "Time until the version's end of support (end of that day, UTC); negative when past.",
            labels=product_labels,
        )
        expiry = GaugeMetricFamily(
            f"{PREFIX}_engagement_agreement_time_to_expiry_seconds",
            "Time until the agreement's expiresOn day ends (UTC); negative when past; absent without an expiry.",
            labels=key_labels,
        )
        behind = GaugeMetricFamily(
            f"{PREFIX}_product_not_in_matrix",
            "1 for a covered product version newer than the newest release line the matrix lists (the matrix is "
            "behind: Stakater's action item; eligibility is not lowered).",
            labels=product_labels,
        )
        owner = GaugeMetricFamily(
            f"{PREFIX}_responsibility_owner",
            "Owner of each responsibility as a state set.",
            labels=[*key_labels, "responsibility", "owner"],
        )
        for record in self.state.engagement_records():
            key = list(record.key)
            status: dict[str, Any] = record.written or {}
            info.add_metric([*key, *_info_labels(record, status)], 1.0)
            current = status.get("eligibility", Eligibility.UNKNOWN.value)
            for value in Eligibility:
                eligibility.add_metric([*key, value.value], 1.0 if current == value.value else 0.0)
            eligible.add_metric(key, 1.0 if current == Eligibility.ELIGIBLE.value else 0.0)
            conditions = {c.get("type"): c.get("status") for c in status.get("conditions", [])}
            ready.add_metric(key, 1.0 if conditions.get(ConditionType.READY) == ConditionStatus.TRUE else 0.0)
            managed = record.spec is not None and record.spec.type == EngagementType.MANAGED_SERVICE
            for (kind, party), count in sorted(_findings(status, managed).items()):
                findings.add_metric([*key, kind, party], float(count))
            credits.add_metric(key, 1.0 if (status.get("serviceCredits") or {}).get("applicable") else 0.0)
            out_of_support.add_metric(key, float(status.get("productsOutOfSupport", 0)))
            expires = (status.get("agreement") or {}).get("expiresOn")
            left_in_term = _seconds_until_end_of(str(expires), now) if expires else None
            if left_in_term is not None:
                expiry.add_metric(key, left_in_term)
            platform_ok = (status.get("platform") or {}).get("compatible")
            if platform_ok is not None:
                compatible.add_metric(key, 1.0 if platform_ok else 0.0)
            for product in status.get("products", []):
                labels = [
                    *key,
                    product.get("product", ""),
                    product.get("edition") or "",
                    product.get("version", ""),
                ]
                workloads.add_metric(
                    [
                        *labels,
                        product.get("lifecycle", Lifecycle.UNKNOWN.value),
                        product.get("eligibility") or "",
                        product.get("actionOwner") or "",
                    ],
                    float(product.get("workloadCount", 0)),
                )
                if product.get("matrixBehind"):
                    behind.add_metric(labels, 1.0)
                left = _seconds_until_end_of(product["endOfSupport"], now) if product.get("endOfSupport") else None
                if left is not None:
                    remaining.add_metric(labels, left)
            for item in status.get("responsibilities", []):
                for party in Party:
                    owner.add_metric(
                        [*key, item.get("item", ""), party.value], 1.0 if item.get("owner") == party.value else 0.0
                    )
        return [
            info,
            eligibility,
            eligible,
            ready,
            findings,
            credits,
            out_of_support,
            compatible,
            expiry,
            workloads,
            remaining,
            behind,
            owner,
        ]

    def _operator_families(self) -> Iterator[Metric]:
        engagements = GaugeMetricFamily(f"{PREFIX}_engagements", "SupportEngagements known to the operator.")
        engagements.add_metric([], float(self.state.engagement_count()))
        yield engagements
        inventory = GaugeMetricFamily(f"{PREFIX}_inventory_workloads", "Workloads held in the operator's inventory.")
        inventory.add_metric([], float(self.state.workload_count()))
        yield inventory
        last = GaugeMetricFamily(
            f"{PREFIX}_last_evaluation_timestamp_seconds", "Unix time of the last engagement evaluation."
        )
        if self.state.last_evaluation is not None:
            last.add_metric([], self.state.last_evaluation)
        yield last
        platform = InfoMetricFamily(f"{PREFIX}_platform", "Kubernetes and OpenShift versions of the cluster.")
        if self.state.platform.kubernetes:
            platform.add_metric(
                [],
                {
                    "kubernetes_version": self.state.platform.kubernetes,
                    "openshift_version": self.state.platform.openshift or "",
                },
            )
        yield platform
        unreadable = GaugeMetricFamily(
            f"{PREFIX}_platform_openshift_unreadable",
            "1 when the cluster serves config.openshift.io but its ClusterVersion could not be read (forbidden "
            "or failing): engagements show PlatformCompatible=Unknown/OpenShiftVersionUnreadable; else 0.",
        )
        unreadable.add_metric([], 1.0 if self.state.platform.openshift_problem else 0.0)
        yield unreadable
        build = InfoMetricFamily(f"{PREFIX}_build", "Version of the operator.")
        build.add_metric([], {"version": __version__})
        yield build


class ClusterLabel(Collector):
    """Every series of ``source`` with ``cluster="<name>"`` added: one operator per cluster, many in one Prometheus."""

    def __init__(self, source: CollectorRegistry, cluster: str) -> None:
        self.source = source
        self.cluster = cluster

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        for metric in self.source.collect():
            labelled = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            labelled.samples = [
                sample._replace(labels={**sample.labels, "cluster": self.cluster}) for sample in metric.samples
            ]
            yield labelled


# ------------------------------------------------------------ SupportRequests


def _due_seconds(due: Any, now: float) -> float | None:
    when = parse_rfc3339(str(due))
    return when.timestamp() - now if when is not None else None


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
            "Affected products of a SupportRequest that are Ineligible (upgrade first), by who must act.",
            labels=["namespace", "request", "request_severity", "owner"],
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
            owners: dict[str, int] = {}
            for product in status.get("products") or []:
                if product.get("eligibility") == Eligibility.INELIGIBLE.value:
                    party = str(product.get("actionOwner") or Party.CUSTOMER.value)
                    owners[party] = owners.get(party, 0) + 1
            for party, count in sorted(owners.items()):
                ineligible.add_metric([namespace, name, severity, party], float(count))
        for labels, count in sorted(counts.items()):
            requests.add_metric(list(labels), float(count))
        yield from (requests, due, ineligible)

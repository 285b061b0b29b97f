"""The *Fleet* dashboard: many clusters through one Prometheus (federation, remote write, Thanos, Mimir).

Written for Stakater's support managers and a customer's platform lead: where support is limited,
what must be upgraded and by whom, what ends next, and whether every cluster's operator reports.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, stat, table
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders.common import TableSortByFieldState
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from .common import (
    DATASOURCE,
    ELIGIBILITY_CODES,
    JOB,
    KEY,
    MERGE,
    PREFIX,
    STATE_TEXT_MAP,
    bar_counts,
    cell,
    countdown_table,
    datasource_variable,
    grid,
    label_variable,
    last_value,
    named_values,
    organize,
    prop,
    query,
    ref_ids,
    table_of,
    thresholds,
)

UID = "stakater-support-fleet"
SEL = 'cluster=~"$cluster"'
INFO_LABELS = "customer, type, plan, agreement"
# Join the contract terms onto any per-engagement series (info pattern: the value stays the left side's).
WITH_TERMS = (
    f"* on ({KEY}) group_left ({INFO_LABELS}) max by ({KEY}, {INFO_LABELS}) ({PREFIX}_engagement_info{{{SEL}}})"
)
VERSION = "product, edition, version, lifecycle, action_owner"
COLORS = {"Eligible": "green", "Limited": "orange", "Ineligible": "red", "Unknown": "purple"}


def _fixed(color: str) -> list[dm.DynamicConfigValue]:
    return [prop("color", {"mode": "fixed", "fixedColor": color})]


def _by_eligibility() -> stat.Panel:
    expr = f"count by (eligibility) (max by ({KEY}, eligibility) ({PREFIX}_engagement_eligibility{{{SEL}}} == 1))"
    panel = named_values(
        1,
        "Engagements by eligibility",
        "Across the selected clusters. Limited is Limited Support: no SLA, service credits denied.",
        grid(0, 0, 12, 5),
        query(expr, "{{eligibility}}", instant=True),
    )
    for state, color in COLORS.items():
        panel = panel.override_by_name(state, _fixed(color))
    return panel


def _per_cluster() -> table.Panel:
    queries = [
        query(
            f'sum by (cluster) (max by ({KEY}) ({PREFIX}_engagement_eligibility{{{SEL}, eligibility="{state}"}}))',
            table=True,
        )
        for state in ELIGIBILITY_CODES
    ]
    columns = {f"Value #{chr(ord('A') + i)}": state for i, state in enumerate(ELIGIBILITY_CODES)}
    panel = (
        table_of(2, "Engagements per cluster", grid(12, 0, 12, 5), queries)
        .with_transformation(MERGE)
        .with_transformation(organize(rename=columns, order=("cluster", *columns.values())))
    )
    for state, color in COLORS.items():
        panel = panel.override_by_name(state, [*_fixed(color), cell("color-text")])
    return panel


def _not_eligible() -> table.Panel:
    expr = (
        f'max by ({KEY}, eligibility) ({PREFIX}_engagement_eligibility{{{SEL}, eligibility!="Eligible"}} == 1) '
        f"{WITH_TERMS}"
    )
    title = "Engagements not Eligible, with customer and agreement"
    return (
        table_of(3, title, grid(0, 5, 16, 8), [query(expr, table=True)])
        .with_transformation(organize(exclude=("Value",), order=("cluster", "customer", "namespace", "engagement")))
        .override_by_name("eligibility", [prop("mappings", [STATE_TEXT_MAP]), cell("color-text")])
    )


def _not_evaluated() -> table.Panel:
    expr = f"max by ({KEY}) ({PREFIX}_engagement_ready{{{SEL}}} == 0) {WITH_TERMS}"
    return (
        table_of(4, "Engagements not evaluated (Ready=False)", grid(16, 5, 8, 8), [query(expr, table=True)])
        .description(
            "The operator could not evaluate these (invalid spec, missing or invalid matrix): their eligibility "
            "is Unknown. The engagement's Ready condition names the field to fix."
        )
        .no_value("every engagement is evaluated")
        .with_transformation(organize(exclude=("Value",), order=("cluster", "customer", "namespace", "engagement")))
    )


# Versions to upgrade: not Supported, and not newer than the matrix lists (the matrix is behind there,
# Stakater's item with an alert of its own: nobody must upgrade).
TO_UPGRADE = (
    f'({PREFIX}_product_workloads{{{SEL}, lifecycle!="Supported"}} '
    f"unless on ({KEY}, product, edition, version) {PREFIX}_product_not_in_matrix{{{SEL}}})"
)


def _backlog() -> table.Panel:
    per_cluster = f"max by (cluster, {VERSION}) {TO_UPGRADE}"
    per_engagement = f"max by ({KEY}, {VERSION}) {TO_UPGRADE}"
    queries = [
        query(f"count by ({VERSION}) ({per_cluster})", table=True),
        query(f"count by ({VERSION}) ({per_engagement})", table=True),
        query(f"sum by ({VERSION}) ({per_engagement})", table=True),
    ]
    columns = {"Value #A": "Clusters", "Value #B": "Engagements", "Value #C": "Workloads"}
    return (
        table_of(5, "Upgrade backlog per product and version, by owner", grid(0, 13, 16, 9), queries)
        .description(
            "Versions that are not Supported (EndOfLife, Deprecated inside a Premium horizon, Unknown; not those "
            "newer than the matrix lists), how many "
            "clusters, engagements and workloads run each, and who must upgrade (action_owner). A workload "
            "covered by two engagements counts twice."
        )
        .with_transformation(MERGE)
        .with_transformation(
            organize(
                rename={**columns, "action_owner": "Action owner"},
                order=("product", "edition", "version", "lifecycle", "Action owner", *columns.values()),
            )
        )
        .override_by_regexp("lifecycle|Action owner", [prop("mappings", [STATE_TEXT_MAP]), cell("color-text")])
        .sort_by([TableSortByFieldState().display_name("Workloads").desc(True)])
    )


def _matrix_behind() -> table.Panel:
    per_engagement = f"max by ({KEY}, product, edition, version) ({PREFIX}_product_not_in_matrix{{{SEL}}})"
    queries = [
        query(
            f"count by (product, edition, version) (max by (cluster, product, edition, version) ({per_engagement}))",
            table=True,
        ),
        query(f"count by (product, edition, version) ({per_engagement})", table=True),
    ]
    columns = {"Value #A": "Clusters", "Value #B": "Engagements"}
    return (
        table_of(14, "Versions newer than the matrix (Stakater: list them)", grid(0, 53, 24, 6), queries)
        .description(
            "Versions customers run that are newer than the newest release line the CompatibilityMatrix lists. "
            "They stay eligible (upgrading is never punished); Stakater publishes a matrix that lists them "
            "(`eligibility-operator matrix build`). Alert: StakaterProductNotInMatrix."
        )
        .no_value("the matrix lists every version running")
        .with_transformation(MERGE)
        .with_transformation(organize(rename=columns, order=("product", "edition", "version", *columns.values())))
    )


def _backlog_by_owner() -> bargauge.Panel:
    expr = f"sum by (action_owner, lifecycle) (max by ({KEY}, {VERSION}) {TO_UPGRADE})"
    return bar_counts(6, "Workloads to upgrade, by owner", grid(16, 13, 8, 9), expr, "{{action_owner}}: {{lifecycle}}")


def _next_ends() -> table.Panel:
    days = (
        f"min by ({KEY}, product, edition, version) ({PREFIX}_product_time_to_end_of_support_seconds{{{SEL}}}) / 86400"
    )
    expr = f"bottomk(25, (({days}) >= 0) {WITH_TERMS})"
    return countdown_table(
        7,
        "Next ends of support",
        "The 25 nearest ends of support still ahead, across the fleet. Amber: inside the Premium horizon "
        "(90 days by default). Versions already past their end are in the upgrade backlog.",
        grid(0, 22, 16, 9),
        expr,
        "Days to end of support",
        order=("cluster", "customer", "namespace", "engagement", "product", "edition", "version"),
    )


def _agreements_expiring() -> table.Panel:
    days = f"max by ({KEY}) ({PREFIX}_engagement_agreement_time_to_expiry_seconds{{{SEL}}}) / 86400"
    expr = f"bottomk(25, ({days}) {WITH_TERMS})"
    return countdown_table(
        12,
        "Agreements ending next",
        "Days until each agreement's expiresOn, nearest first; red when expired (the engagement is then "
        "Ineligible), amber inside 90 days (Premium is warned within its upgrade horizon).",
        grid(0, 39, 24, 7),
        expr,
        "Days to agreement end",
        order=("cluster", "customer", "agreement", "namespace", "engagement", "type", "plan"),
    )


def _support_requests() -> table.Panel:
    per_request = f"max by ({KEY}, scope, route, request_severity) ({PREFIX}_requests{{{SEL}}})"
    expr = (
        f"sum by ({KEY}, route, request_severity) ({per_request}) * on ({KEY}) group_left (customer) "
        f"max by ({KEY}, customer) ({PREFIX}_engagement_info{{{SEL}}})"
    )
    title = "Support requests per customer, by route and severity"
    return (
        table_of(13, title, grid(0, 46, 24, 7), [query(expr, table=True)])
        .description(
            "SupportRequests that exist, per engagement and customer, by where the policy's triage sends them "
            "(Support, ProfessionalServices, ScopedEngagement, CommercialApproval, Shared) and proposed severity."
        )
        .with_transformation(
            organize(
                rename={"Value": "Requests", "request_severity": "Severity", "route": "Route"},
                order=("cluster", "customer", "namespace", "engagement", "Route", "Severity"),
            )
        )
        .sort_by([TableSortByFieldState().display_name("Severity")])
    )


def _findings_by_owner() -> bargauge.Panel:
    expr = f"sum by (owner, kind) (max by ({KEY}, owner, kind) ({PREFIX}_engagement_findings{{{SEL}}}))"
    return bar_counts(8, "Open findings by owner", grid(16, 22, 8, 9), expr, "{{owner}}: {{kind}}").description(
        "Stakater's action items and the customers', by kind (product version, platform, agreement)."
    )


def _operator_health() -> table.Panel:
    queries = [
        query(f"max by (cluster, version) ({PREFIX}_build_info{{{SEL}}})", table=True),
        query(f"max by (cluster) ({PREFIX}_engagements{{{SEL}}})", table=True),
        query(f"max by (cluster) ({PREFIX}_inventory_workloads{{{SEL}}})", table=True),
        query(f"min by (cluster) (time() - {PREFIX}_last_evaluation_timestamp_seconds{{{SEL}}})", table=True),
        query(f"sum by (cluster) (rate({PREFIX}_errors_total{{{SEL}}}[15m]))", table=True),
        query(f"max by (cluster, kubernetes_version, openshift_version) ({PREFIX}_platform_info{{{SEL}}})", table=True),
        query(f"max by (cluster) ({PREFIX}_status_writes_failing{{{SEL}}})", table=True),
        query(f"sum by (cluster) ({PREFIX}_leader{{{SEL}}})", table=True),
    ]
    columns = {
        "version": "Operator",
        "Value #B": "Engagements",
        "Value #C": "Workloads",
        "Value #D": "Since last evaluation",
        "Value #E": "API errors/s",
        "kubernetes_version": "Kubernetes",
        "openshift_version": "OpenShift",
        "Value #G": "Status writes failing",
        "Value #H": "Leaders",
    }
    return (
        table_of(9, "Operator health per cluster", grid(0, 31, 18, 8), queries)
        .description(
            "One row per cluster that reports. Since last evaluation stays under an hour while the operator works; "
            "API errors are retried, a steady rate means RBAC or API server trouble. A cluster missing here does "
            "not report at all: see 'Operator targets down'. Leaders: replicas holding the Lease, 1 when healthy."
        )
        .with_transformation(MERGE)
        .with_transformation(
            organize(exclude=("Value #A", "Value #F"), rename=columns, order=("cluster", *columns.values()))
        )
        .override_by_name(
            "Since last evaluation",
            [
                prop("unit", "s"),
                prop("decimals", 0),
                prop("thresholds", thresholds((None, "green"), (7200, "red")).build()),
                cell("color-text"),
            ],
        )
        .override_by_name("API errors/s", [prop("unit", "reqps")])
        .override_by_name(
            "Leaders",
            [prop("thresholds", thresholds((None, "red"), (1, "green"), (2, "red")).build()), cell("color-text")],
        )
    )


def _targets_down() -> stat.Panel:
    return (
        stat.Panel()
        .id(10)
        .title("Operator targets down")
        .description("Scrape targets of the job eligibility-operator that Prometheus cannot reach.")
        .datasource(DATASOURCE)
        .grid_pos(grid(18, 31, 6, 4))
        .targets(ref_ids([query(f"count(up{{{JOB}}} == 0) or vector(0)", "down", instant=True)]))
        .unit("none")
        .thresholds(thresholds((None, "green"), (1, "red")))
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .reduce_options(last_value())
    )


def _clusters_reporting() -> stat.Panel:
    return (
        stat.Panel()
        .id(11)
        .title("Clusters reporting")
        .datasource(DATASOURCE)
        .grid_pos(grid(18, 35, 6, 4))
        .targets(ref_ids([query(f"count(count by (cluster) ({PREFIX}_build_info{{{SEL}}}))", instant=True)]))
        .unit("none")
        .graph_mode(cm.BigValueGraphMode.NONE)
        .reduce_options(last_value())
    )


def dashboard() -> db.Dashboard:
    return (
        db.Dashboard("Stakater support: fleet")
        .uid(UID)
        .description("Support eligibility across clusters: verdicts, upgrade backlog by owner, next ends of support.")
        .tags(["stakater", "support", "eligibility-operator", "fleet"])
        .timezone("utc")
        .refresh("5m")
        .time("now-24h", "now")
        .editable()
        .with_variable(datasource_variable())
        .with_variable(label_variable("cluster", "Cluster", f"{PREFIX}_engagement_info"))
        .with_panel(_by_eligibility())
        .with_panel(_per_cluster())
        .with_panel(_not_eligible())
        .with_panel(_not_evaluated())
        .with_panel(_backlog())
        .with_panel(_backlog_by_owner())
        .with_panel(_next_ends())
        .with_panel(_findings_by_owner())
        .with_panel(_operator_health())
        .with_panel(_targets_down())
        .with_panel(_clusters_reporting())
        .with_panel(_agreements_expiring())
        .with_panel(_support_requests())
        .with_panel(_matrix_behind())
    )

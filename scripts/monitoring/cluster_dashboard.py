"""The *Cluster* dashboard: one cluster's engagements, products, owners and operator, in detail."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as db

from .common import (
    DATASOURCE,
    DAYS,
    DAYS_THRESHOLDS,
    ELIGIBILITY_MAP,
    ELIGIBILITY_THRESHOLDS,
    JOB,
    KEY,
    MERGE,
    PREFIX,
    STATE_TEXT_MAP,
    UP_DOWN,
    YES_NO,
    YES_NO_NEUTRAL,
    bar_counts,
    cell,
    countdown_table,
    datasource_variable,
    eligibility_code,
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

UID = "stakater-support-cluster"
SEL = 'cluster=~"$cluster", namespace=~"$namespace", engagement=~"$engagement"'
CLUSTER = 'cluster=~"$cluster"'
PRODUCT = f"{KEY}, product, edition, version"


def _engagements_table() -> table.Panel:
    """Contract terms and the engagement-level verdict in one row per engagement."""
    queries = [
        query(f"max by ({KEY}, customer, type, plan, agreement) ({PREFIX}_engagement_info{{{SEL}}})", table=True),
        query(eligibility_code(SEL), table=True),
        query(f"max by ({KEY}) ({PREFIX}_engagement_ready{{{SEL}}})", table=True),
        query(f"max by ({KEY}) ({PREFIX}_engagement_service_credits_applicable{{{SEL}}})", table=True),
        query(f"max by ({KEY}) ({PREFIX}_engagement_platform_compatible{{{SEL}}})", table=True),
        query(f"max by ({KEY}) ({PREFIX}_engagement_products_out_of_support{{{SEL}}})", table=True),
        query(f"max by ({KEY}) ({PREFIX}_engagement_agreement_time_to_expiry_seconds{{{SEL}}}) / 86400", table=True),
    ]
    columns = {
        "Value #B": "Eligibility",
        "Value #C": "Ready",
        "Value #D": "Service credits",
        "Value #E": "Platform compatible",
        "Value #F": "Versions out of support",
        "Value #G": "Days to agreement end",
    }
    return (
        table_of(2, "Engagements: terms, verdict, readiness, credits, platform", grid(0, 5, 24, 7), queries)
        .description(
            "One row per engagement. Ready=No: the engagement could not be evaluated (see its Ready condition). "
            "Versions out of support: covered product versions that are EndOfLife or Unknown. Days to agreement "
            "end: until spec.agreement.expiresOn (empty without one)."
        )
        .with_transformation(MERGE)
        .with_transformation(
            organize(
                exclude=("Value #A",),
                rename={**columns, "customer": "Customer", "type": "Type", "plan": "Plan", "agreement": "Agreement"},
                order=("cluster", "namespace", "engagement", "customer", "type", "plan", "agreement", *columns),
            )
        )
        .override_by_name("Eligibility", [prop("mappings", [ELIGIBILITY_MAP]), cell("color-text")])
        .override_by_name(
            "Days to agreement end",
            [prop("unit", DAYS), prop("decimals", 0), prop("thresholds", DAYS_THRESHOLDS.build()), cell("color-text")],
        )
        .override_by_regexp(
            "Ready|Service credits|Platform compatible", [prop("mappings", [YES_NO]), cell("color-text")]
        )
    )


def _product_versions() -> table.Panel:
    expr = f"max by ({PRODUCT}, lifecycle, eligibility, action_owner) ({PREFIX}_product_workloads{{{SEL}}})"
    return (
        table_of(5, "Product versions: lifecycle, eligibility, who acts", grid(0, 19, 16, 9), [query(expr, table=True)])
        .description("Each covered product version found, its workloads, and who must act when it is not Supported.")
        .with_transformation(
            organize(
                rename={"Value": "Workloads", "action_owner": "Action owner"},
                order=("cluster", "namespace", "engagement", "product", "edition", "version", "lifecycle"),
            )
        )
        .override_by_regexp(
            "lifecycle|eligibility|Action owner", [prop("mappings", [STATE_TEXT_MAP]), cell("color-text")]
        )
    )


def _time_to_end_of_support() -> table.Panel:
    expr = f"max by ({PRODUCT}) ({PREFIX}_product_time_to_end_of_support_seconds{{{SEL}}}) / 86400"
    return countdown_table(
        7,
        "Days to end of support",
        "Until the end (UTC) of the version's end-of-support day. Red: past; amber: inside the Premium "
        "horizon (90 days by default); green: beyond it. Versions without an end of support are not listed.",
        grid(0, 28, 12, 9),
        expr,
        "Days to end of support",
    )


def _support_requests() -> tuple[bargauge.Panel, table.Panel]:
    """SupportRequests: where they go, and when a first response is due (the operator never knows if one came)."""
    by_route = bar_counts(
        15,
        "Support requests by scope and route",
        grid(0, 52, 8, 8),
        f"sum by (scope, route) (max by ({KEY}, scope, route, request_severity) ({PREFIX}_requests{{{SEL}}}))",
        "{{scope}} -> {{route}}",
    ).description(
        "SupportRequests that exist (delete one when its ticket is closed), by the policy's triage: InScope -> "
        "Support, Excluded -> ProfessionalServices, ChangeRequest -> ScopedEngagement or CommercialApproval, "
        "ThirdParty -> Shared, NotCovered -> CommercialApproval."
    )
    due = countdown_table(
        16,
        "First responses due (hours)",
        "Hours until each in-scope request's first-response due time (negative: past), from the plan and the "
        "agreement's business-hours calendar. A target, not a record of when Stakater replied.",
        grid(8, 52, 16, 8),
        f"max by (cluster, namespace, request, engagement, request_severity) "
        f"({PREFIX}_request_first_response_due_seconds{{{SEL}}}) / 3600",
        "Hours to first response",
        rename={"request_severity": "Severity"},
        unit="h",
        decimals=1,
        steps=thresholds((None, "red"), (0, "orange"), (1, "green")),
    )
    return by_route, due


def _operator_table() -> table.Panel:
    """The operator's own health, one row per operator process."""
    queries = [
        query(f"max by (cluster, instance, version) ({PREFIX}_build_info{{{CLUSTER}}})", table=True),
        query(f"max by (cluster, instance) ({PREFIX}_engagements{{{CLUSTER}}})", table=True),
        query(f"max by (cluster, instance) ({PREFIX}_inventory_workloads{{{CLUSTER}}})", table=True),
        query(
            f"max by (cluster, instance) (time() - {PREFIX}_last_evaluation_timestamp_seconds{{{CLUSTER}}})",
            table=True,
        ),
        query(
            f"sum by (cluster, instance) (increase({PREFIX}_kubernetes_events_total{{{CLUSTER}}}[1h]))",
            table=True,
        ),
        query(f"max by (cluster, instance) ({PREFIX}_status_writes_failing{{{CLUSTER}}})", table=True),
        query(f"max by (cluster, instance) ({PREFIX}_leader{{{CLUSTER}}})", table=True),
    ]
    columns = {
        "version": "Version",
        "Value #B": "Engagements",
        "Value #C": "Workloads in inventory",
        "Value #D": "Since last evaluation",
        "Value #E": "Events posted (1h)",
        "Value #F": "Status writes failing",
        "Value #G": "Leader",
    }
    return (
        table_of(13, "Operator processes", grid(0, 46, 12, 6), queries)
        .description(
            "Every engagement is re-evaluated at least hourly, so 'since last evaluation' stays under 1 h. "
            "Status writes failing: engagements whose last status write failed (retried with backoff). Only the "
            "leader evaluates and writes; the other replicas keep their state warm and serve the same series."
        )
        .with_transformation(MERGE)
        .with_transformation(organize(exclude=("Value #A",), rename=columns, order=("cluster", "instance", *columns)))
        .override_by_name("Since last evaluation", [prop("unit", "s"), prop("decimals", 0)])
        .override_by_name("Leader", [prop("mappings", [YES_NO_NEUTRAL]), cell("color-text")])
    )


def dashboard() -> db.Dashboard:
    eligibility_per_engagement = (
        named_values(
            1,
            "Eligibility per engagement",
            "Eligible, Limited (Limited Support: no SLA), Ineligible, or Unknown (could not be evaluated).",
            grid(0, 0, 24, 5),
            query(eligibility_code(SEL), "{{cluster}} {{namespace}}/{{engagement}}", instant=True),
        )
        .mappings([ELIGIBILITY_MAP])
        .thresholds(ELIGIBILITY_THRESHOLDS)
    )
    by_eligibility = (
        timeseries.Panel()
        .id(3)
        .title("Engagements by eligibility")
        .datasource(DATASOURCE)
        .grid_pos(grid(0, 12, 12, 7))
        .targets(
            ref_ids(
                [
                    query(
                        f"sum by (eligibility) (max by ({KEY}, eligibility) "
                        f"({PREFIX}_engagement_eligibility{{{SEL}}}))",
                        "{{eligibility}}",
                    )
                ]
            )
        )
        .unit("none")
        .min(0)
        .decimals(0)
    )
    findings = bar_counts(
        4,
        "Open findings by owner",
        grid(12, 12, 12, 7),
        f"sum by (owner, kind) (max by ({KEY}, owner, kind) ({PREFIX}_engagement_findings{{{SEL}}}))",
        "{{owner}}: {{kind}}",
    ).description(
        "Product versions not eligible, platform and agreement findings, by who must act: the customer, "
        "or Stakater (managed services with versionManagement Stakater, Stakater-managed infrastructure)."
    )
    by_lifecycle = bar_counts(
        6,
        "Covered product workloads by lifecycle",
        grid(16, 19, 8, 9),
        f"sum by (lifecycle) (max by ({PRODUCT}, lifecycle) ({PREFIX}_product_workloads{{{SEL}}}))",
        "{{lifecycle}}",
    )
    owners = f"max by ({KEY}, responsibility, owner) ({PREFIX}_responsibility_owner{{{SEL}}} == 1)"
    responsibilities = (
        table_of(8, "Responsibility owners", grid(12, 28, 12, 9), [query(owners, table=True)])
        .description("Policy section 3, resolved for each engagement's type and agreement.")
        .with_transformation(organize(exclude=("Value",)))
        .override_by_name("owner", [prop("mappings", [STATE_TEXT_MAP]), cell("color-text")])
    )
    versions = f"max by (cluster, kubernetes_version, openshift_version) ({PREFIX}_platform_info{{{CLUSTER}}})"
    platform = table_of(9, "Platform", grid(0, 37, 12, 4), [query(versions, table=True)]).with_transformation(
        organize(exclude=("Value",))
    )
    eligible_share = (
        stat.Panel()
        .id(10)
        .title("Engagements eligible")
        .description("Eligible engagements out of all engagements in the selection.")
        .datasource(DATASOURCE)
        .grid_pos(grid(12, 37, 12, 4))
        .targets(
            ref_ids(
                [
                    query(
                        f"sum(max by ({KEY}) ({PREFIX}_engagement_eligible{{{SEL}}})) "
                        f"/ count(max by ({KEY}) ({PREFIX}_engagement_eligible{{{SEL}}}))",
                        instant=True,
                    )
                ]
            )
        )
        .unit("percentunit")
        .min(0)
        .max(1)
        .thresholds(thresholds((None, "red"), (0.5, "orange"), (1, "green")))
        .reduce_options(last_value())
    )
    activity = (
        timeseries.Panel()
        .id(11)
        .title("Operator: evaluations, status patches, errors, admission reviews (per second)")
        .datasource(DATASOURCE)
        .grid_pos(grid(0, 41, 12, 5))
        .targets(
            ref_ids(
                [
                    query(f"sum(rate({PREFIX}_evaluations_total{{{CLUSTER}}}[5m]))", "evaluations"),
                    query(
                        f"sum by (resource) (rate({PREFIX}_status_patches_total{{{CLUSTER}}}[5m]))",
                        "patches {{resource}}",
                    ),
                    query(f"sum by (operation) (rate({PREFIX}_errors_total{{{CLUSTER}}}[5m]))", "errors {{operation}}"),
                    query(
                        f"sum by (mode, outcome) (rate({PREFIX}_admission_reviews_total{{{CLUSTER}}}[5m]))",
                        "admission {{mode}} {{outcome}}",
                    ),
                    query(
                        f"sum by (reason) (rate({PREFIX}_admission_audit_events_withheld_total{{{CLUSTER}}}[5m]))",
                        "audit findings withheld {{reason}}",
                    ),
                ]
            )
        )
        .unit("reqps")
        .min(0)
    )
    latency = (
        timeseries.Panel()
        .id(12)
        .title("Operator: evaluation duration p95, watch events")
        .datasource(DATASOURCE)
        .grid_pos(grid(12, 41, 12, 5))
        .targets(
            ref_ids(
                [
                    query(
                        "histogram_quantile(0.95, sum by (cluster, le) "
                        f"(rate({PREFIX}_evaluation_duration_seconds_bucket{{{CLUSTER}}}[5m])))",
                        "p95 evaluation {{cluster}}",
                    ),
                    query(f"sum by (kind) (rate({PREFIX}_watch_events_total{{{CLUSTER}}}[5m]))", "events/s {{kind}}"),
                ]
            )
        )
        .unit("s")
        .override_by_regexp("events/s.*", [prop("unit", "reqps")])
    )
    scrape = (
        named_values(
            14,
            "Operator scrape targets",
            "Prometheus's `up` for the job eligibility-operator. With --cluster-name the cluster is a metric label, "
            "which `up` does not carry: this panel then lists the targets of every cluster in the data source.",
            grid(12, 46, 12, 6),
            query(f"up{{{JOB}}}", "{{instance}}", instant=True),
        )
        .mappings([UP_DOWN])
        .thresholds(ELIGIBILITY_THRESHOLDS)
    )
    return (
        db.Dashboard("Stakater support: cluster")
        .uid(UID)
        .description("One cluster's SupportEngagements: verdict, products, owners, and the operator's health.")
        .tags(["stakater", "support", "eligibility-operator"])
        .timezone("utc")
        .refresh("1m")
        .time("now-24h", "now")
        .editable()
        .with_variable(datasource_variable())
        .with_variable(label_variable("cluster", "Cluster", f"{PREFIX}_engagement_info", multi=False))
        .with_variable(label_variable("namespace", "Namespace", f"{PREFIX}_engagement_info{{{CLUSTER}}}"))
        .with_variable(
            label_variable(
                "engagement", "Engagement", f'{PREFIX}_engagement_info{{{CLUSTER}, namespace=~"$namespace"}}'
            )
        )
        .with_panel(eligibility_per_engagement)
        .with_panel(_engagements_table())
        .with_panel(by_eligibility)
        .with_panel(findings)
        .with_panel(_product_versions())
        .with_panel(by_lifecycle)
        .with_panel(_time_to_end_of_support())
        .with_panel(responsibilities)
        .with_panel(platform)
        .with_panel(eligible_share)
        .with_panel(activity)
        .with_panel(latency)
        .with_panel(_operator_table())
        .with_panel(scrape)
        .with_panel(_support_requests()[0])
        .with_panel(_support_requests()[1])
    )

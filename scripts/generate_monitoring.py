"""Generate deploy/ monitoring files from their sources (``make generate``).

- deploy/prometheus/prometheusrule.yaml: the groups of deploy/prometheus/rules.yaml wrapped in a
  Prometheus Operator PrometheusRule, so the plain rules file stays the one place to edit alerts.
- deploy/grafana/eligibility-dashboard.json: the Grafana dashboard, described below as data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy/prometheus/rules.yaml"
PROMETHEUS_RULE = ROOT / "deploy/prometheus/prometheusrule.yaml"
DASHBOARD = ROOT / "deploy/grafana/eligibility-dashboard.json"

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'namespace=~"$namespace", engagement=~"$engagement"'


def prometheus_rule() -> str:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "eligibility-operator", "labels": {"app.kubernetes.io/name": "eligibility-operator"}},
        "spec": {"groups": groups},
    }
    header = "# Generated from deploy/prometheus/rules.yaml by `make generate`. Do not edit.\n"
    return header + yaml.safe_dump(doc, sort_keys=False, width=120)


def _target(expr: str, legend: str = "", instant: bool = False, fmt: str = "time_series") -> dict[str, Any]:
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "instant": instant, "format": fmt, "refId": "A"}


def _panel(
    pid: int, title: str, kind: str, grid: tuple[int, int, int, int], targets: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    x, y, w, h = grid
    for i, target in enumerate(targets):
        target["refId"] = chr(ord("A") + i)
    return {
        "id": pid,
        "title": title,
        "type": kind,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        **extra,
    }


def dashboard() -> dict[str, Any]:
    eligibility_colors = {
        "type": "value",
        "options": {
            "0": {"text": "Ineligible", "color": "red", "index": 0},
            "1": {"text": "Limited", "color": "orange", "index": 1},
            "2": {"text": "Eligible", "color": "green", "index": 2},
            "3": {"text": "Unknown", "color": "grey", "index": 3},
        },
    }
    # One number per engagement (0 Ineligible .. 3 Unknown) that the value mappings above name and colour.
    state_code = " or ".join(
        f"{code} * max by (namespace, engagement) "
        f'(stakater_support_engagement_eligibility{{{SEL}, eligibility="{state}"}} == 1)'
        for code, state in enumerate(("Ineligible", "Limited", "Eligible", "Unknown"))
    )
    panels = [
        _panel(
            1,
            "Eligibility per engagement",
            "stat",
            (0, 0, 24, 5),
            [_target(state_code, "{{namespace}}/{{engagement}}", True)],
            fieldConfig={
                "defaults": {
                    "mappings": [eligibility_colors],
                    "color": {"mode": "thresholds"},
                    "thresholds": {
                        "mode": "absolute",
                        "steps": [
                            {"color": "red", "value": None},
                            {"color": "orange", "value": 1},
                            {"color": "green", "value": 2},
                            {"color": "grey", "value": 3},
                        ],
                    },
                },
                "overrides": [],
            },
            options={
                "colorMode": "background",
                "graphMode": "none",
                "textMode": "value_and_name",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            },
        ),
        _panel(
            2,
            "Engagements by eligibility",
            "timeseries",
            (0, 5, 12, 8),
            [_target(f"sum by (eligibility) (stakater_support_engagement_eligibility{{{SEL}}})", "{{eligibility}}")],
        ),
        _panel(
            3,
            "Covered product workloads by lifecycle",
            "bargauge",
            (12, 5, 12, 8),
            [_target(f"sum by (lifecycle) (stakater_support_product_workloads{{{SEL}}})", "{{lifecycle}}", True)],
            options={
                "displayMode": "basic",
                "orientation": "horizontal",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            },
        ),
        _panel(
            4,
            "Product versions",
            "table",
            (0, 13, 12, 9),
            [_target(f"stakater_support_product_workloads{{{SEL}}}", "", True, "table")],
            transformations=[
                {
                    "id": "organize",
                    "options": {"excludeByName": {"Time": True, "__name__": True, "job": True, "instance": True}},
                }
            ],
        ),
        _panel(
            5,
            "Time to end of support",
            "table",
            (12, 13, 12, 9),
            [_target(f"stakater_support_product_time_to_end_of_support_seconds{{{SEL}}}", "", True, "table")],
            fieldConfig={"defaults": {"unit": "s"}, "overrides": []},
            transformations=[
                {
                    "id": "organize",
                    "options": {"excludeByName": {"Time": True, "__name__": True, "job": True, "instance": True}},
                }
            ],
        ),
        _panel(
            6,
            "Responsibility owners",
            "table",
            (0, 22, 24, 9),
            [_target(f"stakater_support_responsibility_owner{{{SEL}}} == 1", "", True, "table")],
            transformations=[
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True, "Value": True, "__name__": True, "job": True, "instance": True}
                    },
                }
            ],
        ),
        _panel(
            7,
            "Service credits applicable / platform compatible",
            "table",
            (0, 31, 12, 7),
            [
                _target(f"stakater_support_engagement_service_credits_applicable{{{SEL}}}", "", True, "table"),
                _target(f"stakater_support_engagement_platform_compatible{{{SEL}}}", "", True, "table"),
            ],
        ),
        _panel(8, "Platform", "table", (12, 31, 12, 7), [_target("stakater_support_platform_info", "", True, "table")]),
        _panel(
            9,
            "Operator: evaluations, status patches, errors (per second)",
            "timeseries",
            (0, 38, 12, 8),
            [
                _target("sum(rate(stakater_support_evaluations_total[5m]))", "evaluations"),
                _target("sum by (resource) (rate(stakater_support_status_patches_total[5m]))", "patches {{resource}}"),
                _target("sum by (operation) (rate(stakater_support_errors_total[5m]))", "errors {{operation}}"),
            ],
        ),
        _panel(
            10,
            "Operator: evaluation duration p95, watch events",
            "timeseries",
            (12, 38, 12, 8),
            [
                _target(
                    "histogram_quantile(0.95, "
                    "sum by (le) (rate(stakater_support_evaluation_duration_seconds_bucket[5m])))",
                    "p95 evaluation",
                ),
                _target("sum by (kind) (rate(stakater_support_watch_events_total[5m]))", "events {{kind}}"),
            ],
        ),
        _panel(
            11, "Operator up", "stat", (0, 46, 6, 4), [_target('up{job="eligibility-operator"}', "{{instance}}", True)]
        ),
        _panel(
            12,
            "Last evaluation (seconds ago)",
            "stat",
            (6, 46, 6, 4),
            [_target("time() - stakater_support_last_evaluation_timestamp_seconds", "{{instance}}", True)],
            fieldConfig={"defaults": {"unit": "s"}, "overrides": []},
        ),
        _panel(
            13,
            "Workloads in inventory",
            "stat",
            (12, 46, 6, 4),
            [_target("stakater_support_inventory_workloads", "{{instance}}", True)],
        ),
        _panel(
            14,
            "Admission reviews (per second)",
            "timeseries",
            (18, 46, 6, 4),
            [
                _target(
                    "sum by (mode, outcome) (rate(stakater_support_admission_reviews_total[5m]))",
                    "{{mode}} {{outcome}}",
                )
            ],
        ),
    ]
    engagements_in_namespace = 'label_values(stakater_support_engagement_eligible{namespace=~"$namespace"}, engagement)'
    return {
        "title": "Stakater support eligibility",
        "uid": "stakater-support-eligibility",
        "tags": ["stakater", "support", "eligibility-operator"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                },
                {
                    "name": "namespace",
                    "label": "Namespace",
                    "type": "query",
                    "datasource": DS,
                    "query": {"query": "label_values(stakater_support_engagement_eligible, namespace)", "refId": "ns"},
                    "definition": "label_values(stakater_support_engagement_eligible, namespace)",
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "refresh": 2,
                    "current": {},
                },
                {
                    "name": "engagement",
                    "label": "Engagement",
                    "type": "query",
                    "datasource": DS,
                    "query": {
                        "query": engagements_in_namespace,
                        "refId": "eng",
                    },
                    "definition": engagements_in_namespace,
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "refresh": 2,
                    "current": {},
                },
            ]
        },
        "panels": panels,
        "annotations": {"list": []},
    }


def outputs() -> dict[Path, str]:
    return {
        PROMETHEUS_RULE: prometheus_rule(),
        DASHBOARD: json.dumps(dashboard(), indent=2) + "\n",
    }


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for path, text in outputs().items():
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("stale (run `make generate`): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

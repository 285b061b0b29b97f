"""Metrics, alerts and dashboards, checked with a real Prometheus, promtool and amtool.

One operator on the test control plane, scraped by a real Prometheus; the rules' unit tests; the
example Alertmanager routes; the dashboards' structure; generated files up to date. Many clusters
through one Prometheus: tests/cluster/test_fleet_monitoring.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from eligibility_operator_dev.controlplane import die_with_parent, free_port

from ..builders import engagement, matrix, workload
from ..conftest import REPO, Kubectl, OperatorProcess, wait_for

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
needs_prometheus = pytest.mark.skipif(
    not (PROMTOOL and PROMETHEUS), reason="Debian package prometheus not installed (make system-deps)"
)
RULES = REPO / "deploy/prometheus/rules.yaml"
DASHBOARDS = {
    "cluster": REPO / "deploy/grafana/stakater-support-cluster.json",
    "fleet": REPO / "deploy/grafana/stakater-support-fleet.json",
}
# Alerts whose firing condition no short test of healthy operators can produce (two hours without
# evaluation; a sustained error rate; no leader): their expression is still run, and the part before the threshold must
# return data. promtool's unit tests (tests/prometheus/rules_test.yaml) make both fire.
THRESHOLD_ONLY_IN_UNIT_TESTS = {
    "EligibilityOperatorNotEvaluating",
    "EligibilityOperatorErrors",
    "EligibilityOperatorNoLeader",
    "EligibilityOperatorMatrixRefreshFailing",
    "EligibilityOperatorOpenShiftVersionUnreadable",
}
# Alerts about matrices with spec.source, which the fleet scenario has none of: promtool's unit tests make
# them fire, and tests/cluster/test_matrix_refresh.py checks the operator exports their series.
NEEDS_A_MATRIX_SOURCE = {"StakaterSupportMatrixStale"}


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def families(exposition: str) -> set[str]:
    return set(re.findall(r"^# TYPE (\S+) ", exposition, re.MULTILINE))


def promtool_check_metrics(exposition: str) -> None:
    result = subprocess.run(
        [PROMTOOL or "promtool", "check", "metrics"], input=exposition, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        result.stdout + result.stderr
    )


class Prometheus:
    """A real Prometheus on loopback scraping the given loopback ports (or ``host:port`` targets) every
    second (job eligibility-operator)."""

    def __init__(self, *target_ports: int | str, remote_write_to: int | None = None, receiver: bool = False) -> None:
        """``remote_write_to``: forward every sample to the Prometheus on that port (an edge of a fleet);
        ``receiver``: accept remote writes (the fleet's central Prometheus, which then scrapes nothing)."""
        assert PROMETHEUS
        self.dir = Path(tempfile.mkdtemp(prefix="eo-prometheus-"))
        self.port = free_port()
        config: dict[str, Any] = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}}
        targets = [t if isinstance(t, str) else f"127.0.0.1:{t}" for t in target_ports]
        if target_ports:
            config["scrape_configs"] = [
                {
                    "job_name": "eligibility-operator",
                    "static_configs": [{"targets": targets}],
                }
            ]
        if remote_write_to is not None:
            config["remote_write"] = [
                {
                    "url": f"http://127.0.0.1:{remote_write_to}/api/v1/write",
                    "queue_config": {"batch_send_deadline": "1s", "min_backoff": "100ms", "max_backoff": "1s"},
                }
            ]
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = open(self.dir / "prometheus.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={self.dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
                *(["--web.enable-remote-write-receiver"] if receiver else []),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )

    def get(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}{path}?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                data = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{params}: {error.read().decode(errors='replace')}") from None
        assert data["status"] == "success", data
        return data["data"]

    def wait_ready(self) -> None:
        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2):
                    return True
            except OSError:
                return False

        wait_for(ready, timeout=30, what="Prometheus ready")

    def query(self, promql: str) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/query", query=promql)["result"])

    def query_range(self, promql: str, seconds: int = 60) -> list[dict[str, Any]]:
        end = time.time()
        return list(
            self.get("/api/v1/query_range", query=promql, start=str(end - seconds), end=str(end), step="2")["result"]
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------ one cluster


@pytest.fixture(scope="module")
def prometheus(operator: OperatorProcess) -> Iterator[Prometheus]:
    prom = Prometheus(operator.metrics_port)
    try:
        prom.wait_ready()
        yield prom
    finally:
        prom.stop()


@pytest.fixture
def two_engagements(kubectl: Kubectl, namespace: str) -> Iterator[str]:
    name = f"m-{namespace}"
    kubectl.apply(
        matrix(name),
        workload(namespace, "ok", "ghcr.io/stakater/reloader:v1.4.21"),
        workload(namespace, "eol", "stakater/reloader:v1.1.0"),
        engagement(namespace, "good", matrixRef={"name": name}, products=[{"name": "forecastle"}]),
        engagement(
            namespace, "bad", matrixRef={"name": name}, plan="Premium", serviceCredits={"definedInAgreement": True}
        ),
    )
    for se, want in (("good", "Eligible"), ("bad", "Limited")):
        wait_for(
            lambda se=se, want=want: re.fullmatch(
                want, kubectl.get("se", se, "-n", namespace).get("status", {}).get("eligibility") or ""
            ),
            what=f"{se} {want}",
        )
    yield namespace
    kubectl.run("delete", "compatibilitymatrix", name, "--wait=false", check=False)


@needs_prometheus
def test_exposition_passes_promtool_and_carries_the_engagements(
    operator: OperatorProcess, two_engagements: str
) -> None:
    text = scrape(operator.metrics_port)
    promtool_check_metrics(text)
    ns = two_engagements
    # Without --cluster-name there is no cluster label (Prometheus external_labels may add one).
    assert "cluster=" not in text
    assert f'stakater_support_engagement_eligible{{engagement="bad",namespace="{ns}"}} 0.0' in text
    assert f'stakater_support_engagement_eligible{{engagement="good",namespace="{ns}"}} 1.0' in text
    info = re.search(
        rf"stakater_support_engagement_info\{{([^}}]*engagement=\"bad\",[^}}]*namespace=\"{ns}\"[^}}]*)\}}", text
    )
    assert info and 'customer="ACME"' in info.group(1) and 'plan="Premium"' in info.group(1), info
    eol = re.search(
        rf'stakater_support_product_workloads\{{([^}}]*engagement="bad",[^}}]*lifecycle="EndOfLife",'
        rf'namespace="{ns}",product="reloader",version="1.1.0")\}} 1.0',
        text,
    )
    assert eol and 'action_owner="Customer"' in eol.group(1) and 'edition="Community"' in eol.group(1), eol
    remaining = re.search(
        rf'stakater_support_product_time_to_end_of_support_seconds\{{edition="Community",engagement="bad",'
        rf'namespace="{ns}",product="reloader",version="1.1.0"\}} (\S+)',
        text,
    )
    assert remaining and -31 * 86400 < float(remaining.group(1)) < -29 * 86400
    findings = re.search(
        rf'stakater_support_engagement_findings\{{engagement="bad",kind="product",namespace="{ns}",'
        r'owner="Customer"\} (\S+)',
        text,
    )
    assert findings and float(findings.group(1)) >= 1
    assert "pod=" not in text and "container=" not in text


@needs_prometheus
def test_prometheus_sees_eligibility_and_forgets_deleted_engagements(
    prometheus: Prometheus, kubectl: Kubectl, two_engagements: str
) -> None:
    ns = two_engagements

    def states() -> dict[str, str]:
        rows = prometheus.query(f'stakater_support_engagement_eligibility{{namespace="{ns}"}} == 1')
        return {r["metric"]["engagement"]: r["metric"]["eligibility"] for r in rows}

    seen = wait_for(lambda: states() if len(states()) == 2 else None, timeout=20, what="two engagements")
    assert seen == {"good": "Eligible", "bad": "Limited"}
    credits = prometheus.query(f'stakater_support_engagement_service_credits_applicable{{namespace="{ns}"}}')
    assert {r["metric"]["engagement"]: r["value"][1] for r in credits} == {"good": "0", "bad": "0"}
    owners = prometheus.query(
        f'stakater_support_responsibility_owner{{namespace="{ns}",engagement="bad",'
        f'responsibility="Maintaining supported versions"}} == 1'
    )
    assert [r["metric"]["owner"] for r in owners] == ["Customer"]

    kubectl.run("delete", "se", "bad", "-n", ns)
    assert wait_for(
        lambda: states() if "bad" not in states() else None,
        timeout=20,
        what="series of the deleted engagement to disappear",
    ) == {"good": "Eligible"}
    assert prometheus.query(f'stakater_support_product_workloads{{namespace="{ns}",engagement="bad"}}') == []
    assert prometheus.query(f'stakater_support_engagement_info{{namespace="{ns}",engagement="bad"}}') == []


def test_health_and_readiness(operator: OperatorProcess) -> None:
    for path in ("/healthz", "/readyz"):
        with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}{path}", timeout=5) as response:
            assert response.status == 200


# ------------------------------------------------------------------ rules and dashboards as files


@needs_prometheus
def test_alert_rules_check_and_unit_tests() -> None:
    assert PROMTOOL
    check = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    unit = subprocess.run(
        [PROMTOOL, "test", "rules", "rules_test.yaml"],
        cwd=REPO / "tests/prometheus",
        capture_output=True,
        text=True,
        check=False,
    )
    assert unit.returncode == 0, unit.stdout + unit.stderr
    assert "SUCCESS" in unit.stdout


# Support alerts only Stakater can act on: a version newer than the matrix lists (the matrix is behind).
STAKATER_ONLY = {"StakaterProductNotInMatrix"}


def test_every_support_alert_has_owner_routing_cases() -> None:
    """Each support alert is unit-tested firing for the customer and for Stakater (only for Stakater when only
    Stakater can act); operator alerts by component."""
    rules = yaml.safe_load(RULES.read_text())
    cases = yaml.safe_load((REPO / "tests/prometheus/rules_test.yaml").read_text())
    owners: dict[str, set[str]] = {}
    for test in cases["tests"]:
        for check in test["alert_rule_test"]:
            for alert in check.get("exp_alerts") or []:
                labels = alert["exp_labels"]
                owners.setdefault(check["alertname"], set()).add(labels.get("owner") or labels.get("component"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            want = {
                "stakater-support-eligibility": {"Customer", "Stakater"},
                "stakater-support-matrix": {"Stakater"},  # Stakater publishes the matrix
            }.get(group["name"], {"eligibility-operator"})
            if rule["alert"] in STAKATER_ONLY:
                want = {"Stakater"}
            assert owners.get(rule["alert"], set()) >= want, (rule["alert"], owners.get(rule["alert"]))


AMTOOL = shutil.which("amtool")
RECEIVERS = {"Stakater": "stakater-support", "Customer": "customer-platform-team", None: "operator-admins"}


@pytest.mark.skipif(not AMTOOL, reason="Debian package prometheus-alertmanager not installed (make system-deps)")
def test_example_alertmanager_routes_send_each_alert_to_its_owner() -> None:
    """Every alert the promtool cases expect, with its labels, through the documented Alertmanager routes."""
    assert AMTOOL
    config = REPO / "deploy/prometheus/alertmanager-routes.example.yaml"
    check = subprocess.run([AMTOOL, "check-config", str(config)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    cases = yaml.safe_load((REPO / "tests/prometheus/rules_test.yaml").read_text())
    routed: set[str] = set()
    for test in cases["tests"]:
        for case in test["alert_rule_test"]:
            for alert in case.get("exp_alerts") or []:
                labels = {"alertname": case["alertname"], **alert["exp_labels"]}
                result = subprocess.run(
                    [AMTOOL, "config", "routes", "test", f"--config.file={config}"]
                    + [f"{k}={v}" for k, v in labels.items()],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                owner = labels.get("owner")
                want = (
                    "acme-platform-team"
                    if labels.get("customer") == "ACME Corp" and owner == "Customer"
                    else RECEIVERS[owner]
                )
                assert result.stdout.strip() == want, (labels, result.stdout, result.stderr)
                routed.add(case["alertname"])
    assert routed == set(_rules()), set(_rules()) - routed


def test_generated_monitoring_files_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts/generate_monitoring.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _datasource_refs(node: Any) -> Iterator[Any]:
    """Every value under a "datasource" key, anywhere in the dashboard."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from _datasource_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _datasource_refs(value)


def _dashboard(name: str) -> dict[str, Any]:
    return dict(json.loads(DASHBOARDS[name].read_text()))


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_structure(name: str) -> None:
    board = _dashboard(name)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert "cluster" in variables and variables["cluster"]["includeAll"] and variables["cluster"]["allValue"] == ".*"
    refs = list(_datasource_refs(board))
    assert len(refs) > len(board["panels"]) and all(
        ref == {"type": "prometheus", "uid": "${datasource}"} for ref in refs
    )
    panels = board["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids), ids
    for panel in panels:
        assert panel["fieldConfig"]["defaults"].get("unit"), f"panel {panel['id']} {panel['title']!r} has no unit"
        assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"]), panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}"
    cells = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not mine & cells, f"panel {panel['title']!r} overlaps another"
        cells |= mine


def _expressions(name: str) -> list[tuple[str, str, bool]]:
    """(panel title, expression, instant) for every query of a dashboard."""
    return [
        (panel["title"], target["expr"], bool(target.get("instant")))
        for panel in _dashboard(name)["panels"]
        for target in panel["targets"]
    ]


def _rules() -> dict[str, str]:
    rules = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}


def test_every_exported_family_appears_in_a_dashboard_or_alert(operator: OperatorProcess) -> None:
    exported = families(scrape(operator.metrics_port))
    used_text = " ".join(expr for name in DASHBOARDS for _, expr, _ in _expressions(name)) + " ".join(_rules().values())
    used = set(re.findall(r"\b(stakater_support_[a-z_]+)", used_text))

    def family(name: str) -> str:
        for suffix in ("_bucket", "_sum", "_count", "_total", "_info"):
            if name.endswith(suffix) and name[: -len(suffix)] in exported:
                return name[: -len(suffix)]
        return name

    missing = sorted(name for name in used if family(name) not in exported)
    assert missing == [], f"used by dashboards/alerts but not exported: {missing}"
    unused = sorted(exported - {family(name) for name in used})
    assert unused == [], f"exported but in no panel or alert: {unused}"

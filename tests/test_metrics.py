"""Metrics, alerts and dashboard, checked with a real Prometheus and promtool."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from eligibility_operator_dev.controlplane import die_with_parent, free_port

from .builders import engagement, matrix, workload
from .conftest import REPO, Kubectl, OperatorProcess, wait_for

pytestmark = pytest.mark.cluster
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
needs_prometheus = pytest.mark.skipif(
    not (PROMTOOL and PROMETHEUS), reason="Debian package prometheus not installed (make system-deps)"
)


def scrape(operator: OperatorProcess) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def families(exposition: str) -> set[str]:
    return set(re.findall(r"^# TYPE (\S+) ", exposition, re.MULTILINE))


class Prometheus:
    """A real Prometheus on loopback scraping the operator every second."""

    def __init__(self, target_port: int) -> None:
        assert PROMETHEUS
        self.dir = Path(tempfile.mkdtemp(prefix="eo-prometheus-"))
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    "job_name": "eligibility-operator",
                    "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
                }
            ],
        }
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = open(self.dir / "prometheus.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={self.dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
            return json.loads(response.read())

    def wait_ready(self) -> None:
        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2):
                    return True
            except OSError:
                return False

        wait_for(ready, timeout=30, what="Prometheus ready")

    def query(self, promql: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        assert data["status"] == "success", data
        return list(data["data"]["result"])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


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
            lambda se=se, want=want: (
                kubectl.get("se", se, "-n", namespace).get("status", {}).get("eligibility") == want
            ),
            what=f"{se} {want}",
        )
    yield namespace
    kubectl.run("delete", "compatibilitymatrix", name, "--wait=false", check=False)


@needs_prometheus
def test_exposition_passes_promtool_and_carries_the_engagements(
    operator: OperatorProcess, two_engagements: str
) -> None:
    text = scrape(operator)
    result = subprocess.run(
        [PROMTOOL or "promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        result.stdout + result.stderr
    )
    ns = two_engagements
    assert (
        f'stakater_support_engagement_eligible{{engagement="bad",namespace="{ns}",plan="Premium",'
        f'type="ProductSupport"}} 0.0'
    ) in text
    assert f'stakater_support_engagement_eligible{{engagement="good",namespace="{ns}",plan="Standard"' in text
    assert re.search(
        rf'stakater_support_product_workloads\{{engagement="bad",lifecycle="EndOfLife",namespace="{ns}",'
        r'product="reloader",version="1.1.0"\} 1.0',
        text,
    )
    remaining = re.search(
        rf'stakater_support_product_time_to_end_of_support_seconds\{{engagement="bad",namespace="{ns}",'
        r'product="reloader",version="1.1.0"\} (\S+)',
        text,
    )
    assert remaining and -31 * 86400 < float(remaining.group(1)) < -29 * 86400
    assert "pod=" not in text and "container=" not in text


@needs_prometheus
def test_prometheus_sees_eligibility_and_forgets_deleted_engagements(
    prometheus: Prometheus, kubectl: Kubectl, two_engagements: str
) -> None:
    ns = two_engagements

    def states() -> dict[str, str]:
        rows = prometheus.query(f'stakater_support_engagement_eligibility{{namespace="{ns}"}} == 1')
        return {r["metric"]["engagement"]: r["metric"]["eligibility"] for r in rows}

    assert wait_for(
        lambda: states() if len(states()) == 2 else None, timeout=20, what="two engagements in Prometheus"
    ) == {"good": "Eligible", "bad": "Limited"}
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


@needs_prometheus
def test_alert_rules_check_and_unit_tests() -> None:
    assert PROMTOOL
    check = subprocess.run(
        [PROMTOOL, "check", "rules", str(REPO / "deploy/prometheus/rules.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
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


def test_generated_monitoring_files_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts/generate_monitoring.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def _expressions() -> list[str]:
    rules = yaml.safe_load((REPO / "deploy/prometheus/rules.yaml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((REPO / "deploy/grafana/eligibility-dashboard.json").read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if v.get("definition")]
    return exprs


def test_dashboard_and_alerts_use_only_exported_metrics(operator: OperatorProcess, two_engagements: str) -> None:
    exported = families(scrape(operator))
    used = {name for expr in _expressions() for name in re.findall(r"\b(stakater_support_[a-z_]+)", expr)}
    assert len(used) >= 10  # the parser found the expressions

    def family(name: str) -> str:
        for suffix in ("_bucket", "_sum", "_count", "_total", "_info"):
            if name.endswith(suffix) and name[: -len(suffix)] in exported:
                return name[: -len(suffix)]
        return name

    missing = sorted(name for name in used if family(name) not in exported)
    assert missing == [], f"used by dashboard/alerts but not exported: {missing}"


def test_health_and_readiness(operator: OperatorProcess) -> None:
    for path in ("/healthz", "/readyz"):
        with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}{path}", timeout=5) as response:
            assert response.status == 200

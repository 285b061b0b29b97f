"""Many clusters through one Prometheus: every dashboard query and alert expression returns data.

Two operators, each against its own control plane (its own kube-apiserver and etcd) and started with
its own ``--cluster-name``, hold the same namespace and engagement names; a third scrape target has no
operator (down). Two topologies run side by side over the same operators, and every test runs on
both: one real Prometheus scrapes all three ("scraped"), and ("remote-write") each cluster's own
Prometheus scrapes its operator and remote-writes into a central one started with
``--web.enable-remote-write-receiver`` (as Thanos Receive or Mimir would take it). A module of its
own, so that no other operator runs on the session's control plane meanwhile: each fleet operator is
its cluster's only replica, and its leader.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from eligibility_operator_dev.cluster import apply_defaults
from eligibility_operator_dev.controlplane import ControlPlane, free_port

from ..builders import engagement, matrix, workload
from ..conftest import Kubectl, OperatorProcess, running_operator, wait_for
from .test_metrics import (
    DASHBOARDS,
    NEEDS_A_MATRIX_SOURCE,
    THRESHOLD_ONLY_IN_UNIT_TESTS,
    Prometheus,
    _dashboard,
    _expressions,
    _rules,
    needs_prometheus,
    promtool_check_metrics,
    scrape,
)

SILENT = "EligibilityOperatorClusterSilent"


def _fleet_objects(namespace: str, cluster: str) -> list[dict[str, Any]]:
    """Same namespace and engagement name in both clusters, different contracts and findings.

    east: the customer runs an end-of-life Reloader next to a Deprecated one, one newer than the matrix lists
    (the matrix is behind: Stakater's item, not a finding) and a current Forecastle (ProductSupport, Premium:
    customer's findings), and a P1 SupportRequest against that Reloader; an
    engagement covering only an end-of-life Reloader in a second namespace (Ineligible); an engagement
    whose matrix is missing (Ready=False).
    west: a managed service (versionManagement Stakater) on a platform Reloader does not support, with a
    Reloader of unknown version: Stakater's findings, which do not reduce eligibility; and an Eligible
    engagement covering only a current Forecastle.
    """
    name = f"m-{namespace}"
    if cluster == "east":
        return [
            matrix(name),
            workload(namespace, "reloader-old", "stakater/reloader:v1.1.0"),
            workload(namespace, "reloader-soon", "stakater/reloader:v1.2.0"),
            workload(namespace, "forecastle", "stakater/forecastle:v2.0.1"),
            workload(namespace, "reloader-new", "stakater/reloader:v1.5.0"),  # newer than the matrix: Stakater's
            engagement(
                namespace,
                "acme",
                customer="ACME East",
                plan="Premium",
                agreement={
                    "orderForm": "OF-EAST-1",
                    "expiresOn": (dt.date.today() + dt.timedelta(days=200)).isoformat(),
                },
                matrixRef={"name": name},
                serviceCredits={"definedInAgreement": True},
            ),
            workload(f"{namespace}-legacy", "reloader-legacy", "stakater/reloader:v1.1.0"),
            engagement(
                namespace, "legacy", customer="ACME East", matrixRef={"name": name}, covers=[f"{namespace}-legacy"]
            ),
            engagement(namespace, "broken", customer="ACME East", matrixRef={"name": "no-such-matrix"}),
            {  # a P1 against the end-of-life Reloader: the requester must hear "upgrade first"
                "apiVersion": "support.stakater.com/v1alpha1",
                "kind": "SupportRequest",
                "metadata": {"name": "reloader-down", "namespace": namespace},
                "spec": {
                    "engagementRef": {"name": "acme"},
                    "category": "Incident",
                    "title": "Reloader stopped reloading",
                    "workloads": [f"{namespace}/Deployment/reloader-old"],
                    "severity": "P1",
                },
            },
        ]
    return [
        matrix(name, kubernetes_min="1.99"),
        workload(namespace, "reloader", "stakater/reloader:v1.4.21"),
        workload(namespace, "reloader-edge", "stakater/reloader:latest"),
        workload(namespace, "forecastle", "stakater/forecastle:v2.0.1"),
        engagement(
            namespace,
            "acme",
            customer="ACME West",
            type="ManagedService",
            versionManagement="Stakater",
            agreement={"orderForm": "OF-WEST-7", "masterAgreement": "MSA-ACME"},
            matrixRef={"name": name},
        ),
        engagement(
            namespace, "good", customer="ACME West", matrixRef={"name": name}, products=[{"name": "forecastle"}]
        ),
    ]


class Fleet(NamedTuple):
    prom: Prometheus  # scrapes every operator itself
    central: Prometheus  # scrapes nothing: receives what each cluster's Prometheus remote-writes
    namespace: str
    west: OperatorProcess  # stopped by the last test: a cluster that falls silent

    def topology(self, name: str) -> Prometheus:
        return self.prom if name == "scraped" else self.central


TOPOLOGIES = ["scraped", "remote-write"]


def _fleet_args(cluster: str, namespace: str) -> list[str]:
    # Its own Lease: leadership at once, not after a lease left by an earlier module's operator.
    return ["--cluster-name", cluster, "--leader-election-namespace", namespace]


@pytest.fixture(scope="module")
def west_plane() -> Iterator[ControlPlane]:
    """A second cluster: its own etcd and kube-apiserver."""
    with ControlPlane() as plane:
        apply_defaults(plane.kubeconfig)
        yield plane


@pytest.fixture(scope="module")
def fleet(kubeconfig: Path, west_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    namespace = f"fleet-{int(time.time())}"
    logs = tmp_path_factory.mktemp("fleet")
    for config, cluster in ((kubeconfig, "east"), (west_plane.kubeconfig, "west")):
        kubectl = Kubectl(config)
        kubectl.run("create", "namespace", namespace)
        kubectl.run("create", "namespace", f"{namespace}-legacy")
        kubectl.apply(*_fleet_objects(namespace, cluster))
    dead_port = free_port()  # a third cluster whose operator is down: `up` is 0
    with (
        running_operator(kubeconfig, logs / "east.log", *_fleet_args("east", namespace)) as east,
        running_operator(west_plane.kubeconfig, logs / "west.log", *_fleet_args("west", namespace)) as west,
    ):
        for config, engagements in (
            (kubeconfig, ("acme", "legacy", "broken")),
            (west_plane.kubeconfig, ("acme", "good")),
        ):
            kubectl = Kubectl(config)
            for se in engagements:
                wait_for(
                    lambda kubectl=kubectl, se=se: (
                        kubectl.get("se", se, "-n", namespace).get("status", {}).get("conditions")
                    ),
                    what=f"{se} evaluated",
                )
        east_requests = Kubectl(kubeconfig)
        wait_for(
            lambda: east_requests.get("sr", "reloader-down", "-n", namespace).get("status", {}).get("products"),
            what="the support request triaged",
        )
        for proc in (east, west):
            promtool_check_metrics(scrape(proc.metrics_port))
        prom = Prometheus(east.metrics_port, west.metrics_port, dead_port)
        central = Prometheus(receiver=True)
        edges = [
            Prometheus(east.metrics_port, dead_port, remote_write_to=central.port),
            Prometheus(west.metrics_port, remote_write_to=central.port),
        ]
        try:
            for each in (prom, central, *edges):
                each.wait_ready()
            # rate() over 5m needs two samples of every series, and both operators must be in.
            for each in (prom, central):
                wait_for(
                    lambda each=each: (
                        len(each.query("count by (cluster) (stakater_support_build_info)")) == 2
                        and each.query("count_over_time(stakater_support_evaluations_total[5m]) > 2")
                    ),
                    timeout=60,
                    what="both clusters scraped (and forwarded) a few times",
                )
            yield Fleet(prom, central, namespace, west)
        finally:
            for each in (prom, central, *edges):
                each.stop()
            east_kubectl = Kubectl(kubeconfig)
            for ns in (namespace, f"{namespace}-legacy"):
                for kind in ("supportrequests", "supportengagements", "deployments"):
                    east_kubectl.run("delete", kind, "--all", "-n", ns, "--wait=false", check=False)
                east_kubectl.run("delete", "namespace", ns, "--wait=false", check=False)
            east_kubectl.run("delete", "compatibilitymatrix", f"m-{namespace}", "--wait=false", check=False)


def _all(expr: str) -> str:
    """Grafana's "All" for every variable: ``.*`` (which also matches a missing label)."""
    return expr.replace("$cluster", ".*").replace("$namespace", ".*").replace("$engagement", ".*")


@needs_prometheus
@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_two_clusters_same_names_no_collision(fleet: Fleet, topology: str) -> None:
    prom, ns = fleet.topology(topology), fleet.namespace
    info = prom.query(f'stakater_support_engagement_info{{namespace="{ns}", engagement="acme"}}')
    by_cluster = {r["metric"]["cluster"]: r["metric"] for r in info}
    assert set(by_cluster) == {"east", "west"}, info
    assert by_cluster["east"]["customer"] == "ACME East" and by_cluster["east"]["agreement"] == "OF-EAST-1"
    assert by_cluster["west"]["customer"] == "ACME West" and by_cluster["west"]["type"] == "ManagedService"
    assert by_cluster["west"]["master_agreement"] == "MSA-ACME"
    acme = f'namespace="{ns}", engagement="acme"'
    states = prom.query(f"max by (cluster, eligibility) (stakater_support_engagement_eligibility{{{acme}}} == 1)")
    # east: Limited (an end-of-life Reloader, the customer's); west: Eligible (Stakater's items do not count)
    assert {r["metric"]["cluster"]: r["metric"]["eligibility"] for r in states} == {
        "east": "Limited",
        "west": "Eligible",
    }
    # Who acts: the customer in east, Stakater in west (managed service, Stakater-managed versions).
    owners = prom.query(
        f'sum by (cluster, owner) (stakater_support_engagement_findings{{namespace="{ns}", engagement="acme"}})'
    )
    assert {(r["metric"]["cluster"], r["metric"]["owner"]) for r in owners} == {
        ("east", "Customer"),
        ("west", "Stakater"),
    }
    # Every series of an operator carries its cluster; none is left without (no collision possible).
    unlabelled = prom.query('count({__name__=~"stakater_support_.+", cluster=""})')
    assert unlabelled == [], unlabelled
    # The cluster variable narrows the cluster dashboard to one cluster.
    first = next(expr for title, expr, _ in _expressions("cluster") if title == "Eligibility per engagement")
    only_east = prom.query(first.replace("$cluster", "east").replace("$namespace", ns).replace("$engagement", ".*"))
    assert {r["metric"]["cluster"] for r in only_east} == {"east"}
    # 0 Ineligible, 1 Limited, 2 Eligible, 3 Unknown: the codes the panel's value mappings name
    assert {r["metric"]["engagement"]: r["value"][1] for r in only_east} == {"acme": "1", "legacy": "0", "broken": "3"}


@needs_prometheus
@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_dashboard_query_returns_data(fleet: Fleet, name: str, topology: str) -> None:
    prom = fleet.topology(topology)
    empty = []
    for title, expr, instant in _expressions(name):
        result = prom.query(_all(expr)) if instant else prom.query_range(_all(expr))
        print(f"{name} | {title} | {len(result)} series | {expr}")
        if not result:
            empty.append((title, expr))
    for variable in _dashboard(name)["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
        assert match, variable["query"]
        values = prom.get(f"/api/v1/label/{match.group(2)}/values", **{"match[]": _all(match.group(1))})
        print(f"{name} | variable {variable['name']} | {values}")
        if not values:
            empty.append((f"variable {variable['name']}", variable["query"]["query"]))
    assert empty == [], f"queries without data: {empty}"


@needs_prometheus
def test_every_alert_expression_returns_data(fleet: Fleet) -> None:
    """On both topologies (one test: west stops at its end, for both)."""
    for topology in TOPOLOGIES:
        _alerts_return_data(fleet.topology(topology), topology)

    # The west operator stops: its cluster falls silent, and Prometheus sees its target down, whether it
    # scrapes the operator itself or receives what west's Prometheus forwards.
    fleet.west.stop()
    for topology in TOPOLOGIES:
        prom = fleet.topology(topology)
        silent = wait_for(lambda prom=prom: prom.query(_rules()[SILENT]), timeout=30, what=f"{SILENT} for west")
        print(f"{topology} | alert {SILENT} | {len(silent)} series | {[r['metric'] for r in silent]}")
        assert [r["metric"] for r in silent] == [{"cluster": "west"}]
        down = wait_for(lambda prom=prom: prom.query('up{job="eligibility-operator"} == 0'), what="up == 0")
        assert f"127.0.0.1:{fleet.west.metrics_port}" in {r["metric"]["instance"] for r in down}


def _alerts_return_data(prom: Prometheus, topology: str) -> None:
    empty = []
    for alert, expr in _rules().items():
        result = prom.query(expr)
        if alert == SILENT:
            assert result == [], f"{alert} while every cluster reports: {result}"
            continue  # below: west falls silent
        if alert in NEEDS_A_MATRIX_SOURCE:
            continue
        if alert in THRESHOLD_ONLY_IN_UNIT_TESTS:
            assert result == [], f"{alert} fires in a healthy scenario: {result}"
            signal = re.sub(r"\)\s*(>|==)\s*[\d.]+\s*$", ")", expr.strip())
            assert signal != expr.strip(), f"{alert}: no trailing threshold to remove"
            result = prom.query(signal)
        print(f"{topology} | alert {alert} | {len(result)} series | {[r['metric'] for r in result]}")
        if not result:
            empty.append(alert)
        elif alert.startswith(("Support", "StakaterProduct")):
            assert all(r["metric"].get("owner") in ("Customer", "Stakater") for r in result), (alert, result)
    assert empty == [], f"{topology}: alert expressions without data in the scenario: {empty}"

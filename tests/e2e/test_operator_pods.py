"""The operator as customers run it: two pods from its image, deploy/'s RBAC through the mounted token,
metrics and admission through its Services, leader failover and a rolling restart under load."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ..builders import engagement, matrix, workload
from ..conftest import Kubectl, wait_for
from .conftest import (
    DEPLOYMENT,
    KUBECONFIG,
    NAMESPACE,
    ON_OUR_NODE,
    SERVICE_ACCOUNT,
    check_self_managed_certificate,
    diagnose,
    leader,
    on_openshift,
    operator_pods,
    ready_pods,
    rolled_out,
)

EOL = "stakater/reloader:v1.1.0"
OK = "ghcr.io/stakater/reloader:v1.4.21"
SUPPORTED_OLDER = "stakater/reloader:v1.2.0"  # still supported for the Standard plan
UID, GID = 1000680000, 0  # what OpenShift's restricted-v2 assigns: an arbitrary UID in group 0


def status(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    return dict(kubectl.get("se", "contract", "-n", namespace).get("status") or {})


def wait_eligibility(kubectl: Kubectl, namespace: str, value: str, timeout: float = 60) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: (st := status(kubectl, namespace)).get("eligibility") == value and st,
            timeout=timeout,
            what=f"eligibility {value} in {namespace}",
        )
    )


@pytest.fixture
def test_matrix(kubectl: Kubectl, namespace: str) -> Iterator[str]:
    name = f"m-{namespace}"
    kubectl.apply(matrix(name))
    yield name
    kubectl.run("delete", "compatibilitymatrix", name, "--wait=false", check=False)


@pytest.fixture
def enforced(kubectl: Kubectl, namespace: str, test_matrix: str) -> str:
    """``namespace`` under an engagement in Enforce mode, once the webhook (through its Service) enforces it."""
    kubectl.apply(engagement(namespace, matrixRef={"name": test_matrix}, enforcement={"mode": "Enforce"}))
    probe = workload(namespace, "probe", EOL)
    wait_for(
        lambda: "denied the request" in kubectl.apply(probe, check=False, dry_run=True).stderr,
        timeout=60,
        what="the webhook to enforce",
    )
    return namespace


# ------------------------------------------------------------------ the pods


def test_two_replicas_ready_as_an_arbitrary_uid_in_group_0_with_a_read_only_root(
    kubectl: Kubectl, installed: list[dict[str, Any]]
) -> None:
    assert len(ready_pods(kubectl)) == 2, diagnose(kubectl)
    for pod in operator_pods(kubectl):
        name = pod["metadata"]["name"]
        spec = pod["spec"]
        assert spec["serviceAccountName"] == SERVICE_ACCOUNT
        container = spec["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        ids = kubectl.run("exec", "-n", NAMESPACE, name, "--", "id", "-u", check=False).stdout.split()
        groups = kubectl.run("exec", "-n", NAMESPACE, name, "--", "id", "-g", check=False).stdout.split()
        if on_openshift(kubectl):  # the SCC chose the UID: any but the image's own, in group 0
            assert ids != ["65532"] and groups == [str(GID)], (ids, groups)
        else:
            assert ids == [str(UID)] and groups == [str(GID)], (ids, groups)
        write = kubectl.run("exec", "-n", NAMESPACE, name, "--", "touch", "/opt/x", check=False)
        assert write.returncode != 0 and "Read-only file system" in write.stderr, write.stderr
        restarts = sum(s.get("restartCount", 0) for s in pod["status"].get("containerStatuses", []))
        assert restarts == 0, kubectl.run("logs", "-n", NAMESPACE, name, "--previous", check=False).stdout[-3000:]
    holder = leader(kubectl)
    assert holder.rsplit("_", 1)[0] in ready_pods(kubectl), holder


def test_engagement_follows_a_workload_change_and_events_are_written(
    kubectl: Kubectl, namespace: str, test_matrix: str
) -> None:
    kubectl.apply(workload(namespace, "r", OK), engagement(namespace, matrixRef={"name": test_matrix}))
    st = wait_eligibility(kubectl, namespace, "Eligible")
    assert [p["workloads"] for p in st["products"]] == [[f"{namespace}/Deployment/r"]]
    kubectl.run("set", "image", "-n", namespace, "deployment/r", f"c0={EOL}")
    st = wait_eligibility(kubectl, namespace, "Ineligible", timeout=30)
    assert "reloader 1.1.0" in json.dumps(st["conditions"])

    def reasons() -> list[str]:
        events = json.loads(kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
        mine = [e for e in events if e["involvedObject"]["kind"] == "SupportEngagement"]
        return sorted({e["reason"] for e in mine})

    wait_for(lambda: {"EligibilityEligible", "EligibilityIneligible"} <= set(reasons()), what="eligibility Events")


def test_the_operator_needs_no_more_rbac_than_deploy_grants(kubectl: Kubectl, installed: list[dict[str, Any]]) -> None:
    """It worked (the other tests) with the ServiceAccount deploy/ binds, through the token mounted in the
    pod; no request of either replica was refused."""
    for pod in operator_pods(kubectl):
        name = pod["metadata"]["name"]
        mounted = kubectl.run(
            "exec", "-n", NAMESPACE, name, "--", "ls", "/var/run/secrets/kubernetes.io/serviceaccount", check=False
        ).stdout.split()
        assert {"token", "ca.crt", "namespace"} <= set(mounted), mounted
        log = kubectl.run("logs", "-n", NAMESPACE, name, check=False).stdout
        refused = [line for line in log.splitlines() if " 403" in line or "Forbidden" in line or "forbidden" in line]
        assert not refused, refused[:5]


# ------------------------------------------------------------------ through the Services


PROMETHEUS = shutil.which("prometheus")


@pytest.mark.skipif(not PROMETHEUS, reason="Debian package prometheus not installed (make system-deps)")
def test_prometheus_scrapes_the_service_cluster_ip_and_queries_the_engagement(
    kubectl: Kubectl, namespace: str, test_matrix: str
) -> None:
    from ..cluster.test_metrics import Prometheus

    kubectl.apply(workload(namespace, "r", EOL), engagement(namespace, matrixRef={"name": test_matrix}))
    wait_eligibility(kubectl, namespace, "Ineligible")
    if ON_OUR_NODE:
        ip = kubectl.get("service", DEPLOYMENT, "-n", NAMESPACE)["spec"]["clusterIP"]
        prom = Prometheus(f"{ip}:8080")
        forward = None
    else:  # another cluster's Service network is not reachable from here: through kubectl port-forward
        import subprocess

        from eligibility_operator_dev.controlplane import free_port

        port = free_port()
        forward = subprocess.Popen(
            [
                "kubectl",
                "--kubeconfig",
                KUBECONFIG,
                "port-forward",
                "-n",
                NAMESPACE,
                f"service/{DEPLOYMENT}",
                f"{port}:8080",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        prom = Prometheus(port)
    try:
        prom.wait_ready()
        query = f'stakater_support_engagement_eligibility{{namespace="{namespace}",eligibility="Ineligible"}}'
        rows = wait_for(lambda: prom.query(query), timeout=60, what="the engagement's series in Prometheus")
        assert rows[0]["value"][1] == "1"
        up = prom.query('up{job="eligibility-operator"}')
        assert [r["value"][1] for r in up] == ["1"], up
    finally:
        prom.stop()
        if forward is not None:
            forward.terminate()


def test_enforce_refuses_an_end_of_life_reloader_through_the_webhook_service(kubectl: Kubectl, enforced: str) -> None:
    result = kubectl.apply(workload(enforced, "old", EOL), check=False)
    assert result.returncode != 0
    assert 'admission webhook "workloads.support.stakater.com" denied the request' in result.stderr
    assert "reloader 1.1.0 is end of life since" in result.stderr
    assert kubectl.run("get", "deployment", "old", "-n", enforced, check=False).returncode != 0
    assert kubectl.apply(workload(enforced, "new", OK)).returncode == 0


def test_the_webhook_certificate_is_the_operators_own(
    kubectl: Kubectl, installed: list[dict[str, Any]], enforced: str
) -> None:
    """No add-on and nothing made by the test: the leader wrote the Secret and the caBundle the API server
    trusted just now (``enforced``), and both replicas serve the Secret's certificate."""
    assert not [d for d in installed if d["kind"] == "Secret"]
    check_self_managed_certificate(kubectl)


# ------------------------------------------------------------------ availability


class AdmissionLoad:
    """Server-side dry-run creates, back to back, in an enforced namespace: an end-of-life Reloader must
    be denied by the webhook and a current one allowed, every time. With failurePolicy Fail, a request
    that finds no webhook server is refused with "failed calling webhook": that is what is counted."""

    def __init__(self, namespace: str) -> None:
        from kubernetes import client, config

        self.api = client.AppsV1Api(config.new_client_from_config(config_file=KUBECONFIG))
        self.namespace = namespace
        self.sent = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _one(self, image: str, expect_denied: bool) -> None:
        from kubernetes.client.exceptions import ApiException

        body = workload(self.namespace, f"load-{self.sent % 2}", image)
        try:
            self.api.create_namespaced_deployment(self.namespace, body, dry_run="All", _request_timeout=15)
            outcome = "allowed"
        except ApiException as exc:
            outcome = "denied" if "denied the request" in str(exc.body) else f"error {exc.status}: {exc.body!s:.300}"
        except Exception as exc:  # any transport failure counts as a failed request
            outcome = f"error {exc!r:.300}"
        self.sent += 1
        expected = "denied" if expect_denied else "allowed"
        if outcome != expected:
            self.failures.append(f"{time.strftime('%H:%M:%S')} {image}: {outcome}")

    def _run(self) -> None:
        while not self._stop.is_set():
            self._one(EOL, expect_denied=True)
            self._one(OK, expect_denied=False)
            time.sleep(0.05)

    def __enter__(self) -> AdmissionLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def test_deleting_the_leader_pod_the_other_replica_takes_over_without_a_refused_request(
    kubectl: Kubectl, enforced: str
) -> None:
    namespace = enforced
    kubectl.apply(workload(namespace, "r", OK))
    wait_eligibility(kubectl, namespace, "Eligible")
    old = leader(kubectl)
    old_pod = old.rsplit("_", 1)[0]
    with AdmissionLoad(namespace) as load:
        time.sleep(2)
        kubectl.run("delete", "pod", old_pod, "-n", NAMESPACE, "--wait=false")
        # A change right after the leader's pod goes: the other replica must follow it within 15 s.
        changed = time.monotonic()
        # (an allowed change: Enforce refuses end-of-life versions)
        kubectl.run("set", "image", "-n", namespace, "deployment/r", f"c0={SUPPORTED_OLDER}")
        wait_for(
            lambda: [p["version"] for p in status(kubectl, namespace).get("products", [])] == ["1.2.0"],
            timeout=15,
            interval=0.2,
            what="the status to follow the change (15 s)",
        )
        followed = time.monotonic() - changed
        new = wait_for(lambda: (h := leader(kubectl)) != old and h, timeout=30, what="a new Lease holder")
        assert new.rsplit("_", 1)[0] != old_pod
        wait_for(lambda: len(ready_pods(kubectl)) == 2, timeout=120, what="2/2 Ready again")
        time.sleep(3)
    print(
        f"[e2e] leader pod deleted: change followed in {followed:.1f}s; {load.sent} admission requests,"
        f" {len(load.failures)} failed"
    )
    assert load.sent > 20
    assert not load.failures, load.failures[:10]


def test_rollout_restart_under_continuous_admission_refuses_nothing(kubectl: Kubectl, enforced: str) -> None:
    with AdmissionLoad(enforced) as load:
        time.sleep(2)
        kubectl.run("rollout", "restart", f"deployment/{DEPLOYMENT}", "-n", NAMESPACE)
        assert rolled_out(kubectl, timeout=300), diagnose(kubectl)
        time.sleep(3)
    print(f"[e2e] rollout restart: {load.sent} admission requests, {len(load.failures)} failed")
    assert load.sent > 20
    assert not load.failures, load.failures[:10]


def test_metrics_and_probes_answer_on_each_pod(kubectl: Kubectl, installed: list[dict[str, Any]]) -> None:
    """Each replica serves /readyz and /metrics on its pod IP (reachable from this host on our node)."""
    if not ON_OUR_NODE:
        pytest.skip("pod IPs are reachable from the host only on make node-up's node")
    for pod in operator_pods(kubectl):
        ip = pod["status"]["podIP"]
        with urllib.request.urlopen(f"http://{ip}:8080/readyz", timeout=5) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"http://{ip}:8080/metrics", timeout=5) as response:
            assert b"stakater_support_build_info" in response.read()

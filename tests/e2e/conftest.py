"""The e2e tier: the operator only as pods, installed from ``deploy/overlays/local`` (webhook certificate
made by the operator itself: cert mode self), then from the Helm chart (test_chart_install.py, last), on a
real cluster.

``make e2e`` starts the one-node cluster (``make node-up``), runs these tests with
``EO_E2E_KUBECONFIG`` / ``EO_E2E_IMAGE`` / ``EO_E2E_NODE=1`` and stops the node even when a test
fails. ``make e2e-existing`` runs them against the current ``KUBECONFIG`` with an image reference.
Without ``EO_E2E_KUBECONFIG`` (``make test``) they are skipped with that reason; with it, a cluster
that cannot be reached fails them. On our own node, a component (containerd, kubelet, ...) that
dies fails the test that saw it, with its log's tail.

The suite creates the namespace ``eligibility-operator`` and namespaces named ``e2e-*``, and removes
them, the CRDs and the cluster-scoped RBAC at the end; it refuses to run where the operator is
already installed.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..cluster.test_deploy import for_this_server, render
from ..conftest import Kubectl, wait_for

KUBECONFIG = os.environ.get("EO_E2E_KUBECONFIG", "")
IMAGE = os.environ.get("EO_E2E_IMAGE", "localhost/eligibility-operator:dev")
ON_OUR_NODE = os.environ.get("EO_E2E_NODE") == "1"
NAMESPACE = "eligibility-operator"
DEPLOYMENT = "eligibility-operator"
SERVICE_ACCOUNT = "eligibility-operator"
WEBHOOK_SERVICE = "eligibility-operator-webhook"
OVERLAY = "deploy/overlays/local"
CHART_MODULE = "test_chart_install.py"
BENCH_MODULE = "test_bench_in_pod.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason="e2e: run with make e2e (own node) or make e2e-existing (EO_E2E_KUBECONFIG unset)")
    # The in-pod benchmark runs first (it installs and removes the operator itself, on a cluster without it);
    # the chart's install runs last: it removes deploy/overlays/local's install first (one operator per cluster).
    order = {BENCH_MODULE: 0, CHART_MODULE: 2}
    items.sort(key=lambda item: order.get(Path(str(item.fspath)).name, 1))
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            if not KUBECONFIG and "after_node_down" not in item.keywords:
                item.add_marker(skip)


def node_broken() -> str:
    """On our node: which components died, with their logs' tails; empty when all run (or not our node)."""
    if not (ON_OUR_NODE and KUBECONFIG):
        return ""
    from eligibility_operator_dev.node import dead_components

    return "\n".join(dead_components())


def fail_if_node_broken(when: str) -> None:
    if broken := node_broken():
        pytest.fail(f"a node component is dead ({when}):\n{broken}", pytrace=False)


@pytest.fixture(autouse=True)
def _node_alive(request: pytest.FixtureRequest) -> Iterator[None]:
    """On our node: a dead containerd, kubelet or control-plane process fails the test with its log tail."""
    if "after_node_down" in request.keywords:
        yield
        return
    fail_if_node_broken("before the test")
    yield
    fail_if_node_broken("during the test")


@pytest.fixture(scope="session")
def kubectl() -> Kubectl:
    fail_if_node_broken("at the start")
    kc = Kubectl(Path(KUBECONFIG))
    reached = kc.run("version", "-o", "yaml", check=False)
    if reached.returncode != 0:
        pytest.fail(f"cannot reach the cluster in {KUBECONFIG}: {reached.stderr.strip()}", pytrace=False)
    return kc


def on_openshift(kubectl: Kubectl) -> bool:
    return "security.openshift.io/v1" in kubectl.run("api-versions").stdout.split()


def manifests(kubectl: Kubectl) -> list[dict[str, Any]]:
    """deploy/overlays/local, with the e2e image and policy/v1beta1 before 1.21. Nothing of the webhook's
    certificate: the operator makes it (cert mode self)."""
    docs = [d for d in yaml.safe_load_all(for_this_server(kubectl, render(OVERLAY))) if d]
    for doc in docs:
        if doc["kind"] == "Deployment" and on_openshift(kubectl):
            # The restricted-v2 SCC assigns a UID from the namespace's range itself (GID 0); a fixed one
            # outside that range would be refused.
            for key in ("runAsUser", "runAsGroup"):
                doc["spec"]["template"]["spec"]["securityContext"].pop(key, None)
        if doc["kind"] == "Deployment":
            doc["spec"]["template"]["spec"]["containers"][0]["image"] = IMAGE
            if not IMAGE.startswith("localhost/"):
                doc["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    return docs


def dump(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs)


def refuse_if_installed(kubectl: Kubectl) -> None:
    if kubectl.run("get", "namespace", NAMESPACE, check=False).returncode == 0:
        pytest.fail(
            f"namespace {NAMESPACE} exists already: the e2e suite installs the operator itself and removes it"
            " afterwards; use a cluster without it",
            pytrace=False,
        )


class Installation:
    """The operator's objects on the cluster: installed in order (Namespace and CRDs first, the webhook's
    configuration last, as kustomize and Helm order them), removed once, the webhook first."""

    def __init__(self, kubectl: Kubectl, docs: list[dict[str, Any]], what: str) -> None:
        self.kubectl, self.what = kubectl, what
        self.crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
        self.namespace = [d for d in docs if d["kind"] == "Namespace"]
        self.rest = [d for d in docs if d not in self.crds and d not in self.namespace]
        self.removed = False

    def install(self) -> None:
        kubectl = self.kubectl
        started = time.monotonic()
        kubectl.run("apply", "-f", "-", input=dump(self.namespace + self.crds))
        names = (f"crd/{d['metadata']['name']}" for d in self.crds)
        kubectl.run("wait", "--for=condition=Established", "--timeout=60s", *names)
        kubectl.run("apply", "-f", "-", input=dump(self.rest))
        if not rolled_out(kubectl, timeout=240):
            pytest.fail(f"the operator did not become Ready within 240 s:\n{diagnose(kubectl)}", pytrace=False)
        print(f"[e2e] {self.what}: operator 2/2 Ready {time.monotonic() - started:.0f}s after kubectl apply")

    def remove(self) -> None:
        """Everything installed, and what the operator made in its namespace (its webhook Secret, Lease)."""
        if self.removed:
            return
        self.removed = True
        kubectl = self.kubectl
        # The webhook first: with failurePolicy Fail and no operator, it would refuse workloads.
        kubectl.run(
            "delete", "validatingwebhookconfiguration", "eligibility-operator", "--ignore-not-found", check=False
        )
        kubectl.run("delete", "-f", "-", "--ignore-not-found", "--wait=false", input=dump(self.rest), check=False)
        kubectl.run("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s", check=False)
        kubectl.run("delete", "-f", "-", "--ignore-not-found", "--timeout=60s", input=dump(self.crds), check=False)


_KUSTOMIZE_INSTALLS: list[Installation] = []


def remove_kustomize_install() -> None:
    """Only one operator per cluster (fixed cluster-scoped names): the chart's test removes deploy/'s first."""
    for installation in _KUSTOMIZE_INSTALLS:
        installation.remove()
        # A namespace or CRD still being deleted would refuse the next install's apply of the same object.
        names = [f"namespace/{NAMESPACE}", *(f"crd/{d['metadata']['name']}" for d in installation.crds)]

        def left(kubectl: Kubectl = installation.kubectl, names: list[str] = names) -> str:
            return kubectl.run("get", *names, "--ignore-not-found", "-o", "name").stdout.strip()

        try:
            wait_for(lambda: not left(), timeout=120, interval=2, what="deploy/overlays/local's install to be removed")
        except AssertionError:
            pytest.fail(f"deploy/overlays/local's install was not removed within 120 s: {left()}", pytrace=False)


@pytest.fixture(scope="session")
def installed(kubectl: Kubectl) -> Iterator[list[dict[str, Any]]]:
    """The operator installed as users install it (kubectl apply -k), 2/2 Ready; removed again at the end."""
    refuse_if_installed(kubectl)
    docs = manifests(kubectl)
    installation = Installation(kubectl, docs, "deploy/overlays/local")
    _KUSTOMIZE_INSTALLS.append(installation)
    try:
        installation.install()
        yield docs
    finally:
        installation.remove()


def rolled_out(kubectl: Kubectl, timeout: float) -> bool:
    """The Deployment's current template runs on all its replicas, all Ready, and no old pod is left."""

    def done() -> bool:
        fail_if_node_broken("waiting for the rollout")
        deployment = kubectl.get("deployment", DEPLOYMENT, "-n", NAMESPACE)
        st, want = deployment.get("status", {}), deployment["spec"]["replicas"]
        return (
            st.get("observedGeneration", 0) >= deployment["metadata"]["generation"]
            and st.get("updatedReplicas") == st.get("readyReplicas") == st.get("availableReplicas") == want
            and st.get("replicas") == want
            and len(operator_pods(kubectl)) == want
        )

    try:
        wait_for(done, timeout=timeout, interval=1, what="the rollout")
    except AssertionError:
        return False
    return True


def diagnose(kubectl: Kubectl) -> str:
    """Pods, recent events and the operator's logs, for a failure message."""
    parts = [
        kubectl.run("get", "pods", "-n", NAMESPACE, "-o", "wide", check=False).stdout,
        kubectl.run("get", "events", "-n", NAMESPACE, "--sort-by=.lastTimestamp", check=False).stdout[-3000:],
        kubectl.run("logs", "-n", NAMESPACE, f"deployment/{DEPLOYMENT}", "--tail=40", check=False).stdout,
    ]
    return "\n".join(parts)


@contextlib.contextmanager
def own_namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace ``e2e-<test>-<random>`` for one test, deleted afterwards."""
    name = f"e2e-{request.node.name[:30].lower().replace('_', '-').strip('-')}-{uuid.uuid4().hex[:5]}"
    name = "".join(c for c in name if c.isalnum() or c == "-")
    kubectl.run("create", "namespace", name)
    try:
        yield name
    finally:
        kubectl.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def namespace(kubectl: Kubectl, installed: list[dict[str, Any]], request: pytest.FixtureRequest) -> Iterator[str]:
    with own_namespace(kubectl, request) as name:
        yield name


def operator_pods(kubectl: Kubectl) -> list[dict[str, Any]]:
    pods = kubectl.get("pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=eligibility-operator")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def ready_pods(kubectl: Kubectl) -> list[str]:
    ready = []
    for pod in operator_pods(kubectl):
        conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        if conditions.get("Ready") == "True":
            ready.append(pod["metadata"]["name"])
    return sorted(ready)


def leader(kubectl: Kubectl) -> str:
    lease = kubectl.get("lease", "eligibility-operator", "-n", NAMESPACE)
    return str(lease["spec"].get("holderIdentity") or "")


__all__ = ["diagnose", "leader", "operator_pods", "ready_pods", "wait_for"]


WEBHOOK_SECRET = "eligibility-operator-webhook-tls"


def check_self_managed_certificate(kubectl: Kubectl) -> None:
    """Cert mode self, end to end: the Secret the leader wrote (nothing else makes it) holds the CA bundle
    the API server is given in the configuration's caBundle, and, on our node, each Ready replica serves the
    Secret's certificate on its pod IP, valid for the webhook Service's name under that bundle."""
    import base64
    import socket
    import ssl

    secret = kubectl.get("secret", WEBHOOK_SECRET, "-n", NAMESPACE)
    assert secret["type"] == "kubernetes.io/tls"
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert {"ca.crt", "tls.crt", "tls.key", "ca-bundle.crt"} <= set(data), sorted(data)
    vwc = kubectl.get("validatingwebhookconfiguration", "eligibility-operator")
    assert [base64.b64decode(h["clientConfig"]["caBundle"]) for h in vwc["webhooks"]] == [data["ca-bundle.crt"]]
    if not ON_OUR_NODE:
        return
    want = ssl.PEM_cert_to_DER_cert(data["tls.crt"].decode())
    context = ssl.create_default_context(cadata=data["ca-bundle.crt"].decode())
    pods = [p for p in operator_pods(kubectl) if p["metadata"]["name"] in ready_pods(kubectl)]
    assert len(pods) == 2, diagnose(kubectl)
    for pod in pods:
        with (
            socket.create_connection((pod["status"]["podIP"], 9443), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=f"{WEBHOOK_SERVICE}.{NAMESPACE}.svc") as tls,
        ):
            assert tls.getpeercert(binary_form=True) == want, pod["metadata"]["name"]

"""The e2e tier: the operator only as pods, installed from ``deploy/overlays/local``, on a real cluster.

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

import base64
import os
import tempfile
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason="e2e: run with make e2e (own node) or make e2e-existing (EO_E2E_KUBECONFIG unset)")
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


def webhook_tls(directory: Path) -> tuple[Path, Path, bytes]:
    """A CA and the webhook Service's serving certificate (what cert-manager makes in the cert-manager overlay)."""
    from eligibility_operator_dev.node_pki import issue, make_ca

    ca = make_ca(directory, "eligibility-operator-e2e-webhook-ca")
    names = [f"{WEBHOOK_SERVICE}.{NAMESPACE}.svc", f"{WEBHOOK_SERVICE}.{NAMESPACE}.svc.cluster.local"]
    crt, key = issue(ca, directory, "tls", names[0], server_names=names)
    return crt, key, (directory / "ca.crt").read_bytes()


def manifests(kubectl: Kubectl, ca_bundle: bytes) -> list[dict[str, Any]]:
    """deploy/overlays/local, with the e2e image, the webhook's caBundle, and policy/v1beta1 before 1.21."""
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
        if doc["kind"] == "ValidatingWebhookConfiguration":
            for hook in doc["webhooks"]:
                hook["clientConfig"]["caBundle"] = base64.b64encode(ca_bundle).decode()
    return docs


def _dump(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs)


@pytest.fixture(scope="session")
def installed(kubectl: Kubectl) -> Iterator[list[dict[str, Any]]]:
    """The operator installed as users install it, 2/2 Ready; removed again at the end."""
    if kubectl.run("get", "namespace", NAMESPACE, check=False).returncode == 0:
        pytest.fail(
            f"namespace {NAMESPACE} exists already: the e2e suite installs the operator itself and removes it"
            " afterwards; use a cluster without it",
            pytrace=False,
        )
    with tempfile.TemporaryDirectory(prefix="eo-e2e-tls-") as tmp:
        crt, key, ca = webhook_tls(Path(tmp))
        docs = manifests(kubectl, ca)
        crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
        namespace = [d for d in docs if d["kind"] == "Namespace"]
        rest = [d for d in docs if d not in crds and d not in namespace]
        started = time.monotonic()
        try:
            kubectl.run("apply", "-f", "-", input=_dump(namespace + crds))
            kubectl.run(
                "wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{d['metadata']['name']}" for d in crds)
            )
            kubectl.run(
                "create",
                "secret",
                "tls",
                "eligibility-operator-webhook-tls",
                "-n",
                NAMESPACE,
                f"--cert={crt}",
                f"--key={key}",
            )
            kubectl.run("apply", "-f", "-", input=_dump(rest))
            if not rolled_out(kubectl, timeout=240):
                pytest.fail(f"the operator did not become Ready within 240 s:\n{diagnose(kubectl)}", pytrace=False)
            print(f"[e2e] operator 2/2 Ready {time.monotonic() - started:.0f}s after kubectl apply")
            yield docs
        finally:
            # The webhook first: with failurePolicy Fail and no operator, it would refuse workloads.
            kubectl.run(
                "delete", "validatingwebhookconfiguration", "eligibility-operator", "--ignore-not-found", check=False
            )
            kubectl.run("delete", "-f", "-", "--ignore-not-found", "--wait=false", input=_dump(rest), check=False)
            kubectl.run("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s", check=False)
            kubectl.run("delete", "-f", "-", "--ignore-not-found", "--timeout=60s", input=_dump(crds), check=False)


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


@pytest.fixture
def namespace(kubectl: Kubectl, installed: list[dict[str, Any]], request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"e2e-{request.node.name[:30].lower().replace('_', '-').strip('-')}-{uuid.uuid4().hex[:5]}"
    name = "".join(c for c in name if c.isalnum() or c == "-")
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


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

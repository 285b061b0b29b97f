"""deploy/ on the real API server: renders, applies, and grants exactly what the operator needs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..builders import OLM_CRDS, engagement, matrix, workload
from ..conftest import REPO, Kubectl, OperatorProcess, running_operator, wait_for

SA = "system:serviceaccount:eligibility-operator:eligibility-operator"
KUSTOMIZATIONS = [
    "deploy/base",
    "deploy/overlays/monitoring",
    "deploy/overlays/kind",
    "deploy/overlays/cert-manager",
    "deploy/overlays/webhook",
    "deploy/overlays/openshift",
    "deploy/overlays/local",
]


# Prometheus Operator's and cert-manager's CRDs, reduced to what the API server needs to accept the
# overlays' objects (a user of those overlays has the real ones).
def _stub_crd(group: str, kind: str, plural: str, version: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


STUB_CRDS = [
    _stub_crd("monitoring.coreos.com", "ServiceMonitor", "servicemonitors", "v1"),
    _stub_crd("monitoring.coreos.com", "PrometheusRule", "prometheusrules", "v1"),
    _stub_crd("cert-manager.io", "Issuer", "issuers", "v1"),
    _stub_crd("cert-manager.io", "Certificate", "certificates", "v1"),
    *OLM_CRDS,  # OLM's Subscription and InstallPlan: the operator watches them where they are served
]


def render(directory: str) -> str:
    result = subprocess.run(
        ["kubectl", "kustomize", str(REPO / directory)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def for_this_server(kubectl: Kubectl, manifests: str) -> str:
    """The test API server (1.20) predates policy/v1 (1.21); there the PodDisruptionBudget is applied as
    policy/v1beta1, whose fields the manifest uses identically (minAvailable, selector)."""
    if "policy/v1" in kubectl.run("api-versions").stdout.split():
        return manifests
    docs = list(yaml.safe_load_all(manifests))
    for doc in docs:
        if doc and doc["kind"] == "PodDisruptionBudget":
            assert doc["apiVersion"] == "policy/v1" and set(doc["spec"]) == {"minAvailable", "selector"}
            doc["apiVersion"] = "policy/v1beta1"
    return yaml.safe_dump_all(docs)


@pytest.fixture(scope="module")
def deployed(kubectl: Kubectl) -> str:
    kubectl.apply(*STUB_CRDS)
    kubectl.run("wait", "--for=condition=Established", *(f"crd/{c['metadata']['name']}" for c in STUB_CRDS))
    kubectl.run("apply", "-f", "-", input=for_this_server(kubectl, render("deploy/base")))
    return "eligibility-operator"


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_kustomization_renders_and_applies(kubectl: Kubectl, deployed: str, directory: str) -> None:
    manifests = for_this_server(kubectl, render(directory))
    kinds = {doc["kind"] for doc in yaml.safe_load_all(manifests)}
    assert {"Deployment", "ClusterRole", "Role", "PodDisruptionBudget", "CompatibilityMatrix"} <= kinds
    assert "CustomResourceDefinition" in kinds
    dry = kubectl.run("apply", "--dry-run=server", "-f", "-", input=manifests, check=False)
    assert dry.returncode == 0, dry.stderr
    real = kubectl.run("apply", "-f", "-", input=manifests, check=False)
    # The overlay's webhook has no server here; a configuration left behind would slow every later test.
    kubectl.run("delete", "validatingwebhookconfiguration", "eligibility-operator", "--ignore-not-found", check=False)
    assert real.returncode == 0, real.stderr


def test_samples_apply(kubectl: Kubectl, deployed: str) -> None:
    # Each file needs the namespaces of the one before, so each is applied for real after its dry run.
    for sample in ("namespaces.yaml", "workloads.yaml", "engagement.yaml", "engagement-expired.yaml", "requests.yaml"):
        for mode in ("--dry-run=server", "--dry-run=none"):
            result = kubectl.run("apply", mode, "-f", str(REPO / "deploy/samples" / sample), check=False)
            assert result.returncode == 0, f"{sample}: {result.stderr}"


def test_the_local_overlay_is_the_webhook_overlay_with_only_the_local_changes() -> None:
    """deploy/overlays/local renders deploy/overlays/webhook's objects (cert mode self: the RBAC for the
    Secret and the caBundle, no certificate mount) with only the image, its pull policy, the pod's UID/GID
    and the webhook's failurePolicy changed."""
    webhook = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(render("deploy/overlays/webhook"))}
    local = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(render("deploy/overlays/local"))}
    assert set(local) == set(webhook)
    deployment = local[("Deployment", "eligibility-operator")]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert (container["image"], container["imagePullPolicy"]) == ("localhost/eligibility-operator:dev", "Never")
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (1000680000, 0)
    assert container["args"][-2:] == ["--webhook-cert-mode", "self"]
    container["image"], container["imagePullPolicy"] = "ghcr.io/stakater/eligibility-operator:0.1.0", "IfNotPresent"
    del pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]
    hooks = local[("ValidatingWebhookConfiguration", "eligibility-operator")]["webhooks"]
    assert [h["failurePolicy"] for h in hooks] == ["Fail"]
    hooks[0]["failurePolicy"] = "Ignore"
    for key, doc in local.items():
        assert doc == webhook[key], key


def test_deployment_is_hardened() -> None:
    docs = list(yaml.safe_load_all(render("deploy/base")))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    # High availability: two replicas, a rollout never takes one away before its successor is ready.
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert anti["topologyKey"] == "kubernetes.io/hostname"
    assert anti["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in container["env"]}
    assert env["POD_NAMESPACE"] == "metadata.namespace" and env["POD_NAME"] == "metadata.name"
    pdb = next(d for d in docs if d["kind"] == "PodDisruptionBudget")
    assert pdb["spec"] == {"minAvailable": 1, "selector": {"matchLabels": spec["selector"]["matchLabels"]}}
    assert container["image"] == "ghcr.io/stakater/eligibility-operator:0.1.0"
    assert pod["securityContext"]["runAsNonRoot"] is True
    # OpenShift's restricted-v2 assigns the UID (GID 0) and refuses pods that pin one.
    assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(pod["securityContext"])
    assert not {"runAsUser", "runAsGroup"} & set(container["securityContext"])
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    sc = container["securityContext"]
    assert sc == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


# ------------------------------------------------------------------ RBAC


def can_i(kubectl: Kubectl, *args: str) -> bool:
    result = kubectl.run("auth", "can-i", "--as", SA, *args, check=False)
    return result.stdout.strip() == "yes"


def test_service_account_holds_what_it_needs(kubectl: Kubectl, deployed: str) -> None:
    for args in (
        ("list", "deployments", "-A"),
        ("watch", "statefulsets", "-A"),
        ("list", "daemonsets", "-A"),
        ("watch", "subscriptions.operators.coreos.com", "-A"),
        ("list", "installplans.operators.coreos.com", "-A"),
        ("list", "namespaces"),
        ("watch", "supportengagements.support.stakater.com", "-A"),
        ("patch", "supportengagements.support.stakater.com", "--subresource=status", "-n", "any"),
        ("patch", "compatibilitymatrices.support.stakater.com", "--subresource=status"),
        ("create", "events", "-n", "any"),
        ("create", "leases.coordination.k8s.io", "-n", "eligibility-operator"),
        ("get", "leases.coordination.k8s.io/eligibility-operator", "-n", "eligibility-operator"),
        ("update", "leases.coordination.k8s.io/eligibility-operator", "-n", "eligibility-operator"),
        ("create", "configmaps", "-n", "eligibility-operator"),
        ("get", "configmaps/eligibility-operator-matrices", "-n", "eligibility-operator"),
        ("update", "configmaps/eligibility-operator-matrices", "-n", "eligibility-operator"),
    ):
        assert can_i(kubectl, *args), args


def test_service_account_cannot_do_more(kubectl: Kubectl, deployed: str) -> None:
    forbidden = [
        ("get", "secrets", "-A"),
        ("list", "secrets", "-n", "eligibility-operator"),
        ("watch", "secrets", "-A"),
        ("get", "configmaps", "-n", "kube-system"),
        ("list", "pods", "-A"),
        ("update", "supportengagements.support.stakater.com", "-n", "any"),
        ("patch", "supportengagements.support.stakater.com", "-n", "any"),
        ("delete", "supportengagements.support.stakater.com", "-n", "any"),
        ("create", "compatibilitymatrices.support.stakater.com"),
        ("delete", "namespaces"),
        ("patch", "namespaces"),
        ("update", "events", "-n", "any"),
        ("delete", "events", "-n", "any"),
        ("create", "clusterroles"),
        ("bind", "clusterroles"),
        ("escalate", "clusterroles"),
        ("create", "serviceaccounts/token", "-n", "eligibility-operator"),
        ("impersonate", "serviceaccounts", "-A"),
        # Leader election: only its own Lease, only in its own namespace.
        ("create", "leases.coordination.k8s.io", "-n", "default"),
        ("get", "leases.coordination.k8s.io", "-n", "kube-system"),
        ("list", "leases.coordination.k8s.io", "-A"),
        ("update", "leases.coordination.k8s.io/someone-else", "-n", "eligibility-operator"),
        ("delete", "leases.coordination.k8s.io/eligibility-operator", "-n", "eligibility-operator"),
        # The matrix store: only its own ConfigMap, only in its own namespace.
        ("get", "configmaps/someone-else", "-n", "eligibility-operator"),
        ("list", "configmaps", "-n", "eligibility-operator"),
        ("delete", "configmaps/eligibility-operator-matrices", "-n", "eligibility-operator"),
    ]
    for kind in ("deployments", "statefulsets", "daemonsets"):
        forbidden += [(verb, kind, "-n", "default") for verb in ("get", "create", "update", "patch", "delete")]
        forbidden += [
            ("patch", kind, "--subresource=status", "-n", "default"),
            ("update", kind, "--subresource=scale", "-n", "default"),
        ]
    for resource in ("configmaps", "services", "pods", "serviceaccounts", "roles", "rolebindings"):
        forbidden += [(verb, resource, "-n", "default") for verb in ("create", "update", "patch", "delete")]
    allowed = [args for args in forbidden if can_i(kubectl, *args)]
    assert allowed == []


def _rules() -> list[dict[str, Any]]:
    docs = yaml.safe_load_all((REPO / "deploy/base/rbac.yaml").read_text())
    return [rule for doc in docs if doc["kind"] in ("ClusterRole", "Role") for rule in doc["rules"]]


def test_every_permission_is_explained_in_the_docs() -> None:
    page = (REPO / "docs" / "install.md").read_text()
    section = page.split("## RBAC", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0] not in ("API group", "---"):
            rows[(cells[0], cells[1])] = (set(re.split(r",\s*", cells[2])), cells[3])
    for rule in _rules():
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                key = (group or "core", resource)
                assert key in rows, f"{key} is granted but not in docs/install.md's RBAC table"
                verbs, reason = rows[key]
                assert set(rule["verbs"]) <= verbs, f"{key}: verbs {rule['verbs']} not all explained"
                assert len(reason) > 15, f"{key}: no reason given"


# ------------------------------------------- the operator with the deployed credentials only


@pytest.fixture(scope="module")
def sa_kubeconfig(kubectl: Kubectl, deployed: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    token = kubectl.run("create", "token", "eligibility-operator", "-n", deployed, "--duration=1h").stdout.strip()
    admin = yaml.safe_load(kubectl.kubeconfig.read_text())
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "sa",
        "clusters": admin["clusters"],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": admin["clusters"][0]["name"], "user": "sa"}}],
    }
    path = tmp_path_factory.mktemp("sa") / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def sa_operator(sa_kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    with running_operator(sa_kubeconfig, tmp_path_factory.mktemp("sa-operator") / "operator.log") as proc:
        yield proc


def test_operator_works_with_only_the_deployed_rbac(
    kubectl: Kubectl, namespace: str, sa_operator: OperatorProcess, sa_kubeconfig: Path
) -> None:
    as_sa = Kubectl(sa_kubeconfig)
    assert as_sa.run("get", "secrets", "-n", "eligibility-operator", check=False).returncode != 0  # it is the SA
    name = f"m-{namespace}"
    kubectl.apply(
        matrix(name),
        workload(namespace, "ok", "ghcr.io/stakater/reloader:v1.4.21"),
        workload(namespace, "eol", "stakater/reloader:v1.1.0", kind="DaemonSet"),
        engagement(namespace, "good", matrixRef={"name": name}, products=[{"name": "forecastle"}]),
        engagement(namespace, "bad", matrixRef={"name": name}),
    )
    try:
        for se, want in (("good", "Eligible"), ("bad", "Limited")):
            wait_for(
                lambda se=se, want=want: (
                    kubectl.get("se", se, "-n", namespace).get("status", {}).get("eligibility") == want
                ),
                what=f"{se} {want}",
            )
        cmx = wait_for(lambda: kubectl.get("compatibilitymatrix", name).get("status"), what="matrix status")
        assert cmx["conditions"][0]["status"] == "True"

        def events() -> set[str]:
            items = json.loads(kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
            return {e["involvedObject"]["name"] for e in items if e["involvedObject"]["kind"] == "SupportEngagement"}

        assert wait_for(lambda: events() if len(events()) == 2 else None, what="Events for both") == {"good", "bad"}
        with urllib.request.urlopen(f"http://127.0.0.1:{sa_operator.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert f'stakater_support_engagement_eligible{{engagement="good",namespace="{namespace}"' in text
        assert 'stakater_support_errors_total{operation="status_patch"} 0.0' in text
        assert 'stakater_support_errors_total{operation="event"} 0.0' in text
        log = sa_operator.log()
        assert "403" not in log and "Forbidden" not in log, log[-3000:]
    finally:
        kubectl.run("delete", "compatibilitymatrix", name, "--wait=false", check=False)


def test_a_revoked_token_is_replaced_on_the_next_request(
    kubectl: Kubectl, namespace: str, sa_operator: OperatorProcess, sa_kubeconfig: Path
) -> None:
    """Every request goes through one session that logs in again after a 401: with the operator's token
    revoked (its service account deleted and created again) and a new token in its kubeconfig, status
    writes go on without an error (the ``kubernetes`` client kept the token it loaded at start: the Lease
    and every write were refused for ever), and the workload watches streaming on the old session keep
    delivering (closed at once with it, they were silent until their 70 s inactivity timeout)."""
    old = sa_kubeconfig.with_name("kubeconfig-revoked")
    shutil.copy(sa_kubeconfig, old)
    ns = ("-n", "eligibility-operator")
    kubectl.run("delete", "serviceaccount", "eligibility-operator", *ns)
    kubectl.run("create", "serviceaccount", "eligibility-operator", *ns)
    token = kubectl.run("create", "token", "eligibility-operator", *ns, "--duration=1h").stdout.strip()
    config = yaml.safe_load(sa_kubeconfig.read_text())
    config["users"][0]["user"]["token"] = token
    sa_kubeconfig.write_text(yaml.safe_dump(config))
    revoked = Kubectl(old)
    wait_for(lambda: revoked.run("get", "--raw", "/apis", check=False).returncode != 0, what="the old token refused")
    name = f"m-{namespace}"
    kubectl.apply(
        matrix(name),
        workload(namespace, "eol", "stakater/reloader:v1.1.0"),
        engagement(namespace, "after-rotation", matrixRef={"name": name}),
    )
    try:
        products = lambda: kubectl.get("se", "after-rotation", "-n", namespace).get("status", {}).get("products")  # noqa: E731
        wait_for(
            lambda: [(p["product"], p["lifecycle"]) for p in products() or []] == [("reloader", "EndOfLife")],
            timeout=30,
            what="a status written with the new token, from a workload seen after the login",
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{sa_operator.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert 'stakater_support_errors_total{operation="status_patch"} 0.0' in text
        log = sa_operator.log()
        assert "logged in again" in log and "could not log in again" not in log
    finally:
        kubectl.run("delete", "compatibilitymatrix", name, "--wait=false", check=False)


# --------------------------------------------------------- image and kind


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (REPO / "Dockerfile").read_text()
    assert text.count("FROM ") == 2 and "USER 65532" in text and "gcc" not in text


def _docker_engine() -> bool:
    return (
        bool(shutil.which("docker"))
        and subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30).returncode == 0
    )


def test_kind_targets_fail_clearly_without_docker_or_kind(tmp_path: Path) -> None:
    if _docker_engine() and shutil.which("kind"):
        pytest.skip("Docker and kind are available here; the failure path cannot be exercised")
    result = subprocess.run(
        ["make", "-s", "kind-up"], cwd=REPO, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode != 0
    assert re.search(r"error: .*(docker|Docker|kind)", result.stderr), result.stderr


@pytest.mark.skipif(not (_docker_engine() and shutil.which("kind")), reason="needs a Docker engine and kind")
def test_e2e_kind() -> None:  # pragma: no cover - no Docker engine on the CI machines
    result = subprocess.run(["make", "e2e-kind"], cwd=REPO, capture_output=True, text=True, check=False, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_webhook_cert_rbac_reaches_only_its_secret_and_configuration(kubectl: Kubectl, deployed: str) -> None:
    """deploy/overlays/webhook (cert mode self): one named Secret and one named configuration, nothing more."""
    rbac = [
        d
        for d in yaml.safe_load_all(render("deploy/overlays/webhook"))
        if d and d["metadata"]["name"].startswith("eligibility-operator-webhook-")
    ]
    assert {d["kind"] for d in rbac} == {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
    kubectl.apply(*rbac)
    ns = ("-n", "eligibility-operator")
    for args in (
        ("create", "secrets", *ns),
        ("get", "secrets/eligibility-operator-webhook-tls", *ns),
        ("update", "secrets/eligibility-operator-webhook-tls", *ns),
        ("get", "validatingwebhookconfigurations/eligibility-operator"),
        ("update", "validatingwebhookconfigurations/eligibility-operator"),
    ):
        assert can_i(kubectl, *args), args
    forbidden = [
        ("list", "secrets", *ns),
        ("watch", "secrets", *ns),
        ("get", "secrets/someone-else", *ns),
        ("delete", "secrets/eligibility-operator-webhook-tls", *ns),
        ("get", "secrets/eligibility-operator-webhook-tls", "-n", "default"),
        ("create", "secrets", "-n", "default"),
        ("update", "validatingwebhookconfigurations/someone-else"),
        ("list", "validatingwebhookconfigurations"),
        ("delete", "validatingwebhookconfigurations/eligibility-operator"),
        ("create", "mutatingwebhookconfigurations"),
    ]
    assert [args for args in forbidden if can_i(kubectl, *args)] == []
    for doc in rbac:  # the base's "cannot do more" checks stay about the base
        kubectl.run("delete", doc["kind"], doc["metadata"]["name"], *ns, "--ignore-not-found", check=False)

"""Platform detection on the real API server: a ClusterVersion that cannot be read on a cluster serving
config.openshift.io is a visible problem, never a silent "not OpenShift", for the operator and for
``check --cluster`` alike (one reader, ``KubeRequests.platform``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from eligibility_operator.cli import main
from eligibility_operator.core.verdict.evaluation import Platform

from ..builders import engagement
from ..conftest import Kubectl, wait_for
from ..kube_client import kube_client

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "clusterversions.config.openshift.io"},
    "spec": {
        "group": "config.openshift.io",
        "scope": "Cluster",
        "names": {"kind": "ClusterVersion", "plural": "clusterversions", "singular": "clusterversion"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


def platform_of(kubeconfig: Path) -> Platform:
    """The platform as the operator reads it (its own client, from a worker thread)."""
    with kube_client(kubeconfig) as kube:
        return kube.platform()


def token_kubeconfig(kubectl: Kubectl, namespace: str, tmp_path: Path) -> Path:
    """A service account without any grant (reading ClusterVersion is forbidden to it)."""
    kubectl.run("create", "serviceaccount", "nobody", "-n", namespace)
    token = kubectl.run("create", "token", "nobody", "-n", namespace, "--duration=1h").stdout.strip()
    admin = yaml.safe_load(kubectl.kubeconfig.read_text())
    cluster = admin["clusters"][0]
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "sa",
        "clusters": [cluster],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": cluster["name"], "user": "sa"}}],
    }
    path = tmp_path / "sa-kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


def scanner_kubeconfig(kubectl: Kubectl, namespace: str, tmp_path: Path) -> Path:
    """A service account that may list what ``check --cluster`` lists, and nothing else (no ClusterVersion)."""
    path = token_kubeconfig(kubectl, namespace, tmp_path)
    name = f"platform-scanner-{namespace}"
    kubectl.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["list"]}],  # list, never get
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": "nobody", "namespace": namespace}],
        },
    )
    return path


@pytest.fixture
def openshift_api(kubectl: Kubectl) -> Iterator[None]:
    kubectl.apply(CRD)
    kubectl.run("wait", "--for=condition=Established", f"crd/{CRD['metadata']['name']}")
    yield
    kubectl.run("delete", "crd", CRD["metadata"]["name"], "--wait=false", check=False)


def test_plain_kubernetes_is_not_openshift_even_when_forbidden(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    platform = platform_of(token_kubeconfig(kubectl, namespace, tmp_path))
    assert platform.kubernetes and platform.openshift is None and platform.openshift_problem is None


def test_forbidden_clusterversion_on_openshift_is_a_visible_problem(
    kubectl: Kubectl, kubeconfig: Path, namespace: str, openshift_api: None, tmp_path: Path
) -> None:
    forbidden = token_kubeconfig(kubectl, namespace, tmp_path)
    platform = wait_for(lambda: (p := platform_of(forbidden)).openshift_problem and p, what="a forbidden read")
    assert platform.openshift is None
    assert "403" in platform.openshift_problem and "clusterversions.config.openshift.io" in platform.openshift_problem
    kubectl.apply(
        {
            "apiVersion": "config.openshift.io/v1",
            "kind": "ClusterVersion",
            "metadata": {"name": "version"},
            "status": {"history": [{"state": "Completed", "version": "4.18.3"}]},
        }
    )
    read = platform_of(kubeconfig)
    assert read.openshift == "4.18.3" and read.openshift_problem is None


def check_cluster(kubeconfig: Path, contract: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        main,
        ["check", "--cluster", "--kubeconfig", str(kubeconfig), "--engagement", str(contract), "-o", "json"],
        catch_exceptions=False,
    )
    assert result.exit_code in (0, 1, 2), result.output
    found: dict[str, Any] = json.loads(result.stdout)[0]
    return found


def test_check_cluster_reads_the_platform_as_the_operator_does(
    kubectl: Kubectl, namespace: str, openshift_api: None, tmp_path: Path
) -> None:
    """A 403 on ClusterVersion: ``check --cluster`` too tells a cluster serving config.openshift.io (an
    unreadable OpenShift version, PlatformCompatible Unknown) from plain Kubernetes."""
    scanner = scanner_kubeconfig(kubectl, namespace, tmp_path)
    contract = tmp_path / "engagement.yaml"
    contract.write_text(yaml.safe_dump(engagement(namespace)))
    try:
        who = f"--as=system:serviceaccount:{namespace}:nobody"
        wait_for(lambda: kubectl.run("auth", "can-i", "list", "namespaces", who, check=False).returncode == 0)
        found = check_cluster(scanner, contract)
        operator = platform_of(scanner)
        compatible = next(c for c in found["conditions"] if c["type"] == "PlatformCompatible")
        assert (compatible["status"], compatible["reason"]) == ("Unknown", "OpenShiftVersionUnreadable"), compatible
        assert found["platform"].get("openshiftVersion") is None and found["platform"]["kubernetesVersion"]
        assert operator.openshift_problem in found["platform"]["message"]  # the operator's very words
        assert "403" in found["platform"]["message"]
    finally:
        kubectl.run("delete", "clusterrolebinding,clusterrole", f"platform-scanner-{namespace}", check=False)

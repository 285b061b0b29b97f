"""Platform detection on the real API server: a ClusterVersion that cannot be read on a cluster serving
config.openshift.io is a visible problem, never a silent "not OpenShift"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import config

from eligibility_operator.runtime.kube.api import KubeClient

from ..conftest import Kubectl, wait_for

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


def client_for(kubeconfig: Path) -> KubeClient:
    return KubeClient(config.new_client_from_config(str(kubeconfig)))


def token_client(kubectl: Kubectl, namespace: str, tmp_path: Path) -> KubeClient:
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
    return client_for(path)


@pytest.fixture
def openshift_api(kubectl: Kubectl) -> Iterator[None]:
    kubectl.apply(CRD)
    kubectl.run("wait", "--for=condition=Established", f"crd/{CRD['metadata']['name']}")
    yield
    kubectl.run("delete", "crd", CRD["metadata"]["name"], "--wait=false", check=False)


def test_plain_kubernetes_is_not_openshift_even_when_forbidden(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    platform = token_client(kubectl, namespace, tmp_path).platform()
    assert platform.kubernetes and platform.openshift is None and platform.openshift_problem is None


def test_forbidden_clusterversion_on_openshift_is_a_visible_problem(
    kubectl: Kubectl, kubeconfig: Path, namespace: str, openshift_api: None, tmp_path: Path
) -> None:
    forbidden = token_client(kubectl, namespace, tmp_path)
    platform = wait_for(lambda: (p := forbidden.platform()).openshift_problem and p, what="a forbidden read")
    assert platform.openshift is None
    assert "403" in platform.openshift_problem and "clusterversions.config.openshift.io" in platform.openshift_problem
    admin = client_for(kubeconfig)
    kubectl.apply(
        {
            "apiVersion": "config.openshift.io/v1",
            "kind": "ClusterVersion",
            "metadata": {"name": "version"},
            "status": {"history": [{"state": "Completed", "version": "4.18.3"}]},
        }
    )
    read = admin.platform()
    assert read.openshift == "4.18.3" and read.openshift_problem is None

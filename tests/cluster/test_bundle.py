"""bundle/ (OLM registry+v1): its structure, and that the CSV installs what the chart installs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..chart import REPO, render

pytest.importorskip("helm_python", reason="helm-python-sdk (test extra, x86_64 only)")
BUNDLE = REPO / "bundle"
CSV_PATH = BUNDLE / "manifests" / "eligibility-operator.clusterserviceversion.yaml"
OLM_VALUES = {
    "webhook": {"enabled": True, "certMode": "olm"},
    "networkPolicy": {"enabled": False},
    "defaultMatrix": {"enabled": False},
}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def csv() -> dict[str, Any]:
    doc: dict[str, Any] = load(CSV_PATH)
    return doc


def test_bundle_is_current() -> None:
    script = REPO / "scripts" / "generate_bundle.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_structure_and_metadata() -> None:
    annotations = load(BUNDLE / "metadata" / "annotations.yaml")["annotations"]
    assert annotations["operators.operatorframework.io.bundle.mediatype.v1"] == "registry+v1"
    assert annotations["operators.operatorframework.io.bundle.channels.v1"] == "stable"
    assert annotations["operators.operatorframework.io.bundle.channel.default.v1"] == "stable"
    assert annotations["com.redhat.openshift.versions"].startswith("v4.")
    assert annotations["operators.operatorframework.io.bundle.manifests.v1"] == "manifests/"
    dockerfile = (BUNDLE / "bundle.Dockerfile").read_text()
    for key, value in annotations.items():  # the image's labels say what metadata/ says
        assert f"LABEL {key}={value}\n" in dockerfile
    assert "COPY manifests /manifests/" in dockerfile and "COPY metadata /metadata/" in dockerfile
    kinds = {load(p)["kind"] for p in (BUNDLE / "manifests").glob("*.yaml")}
    # Only kinds OLM installs from a registry+v1 bundle.
    assert kinds <= {
        "ClusterServiceVersion",
        "CustomResourceDefinition",
        "Service",
        "PodDisruptionBudget",
        "ClusterRole",
    }
    crds = {
        load(p)["metadata"]["name"]
        for p in (BUNDLE / "manifests").glob("*.yaml")
        if load(p)["kind"] == "CustomResourceDefinition"
    }
    assert crds == {load(p)["metadata"]["name"] for p in (REPO / "crds").glob("*s.yaml")}


def test_csv_describes_the_operator(csv: dict[str, Any]) -> None:
    spec = csv["spec"]
    assert csv["metadata"]["name"] == f"eligibility-operator.v{spec['version']}"
    modes = {m["type"]: m["supported"] for m in spec["installModes"]}
    assert modes == {"OwnNamespace": False, "SingleNamespace": False, "MultiNamespace": False, "AllNamespaces": True}
    assert spec["minKubeVersion"] and spec["maintainers"] and spec["provider"]["name"] == "Stakater"
    assert spec["icon"][0]["mediatype"] == "image/svg+xml" and len(spec["icon"][0]["base64data"]) > 100
    owned = spec["customresourcedefinitions"]["owned"]
    assert {o["kind"] for o in owned} == {"SupportEngagement", "SupportRequest", "CompatibilityMatrix"}
    for o in owned:
        assert o["description"] and o["specDescriptors"] and o["displayName"]
        assert all(d["path"] and "displayName" in d for d in o["specDescriptors"] + o["statusDescriptors"])
    engagement = next(o for o in owned if o["kind"] == "SupportEngagement")
    conditions = next(d for d in engagement["statusDescriptors"] if d["path"] == "conditions")
    assert conditions["x-descriptors"] == ["urn:alm:descriptor:io.kubernetes.conditions"]
    image = spec["install"]["spec"]["deployments"][0]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert spec["relatedImages"] == [{"name": "eligibility-operator", "image": image}]
    assert csv["metadata"]["annotations"]["containerImage"] == image
    examples = yaml.safe_load(csv["metadata"]["annotations"]["alm-examples"])
    assert {e["kind"] for e in examples} == {"CompatibilityMatrix", "SupportEngagement"}


def test_olm_manages_the_webhook_certificate(csv: dict[str, Any]) -> None:
    [hook] = csv["spec"]["webhookdefinitions"]
    static = load(REPO / "deploy/components/webhook/validatingwebhookconfiguration.yaml")["webhooks"][0]
    assert hook["type"] == "ValidatingAdmissionWebhook" and hook["generateName"] == static["name"]
    assert hook["webhookPath"] == static["clientConfig"]["service"]["path"] and hook["rules"] == static["rules"]
    container = csv["spec"]["install"]["spec"]["deployments"][0]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "webhook", "containerPort": hook["containerPort"]} in container["ports"]
    assert container["args"][-2:] == ["--webhook-cert-mode", "olm"]


def test_csv_deployment_and_permissions_equal_the_charts(csv: dict[str, Any]) -> None:
    docs = render(OLM_VALUES)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    strategy = csv["spec"]["install"]["spec"]
    [installed] = strategy["deployments"]
    assert installed["name"] == deployment["metadata"]["name"] and installed["spec"] == deployment["spec"]
    pod = installed["spec"]["template"]["spec"]
    assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(pod["securityContext"])
    roles = {(d["kind"], d["metadata"]["name"]): d["rules"] for d in docs if d["kind"] in ("Role", "ClusterRole")}
    [cluster] = strategy["clusterPermissions"]
    [namespaced] = strategy["permissions"]
    assert cluster["serviceAccountName"] == namespaced["serviceAccountName"] == pod["serviceAccountName"]
    assert cluster["rules"] == roles[("ClusterRole", "eligibility-operator")]
    assert namespaced["rules"] == [
        *roles[("Role", "eligibility-operator-leader-election")],
        *roles[("Role", "eligibility-operator-matrix-store")],
    ]


def test_a_digest_pins_every_image_reference() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import generate_bundle
    finally:
        sys.path.pop(0)
    image = "ghcr.io/stakater/eligibility-operator@sha256:" + "b" * 64
    doc = generate_bundle.csv(image)
    container = doc["spec"]["install"]["spec"]["deployments"][0]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == image and doc["spec"]["relatedImages"][0]["image"] == image

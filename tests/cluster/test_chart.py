"""charts/eligibility-operator, rendered and linted by Helm's own engine, applied (server-side dry run) to
the real API server; with default values it renders exactly deploy/base's objects."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml

from ..chart import CHART, REPO, by_key, normalised, render
from ..conftest import Kubectl
from .test_deploy import STUB_CRDS, for_this_server

helm_python = pytest.importorskip("helm_python", reason="helm-python-sdk (test extra, x86_64 only)")

VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "webhook-self": {"webhook": {"enabled": True}},
    "webhook-cert-manager": {"webhook": {"enabled": True, "certMode": "cert-manager"}},
    "openshift": {
        "webhook": {"enabled": True, "certMode": "service-ca"},
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "networkPolicy": {
            "webhookFrom": [
                {"namespaceSelector": {"matchLabels": {"policy-group.network.openshift.io/host-network": ""}}},
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openshift-kube-apiserver"}}},
            ]
        },
    },
    "everything": {
        "image": {"digest": "sha256:" + "a" * 64},
        "replicas": 3,
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "prometheusRule": {"enabled": True},
        "grafanaDashboards": {"enabled": True},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "infra", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {}},
        "operator": {
            "clusterName": "prod-eu-1",
            "watchNamespaces": ["a", "b"],
            "coalesceSeconds": 0.2,
            "verbose": True,
        },
        "resources": {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    },
    "minimal": {
        "podDisruptionBudget": {"enabled": False},
        "networkPolicy": {"enabled": False},
        "defaultMatrix": {"enabled": False},
        "rbac": {"create": False},
        "serviceAccount": {"create": False, "name": "mine"},
        "operator": {"leaderElection": False},
    },
}


def kustomize(directory: str) -> list[dict[str, Any]]:
    result = subprocess.run(["kubectl", "kustomize", str(REPO / directory)], capture_output=True, text=True, check=True)
    return [d for d in yaml.safe_load_all(result.stdout) if d]


# ------------------------------------------------------------------ no cluster


def test_default_values_render_deploy_base() -> None:
    """The drift test: same objects, same content, apart from the Namespace and the CRDs (crds/)."""
    base = by_key([normalised(d) for d in kustomize("deploy/base")])
    chart = by_key([normalised(d) for d in render()])
    skipped = {k for k in base if k[0] in ("Namespace", "CustomResourceDefinition")}
    assert set(chart) == set(base) - skipped
    for key, doc in chart.items():
        assert doc == base[key], key


@pytest.mark.parametrize(
    ("overlay", "values"),
    [("webhook", "webhook-self"), ("cert-manager", "webhook-cert-manager"), ("openshift", "openshift")],
)
def test_chart_renders_each_webhook_overlay(overlay: str, values: str) -> None:
    """Each certificate mode of the chart renders the objects of the kustomize overlay for it."""
    base = by_key([normalised(d) for d in kustomize(f"deploy/overlays/{overlay}")])
    chart = by_key([normalised(d) for d in render(VALUE_SETS[values])])
    skipped = {k for k in base if k[0] in ("Namespace", "CustomResourceDefinition")}
    assert set(chart) == set(base) - skipped
    for key, doc in chart.items():
        assert doc == base[key], key


def test_generated_chart_files_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts/generate_chart.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_chart_and_app_versions_follow_pyproject() -> None:
    import tomllib

    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["version"] == version and chart["appVersion"] == version


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_value_sets_render_and_lint_strictly(name: str) -> None:
    docs = render(VALUE_SETS[name])
    assert docs
    report = helm_python.lint(str(CHART), VALUE_SETS[name], strict=True, namespace="eligibility-operator")
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == [], report
    for doc in docs:  # never a pinned UID, GID or fsGroup
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(pod.get("securityContext", {}))


def test_monitoring_objects_are_off_by_default_and_on_when_asked() -> None:
    kinds = {d["kind"] for d in render()}
    assert not {"ServiceMonitor", "PrometheusRule", "ValidatingWebhookConfiguration"} & kinds
    everything = by_key(render(VALUE_SETS["everything"]))
    assert ("ServiceMonitor", "eligibility-operator") in everything
    rule = everything[("PrometheusRule", "eligibility-operator")]
    assert rule["spec"] == yaml.safe_load((REPO / "deploy/prometheus/prometheusrule.yaml").read_text())["spec"]
    dashboard = everything[("ConfigMap", "eligibility-operator-dashboard-fleet")]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    deployment = everything[("Deployment", "eligibility-operator")]
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 3 and pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    container = pod["containers"][0]
    assert container["image"] == "ghcr.io/stakater/eligibility-operator@sha256:" + "a" * 64
    assert container["args"][5:7] == ["--namespace", "a"] and "--verbose" in container["args"]


def test_webhook_modes() -> None:
    own = by_key(render(VALUE_SETS["webhook-self"]))
    vwc = own[("ValidatingWebhookConfiguration", "eligibility-operator")]
    assert "annotations" not in vwc["metadata"]  # the operator injects the caBundle itself
    args = own[("Deployment", "eligibility-operator")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-4:] == ["--webhook-port", "9443", "--webhook-cert-mode", "self"]
    assert own[("Role", "eligibility-operator-webhook-cert")]["rules"][1]["resourceNames"] == [
        "eligibility-operator-webhook-tls"
    ]
    assert ("NetworkPolicy", "eligibility-operator-webhook") in own
    openshift = by_key(render(VALUE_SETS["openshift"]))
    service = openshift[("Service", "eligibility-operator-webhook")]
    assert service["metadata"]["annotations"] == {
        "service.beta.openshift.io/serving-cert-secret-name": "eligibility-operator-webhook-tls"
    }
    annotations = openshift[("ValidatingWebhookConfiguration", "eligibility-operator")]["metadata"]["annotations"]
    assert annotations == {"service.beta.openshift.io/inject-cabundle": "true"}
    assert not any(k[0] == "Role" and "webhook" in k[1] for k in openshift)
    cm = by_key(render(VALUE_SETS["webhook-cert-manager"]))
    assert ("Certificate", "eligibility-operator-webhook") in cm


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"replicas": "two"}, "/replicas"),
        ({"webhook": {"certMode": "vault"}}, "/webhook/certMode"),
        ({"serviceMonitor": {"enabled": "yes"}}, "/serviceMonitor/enabled"),
        ({"image": {"repository": "x", "digest": "latest"}}, "/image/digest"),
        ({"resourcez": {}}, "resourcez"),
    ],
)
def test_wrong_values_are_refused_naming_the_value(values: dict[str, Any], named: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as refused:
        render(values)
    assert named in str(refused.value)


# ------------------------------------------------------------------ the real API server


@pytest.mark.cluster
@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_rendered_chart_applies_server_side(kubectl: Kubectl, name: str) -> None:
    kubectl.apply(*STUB_CRDS)
    kubectl.run("wait", "--for=condition=Established", *(f"crd/{c['metadata']['name']}" for c in STUB_CRDS))
    crds = [(CHART / "crds" / f).read_text() for f in sorted(p.name for p in (CHART / "crds").glob("*.yaml"))]
    kubectl.run("apply", "--server-side", "--force-conflicts", "-f", "-", input="\n---\n".join(crds))
    kubectl.run("create", "namespace", "eligibility-operator", check=False)
    manifests = for_this_server(kubectl, yaml.safe_dump_all(render(VALUE_SETS[name])))
    # Server-side apply, as Helm 4 installs (the default matrix may already be there, applied client-side).
    dry = kubectl.run(
        "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-", input=manifests, check=False
    )
    assert dry.returncode == 0, dry.stderr

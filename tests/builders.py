"""Test data, in one place: workloads, engagements and matrices as plain dicts.

``workload``, ``engagement`` and ``matrix`` build objects the API server accepts (integration and
runtime tests); ``manifest``, ``engagement_spec`` and ``small_matrix_spec`` build inputs for the pure
tests, with dates relative to the fixed ``TODAY``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from eligibility_operator.core.compat.matrix import CompiledMatrix, load_matrix
from eligibility_operator.offline.loading import default_matrix

API = "support.stakater.com/v1alpha1"


def workload(
    namespace: str,
    name: str,
    *images: str,
    kind: str = "Deployment",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    selector = {"app": name}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector},
        "template": {
            "metadata": {"labels": selector},
            "spec": {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]},
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {"app": name}}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": metadata, "spec": spec}


def engagement(
    namespace: str, name: str = "contract", *, covers: list[str] | None = None, **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer": "ACME",
        "type": "ProductSupport",
        "plan": "Standard",
        "coverage": {"namespaces": covers if covers is not None else [namespace]},
    }
    body.update(spec)
    return {
        "apiVersion": API,
        "kind": "SupportEngagement",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def matrix(
    name: str, today: dt.date | None = None, *, kubernetes_min: str | None = None, kubernetes_max: str | None = None
) -> dict[str, Any]:
    """A small matrix with dates relative to today, so tests do not age.

    reloader: 1.1 ended 30 days ago (EndOfLife), 1.2 ends in 30 days (Deprecated for Premium with
    the default 90-day horizon, Supported for Standard), 1.4 is current.
    """
    today = today or dt.datetime.now(dt.UTC).date()

    def day(offset: int) -> str:
        return (today + dt.timedelta(days=offset)).isoformat()

    reloader: dict[str, Any] = {
        "name": "reloader",
        "recognition": {"images": [{"repository": "stakater/reloader"}]},
        "releases": [
            {"version": "1.1", "released": day(-700), "endOfSupport": day(-30), "latest": "1.1.0"},
            {"version": "1.2", "released": day(-500), "endOfSupport": day(30), "latest": "1.2.0"},
            {"version": "1.4", "released": day(-300), "latest": "1.4.21"},
        ],
    }
    if kubernetes_min or kubernetes_max:
        bounds = {"min": kubernetes_min, "max": kubernetes_max}
        reloader["compatibility"] = {"kubernetes": {k: v for k, v in bounds.items() if v}}
    forecastle = {
        "name": "forecastle",
        "recognition": {"images": [{"repository": "stakater/forecastle"}]},
        "releases": [{"version": "2.0", "released": day(-300), "latest": "2.0.1"}],
    }
    return {
        "apiVersion": API,
        "kind": "CompatibilityMatrix",
        "metadata": {"name": name},
        "spec": {"products": [reloader, forecastle]},
    }


def olm_crd(kind: str, plural: str) -> dict[str, Any]:
    """A minimal CRD for an OLM kind (Subscription, InstallPlan): schema-less, with the status subresource
    as OLM's own, so that tests can stand in for OLM where it is not installed."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.operators.coreos.com"},
        "spec": {
            "group": "operators.coreos.com",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


OLM_CRDS = [olm_crd("Subscription", "subscriptions"), olm_crd("InstallPlan", "installplans")]


# ------------------------------------------------------------------ pure tests

DIGEST = "sha256:" + "0123456789abcdef" * 4


def default_compiled() -> CompiledMatrix:
    """The default matrix shipped in the package, compiled as the operator compiles it."""
    return load_matrix("default", 1, default_matrix()["spec"])


def manifest(
    *images: str,
    kind: str = "Deployment",
    name: str = "app",
    namespace: str | None = "team-a",
    labels: dict[str, str] | None = None,
    pod_labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    init_images: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A Deployment/StatefulSet/DaemonSet manifest as Helm or kubectl would submit it, labels exactly as given.

    For pure tests (detection, check); :func:`workload` builds one the API server accepts.
    """
    metadata: dict[str, Any] = {"name": name, "labels": dict(labels or {}), "annotations": dict(annotations or {})}
    if namespace is not None:
        metadata["namespace"] = namespace
    pod_spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)],
    }
    if init_images:
        pod_spec["initContainers"] = [{"name": f"init{i}", "image": image} for i, image in enumerate(init_images)]
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": dict(pod_labels if pod_labels is not None else labels or {})},
                "spec": pod_spec,
            },
        },
    }


def engagement_spec(**overrides: Any) -> dict[str, Any]:
    """A SupportEngagement spec in wire form (camelCase), ProductSupport/Standard unless overridden."""
    spec: dict[str, Any] = {"customer": "acme", "type": "ProductSupport", "plan": "Standard"}
    spec.update(overrides)
    return spec


TODAY = dt.date(2026, 6, 1)


def days(n: int) -> str:
    """ISO date ``n`` days from TODAY (negative: in the past)."""
    return (TODAY + dt.timedelta(days=n)).isoformat()


def small_matrix_spec() -> dict[str, Any]:
    """A hand-built matrix whose lifecycle dates are relative to TODAY.

    reloader 1.1 is end of life, 1.2 ends support in 45 days, 1.3 in 200 days, 1.4 has no end.
    """
    return {
        "customerApplications": [{"name": "app-chart", "labels": {"helm.sh/chart": "application-*"}}],
        "products": [
            {
                "name": "reloader",
                "recognition": {
                    "images": [
                        {"repository": "stakater/reloader", "edition": "Community"},
                        {"repository": "stakater/reloader-enterprise", "edition": "Enterprise"},
                    ],
                    "labels": [{"app.kubernetes.io/name": "reloader", "helm.sh/chart": "reloader-*"}],
                    "versionLabels": ["app.kubernetes.io/version"],
                },
                "compatibility": {"kubernetes": {"min": "1.19", "max": "1.33"}},
                "releases": [
                    {"version": "1.1", "released": days(-700), "endOfSupport": days(-30), "latest": "1.1.0"},
                    {"version": "1.2", "released": days(-400), "endOfSupport": days(45), "latest": "1.2.0"},
                    {"version": "1.3", "released": days(-200), "endOfSupport": days(200), "latest": "1.3.0"},
                    {"version": "1.4", "released": days(-100), "latest": "1.4.21"},
                ],
                "integrations": ["Argo CD"],
            },
            {
                "name": "forecastle",
                "recognition": {"images": [{"repository": "stakater/forecastle"}]},
                "releases": [{"version": "2.0", "released": days(-100), "latest": "2.0.1"}],
                "integrations": ["Ingress"],
            },
            {
                "name": "konfigurator",
                "recognition": {"images": [{"repository": "stakater/konfigurator"}]},
                "compatibility": {"openshift": {"min": "4.12", "max": "4.18"}},
                "releases": [{"version": "0.1", "released": days(-600)}],
                "recommendedVersion": "0.1.39",
            },
        ],
    }


def listing_platforms(spec: dict[str, Any], kubernetes: str = "1.34", openshift: str = "4.19") -> dict[str, Any]:
    """``spec`` listing the Kubernetes lines 1.19 to ``kubernetes`` and OpenShift 4.12 to ``openshift``, all
    maintained: the matrix knows them, so a product range that stops short of them is documented."""

    def lines(major: int, first: int, last: str) -> list[dict[str, Any]]:
        return [
            {"version": f"{major}.{minor}", "released": days(-30)}
            for minor in range(first, int(last.split(".")[1]) + 1)
        ]

    return {**spec, "platforms": {"kubernetes": lines(1, 19, kubernetes), "openshift": lines(4, 12, openshift)}}

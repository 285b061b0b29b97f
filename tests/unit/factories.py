"""Factories shared by the unit tests: workload manifests, matrices and engagements as plain dicts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from eligibility_operator.defaults import default_matrix

from eligibility_operator.core.matrix import CompiledMatrix, load_matrix

DIGEST = "sha256:" + "0123456789abcdef" * 4


def default_compiled() -> CompiledMatrix:
    """The default matrix shipped in the package, compiled as the operator compiles it."""
    return load_matrix("default", 1, default_matrix()["spec"])


def workload(
    *images: str,
    kind: str = "Deployment",
    name: str = "app",
    namespace: str | None = "team-a",
    labels: dict[str, str] | None = None,
    pod_labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    init_images: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A Deployment/StatefulSet/DaemonSet manifest as Helm or kubectl would submit it."""
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

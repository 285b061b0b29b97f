"""Builders for the objects the integration tests apply."""

from __future__ import annotations

import datetime as dt
from typing import Any

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


def matrix(name: str, today: dt.date | None = None, *, kubernetes_min: str | None = None) -> dict[str, Any]:
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
    if kubernetes_min:
        reloader["compatibility"] = {"kubernetes": {"min": kubernetes_min}}
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

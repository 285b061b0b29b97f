"""Rendering charts/eligibility-operator with Helm's own engine (PyPI helm-python-sdk), for the tests and
the bundle generator."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "charts" / "eligibility-operator"
# Labels Helm's templates add to deploy/base's (app.kubernetes.io/name and part-of).
HELM_LABELS = {
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
}


def render(values: dict[str, Any] | None = None, namespace: str = "eligibility-operator") -> list[dict[str, Any]]:
    """The chart's objects (templates only, not crds/) for ``values``."""
    import helm_python

    chart = helm_python.Chart.load(str(CHART))
    out = chart.render(values or {}, name="eligibility-operator", namespace=namespace, is_install=True)
    docs: list[dict[str, Any]] = []
    for path, text in sorted(out.items()):
        if path.endswith(".txt"):
            continue
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def normalised(doc: dict[str, Any]) -> dict[str, Any]:
    """An object without the labels only Helm adds, nor deploy/base's part-of label that kustomize adds to
    every object (the chart sets it on its own templates, not on the default matrix)."""
    doc = copy.deepcopy(doc)
    if doc.get("kind") == "CompatibilityMatrix":  # cluster-scoped; kustomize cannot know that of a custom kind
        doc["metadata"].pop("namespace", None)
    labels = doc.get("metadata", {}).get("labels")
    if labels is not None:
        for key in [*HELM_LABELS, "app.kubernetes.io/part-of"]:
            labels.pop(key, None)
        if not labels:
            del doc["metadata"]["labels"]
    return doc


def by_key(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}

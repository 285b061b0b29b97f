"""What the operator keeps of a workload: the few facts detection needs.

Whole objects are never kept in memory. A Deployment of 30 KiB becomes a
:class:`WorkloadFacts` of a few hundred bytes: its identity, container images,
labels and the two override annotations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from sys import intern
from typing import Any

PRODUCT_ANNOTATION = "support.stakater.com/product"
VERSION_ANNOTATION = "support.stakater.com/version"
OPT_OUT_LABEL = "support.stakater.com/ignore"

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
CSV_KIND = "ClusterServiceVersion"
# (group, version, plural, kind) of everything the inventory holds
WATCHED_RESOURCES = (
    ("apps", "v1", "deployments", "Deployment"),
    ("apps", "v1", "statefulsets", "StatefulSet"),
    ("apps", "v1", "daemonsets", "DaemonSet"),
    ("operators.coreos.com", "v1alpha1", "clusterserviceversions", CSV_KIND),
    # what OLM was asked to install (read only; watched only where OLM's CRDs exist)
    ("operators.coreos.com", "v1alpha1", "subscriptions", "Subscription"),
    ("operators.coreos.com", "v1alpha1", "installplans", "InstallPlan"),
    # GitOps objects that install charts (read only; watched only where their CRDs exist)
    ("helm.toolkit.fluxcd.io", "v2", "helmreleases", "HelmRelease"),
    ("argoproj.io", "v1alpha1", "applications", "Application"),
)
_MAX_LABELS = 64
_MAX_TEXT = 512
# Per workload, whatever the object holds: containers read (init containers count too), so at most as
# many distinct images. Real workloads have a handful; the cap keeps the work per object small.
MAX_CONTAINERS = 256


@dataclass(frozen=True, slots=True)
class ChartSource:
    """A Helm chart that a GitOps object (Flux HelmRelease, Argo CD Application) installs."""

    chart: str | None  # None while it comes from a Flux source not resolved yet
    version: str | None  # chart version, or a range, as written
    repository: str | None = None  # chart repository URL, when known
    source: tuple[str, str, str] | None = None  # (kind, namespace, name) of the Flux source to resolve
    tags: tuple[tuple[str, str], ...] = ()  # values whose key ends in "tag", by dotted path


@dataclass(frozen=True, slots=True)
class OlmSource:
    """What an OLM Subscription or InstallPlan asks OLM to install (:mod:`.olm` reads them)."""

    package: str | None  # Subscription spec.name; None for an InstallPlan (its CSV names say)
    channel: str | None = None
    starting_csv: str | None = None
    approval: str | None = None  # installPlanApproval / approval, as written
    # Subscription: status.installedCSV; InstallPlan: spec.clusterServiceVersionNames
    installed_csvs: tuple[str, ...] = ()
    approved: bool | None = None  # InstallPlan spec.approved
    phase: str | None = None  # InstallPlan status.phase


@dataclass(frozen=True, slots=True)
class WorkloadFacts:
    namespace: str
    kind: str
    name: str
    images: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    product_override: str | None = None
    version_override: str | None = None
    olm_package: str | None = None  # ClusterServiceVersions only
    olm_version: str | None = None
    capped: bool = False  # more than MAX_CONTAINERS containers: only the first were read
    main_image: str | None = None  # image of the first (non-init) container
    charts: tuple[ChartSource, ...] = ()  # GitOps objects only
    # GitOps objects: where the object lives; ``namespace`` is where its chart's workloads run
    source_namespace: str | None = None
    olm: OlmSource | None = None  # OLM Subscriptions and InstallPlans only
    # fields the object's own schema refuses (a missing package, an odd approval): input problems
    problems: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """``namespace/Kind/name`` of the object itself, the form used in status and reports."""
        return f"{self.source_namespace or self.namespace}/{self.kind}/{self.name}"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source_namespace or self.namespace, self.kind, self.name)

    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


def _text(value: Any) -> str | None:
    return value[:_MAX_TEXT] if isinstance(value, str) and value else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _containers(pod_spec: Mapping[str, Any]) -> tuple[tuple[str, ...], bool]:
    """Distinct images in order of appearance, and whether a cap cut the list (linear in the caps)."""
    images: dict[str, None] = {}  # insertion-ordered set: O(1) membership
    budget = MAX_CONTAINERS
    capped = False
    for field in ("initContainers", "containers"):
        items = pod_spec.get(field)
        if not isinstance(items, list):
            continue
        if len(items) > budget:
            capped = True
        for container in items[:budget]:
            image = _text(_mapping(container).get("image"))
            if image and image not in images:
                images[intern(image)] = None
        budget -= min(len(items), budget)
    return tuple(images), capped


def _main_image(pod_spec: Mapping[str, Any]) -> str | None:
    items = pod_spec.get("containers")
    image = _text(_mapping(items[0]).get("image")) if isinstance(items, list) and items else None
    return intern(image) if image else None


def _labels(*sources: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    merged: dict[str, str] = {}
    for source in sources:
        for key, value in source.items():
            if isinstance(key, str) and isinstance(value, str) and len(merged) < _MAX_LABELS:
                merged[key[:_MAX_TEXT]] = value[:_MAX_TEXT]
    # Interned: the same few keys and values recur across thousands of workloads.
    return tuple(sorted((intern(key), intern(value)) for key, value in merged.items()))


def _first_labels(value: Any) -> dict[str, str]:
    """Enough of a label map for :func:`_labels`: its first string pairs (it keeps at most 64 in all)."""
    out: dict[str, str] = {}
    for key, item in _mapping(value).items():
        if isinstance(key, str) and isinstance(item, str):
            out[key] = item
            if len(out) == 2 * _MAX_LABELS:
                break
    copied = _mapping(value).get("olm.copiedFrom")
    if isinstance(copied, str):  # past the cut too: it decides whether a CSV is a copy
        out["olm.copiedFrom"] = copied
    return out


# What the operator reads of a workload (and of a ClusterServiceVersion), declared once: a tree of the
# object's fields, where a dict is an object with these members, a one-item list a list of such, and a type
# a value (``dict[str, str]``: a label map). :func:`facts_from_object` reads these and nothing else
# (``tests/unit/test_read_fields.py`` records what it reads and fails otherwise); the admission webhook's
# reduction (:func:`essentials`) and the watches' typed decoder (``runtime/kube/wire.py``) are made from it,
# so a field added here reaches ``check``, the webhook and the running operator alike.
_OVERRIDES: dict[str, Any] = {PRODUCT_ANNOTATION: str, VERSION_ANNOTATION: str}
READ_FIELDS: Mapping[str, Any] = {
    "kind": str,
    "metadata": {"name": str, "namespace": str, "labels": dict[str, str], "annotations": _OVERRIDES},
    "spec": {
        "version": str,  # ClusterServiceVersions
        "template": {
            "metadata": {"labels": dict[str, str], "annotations": _OVERRIDES},
            "spec": {"initContainers": [{"image": str}], "containers": [{"image": str}]},
        },
    },
}
_SKIP = object()


def _project(value: Any, shape: Any) -> Any:
    """The part of ``value`` that ``shape`` (a part of :data:`READ_FIELDS`) declares, within the caps."""
    if isinstance(shape, Mapping):
        found = _mapping(value)
        out = {}
        for key, inner in shape.items():
            if key in found and (kept := _project(found[key], inner)) is not _SKIP:
                out[key] = kept
        return out
    if isinstance(shape, list):
        if not isinstance(value, list):
            return _SKIP
        # one more than the cap, so that the reader still sees that the cap was exceeded
        return [_project(item, shape[0]) for item in value[: MAX_CONTAINERS + 1]]
    if shape is str:
        return value if isinstance(value, str) else _SKIP
    return _first_labels(value)


def essentials(obj: Any) -> dict[str, Any]:
    """The parts of ``obj`` that :func:`facts_from_object` reads (:data:`READ_FIELDS`), within its caps;
    small whatever ``obj`` is.

    ``facts_from_object(essentials(obj)) == facts_from_object(obj)`` (a property test holds it to that).
    The webhook parses reviews in another process and receives only this, cheaply.
    """
    if not isinstance(obj, Mapping):
        return {}
    projected: dict[str, Any] = _project(obj, READ_FIELDS)
    return projected


def facts_from_object(obj: Mapping[str, Any], default_namespace: str = "default") -> WorkloadFacts | None:
    """Extract facts from a Deployment/StatefulSet/DaemonSet or CSV; None for anything else.

    Tolerates any shape: missing or mistyped fields yield fewer facts, never an error.
    """
    kind = obj.get("kind")
    meta = _mapping(obj.get("metadata"))
    name = _text(meta.get("name"))
    if not isinstance(kind, str) or not name:
        return None
    namespace = intern(_text(meta.get("namespace")) or default_namespace)
    kind = intern(kind)
    annotations = _mapping(meta.get("annotations"))
    spec = _mapping(obj.get("spec"))
    if kind in WORKLOAD_KINDS:
        template = _mapping(spec.get("template"))
        pod_meta = _mapping(template.get("metadata"))
        pod_annotations = _mapping(pod_meta.get("annotations"))
        images, capped = _containers(_mapping(template.get("spec")))
        return WorkloadFacts(
            namespace=namespace,
            kind=kind,
            name=name,
            images=images,
            labels=_labels(_mapping(pod_meta.get("labels")), _mapping(meta.get("labels"))),
            product_override=_text(annotations.get(PRODUCT_ANNOTATION) or pod_annotations.get(PRODUCT_ANNOTATION)),
            version_override=_text(annotations.get(VERSION_ANNOTATION) or pod_annotations.get(VERSION_ANNOTATION)),
            capped=capped,
            main_image=_main_image(_mapping(template.get("spec"))),
        )
    if kind == CSV_KIND:
        labels = _mapping(meta.get("labels"))
        if isinstance(labels.get("olm.copiedFrom"), str):  # OLM copies each CSV into every watched namespace
            return None
        package, _, version = name.partition(".v")
        return WorkloadFacts(
            namespace=namespace,
            kind=kind,
            name=name,
            images=(),
            labels=_labels(labels),
            product_override=_text(annotations.get(PRODUCT_ANNOTATION)),
            version_override=_text(annotations.get(VERSION_ANNOTATION)),
            olm_package=package or None,
            olm_version=_text(spec.get("version")) or (version or None),
        )
    return None

"""Charts installed by GitOps objects: Flux HelmReleases, Argo CD Applications/ApplicationSets and
kustomize ``helmCharts:`` entries.

A HelmRelease or an Application is not a workload, but in a GitOps repository it is
often the only trace of a product (``chart: reloader`` from Stakater's chart
repository). These functions turn such objects into :class:`WorkloadFacts` with
:class:`ChartSource` entries; detection maps chart versions to app versions with the
matrix. Flux keeps the chart repository in a separate object (HelmRepository,
OCIRepository); :func:`flux_source` reads those and :func:`resolve_sources` fills
them in. Pure and bounded like the rest of the core: values are walked to a fixed
depth and size, embedded values text is parsed only up to 64 KiB.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import yaml

from .workloads import ChartSource, WorkloadFacts, _labels, _mapping, _text

HELM_RELEASE = "HelmRelease"
FLUX_SOURCE_KINDS = ("HelmRepository", "OCIRepository")
ARGO_KINDS = ("Application", "ApplicationSet")
_MAX_SOURCES = 16
_MAX_TAGS = 32
_MAX_NODES = 4096
_MAX_DEPTH = 12
_MAX_VALUES_TEXT = 64 * 1024
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SourceKey = tuple[str, str, str]  # kind, namespace, name


def _group(obj: Mapping[str, Any]) -> str:
    api = obj.get("apiVersion")
    return api.split("/", 1)[0] if isinstance(api, str) else ""


def _tags(values: Any) -> tuple[tuple[str, str], ...]:
    """Scalar values whose key ends in ``tag`` (``image.tag``, ``reloader.deployment.image.tag``), bounded."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[str, Any, int]] = [("", values, 0)]
    nodes = 0
    while stack and nodes < _MAX_NODES and len(found) < _MAX_TAGS:
        path, value, depth = stack.pop()
        nodes += 1
        if isinstance(value, Mapping) and depth < _MAX_DEPTH:
            for key, child in value.items():
                if isinstance(key, str):
                    stack.append((f"{path}.{key}" if path else key, child, depth + 1))
        elif isinstance(value, str | int | float) and not isinstance(value, bool) and path.lower().endswith("tag"):
            found.append((path[:256], str(value)[:128]))
    return tuple(sorted(found))


def _parse_values(text: Any) -> Any:
    if not isinstance(text, str) or len(text) > _MAX_VALUES_TEXT:
        return None
    try:
        return yaml.load(text, Loader=_SafeLoader)
    except Exception:  # a values text that does not parse holds no tag we could trust
        return None


def _helm_release(obj: Mapping[str, Any], meta: Mapping[str, Any], namespace: str) -> tuple[ChartSource, ...]:
    spec = _mapping(obj.get("spec"))
    tags = _tags(spec.get("values"))
    chart_spec = _mapping(_mapping(spec.get("chart")).get("spec"))
    if chart_spec:
        ref = _mapping(chart_spec.get("sourceRef"))
        chart = _text(chart_spec.get("chart"))
        kind = _text(ref.get("kind")) or "HelmRepository"
        source = None
        if kind in FLUX_SOURCE_KINDS and _text(ref.get("name")):
            source = (kind, _text(ref.get("namespace")) or namespace, _text(ref.get("name")) or "")
        elif chart:  # a chart from a GitRepository or Bucket is a path: its name is the last segment
            chart = chart.rstrip("/").rsplit("/", 1)[-1] or None
        version = chart_spec.get("version")
        version_text = _text(str(version)) if isinstance(version, str | int | float) else None
        return (ChartSource(chart=chart, version=version_text, source=source, tags=tags),)
    chart_ref = _mapping(spec.get("chartRef"))
    if _text(chart_ref.get("name")):
        kind = _text(chart_ref.get("kind")) or "OCIRepository"
        key = (kind, _text(chart_ref.get("namespace")) or namespace, _text(chart_ref.get("name")) or "")
        return (ChartSource(chart=None, version=None, source=key, tags=tags),)
    return ()


def _argo_sources(spec: Mapping[str, Any]) -> tuple[ChartSource, ...]:
    listed = spec.get("sources")
    raw: list[Any] = [spec.get("source"), *(listed if isinstance(listed, list) else [])]
    charts: list[ChartSource] = []
    for item in raw[:_MAX_SOURCES]:
        source = _mapping(item)
        chart = _text(source.get("chart"))
        if not chart or "{{" in chart:  # a Git path source, or a template an ApplicationSet fills in
            continue
        helm = _mapping(source.get("helm"))
        tags = dict(_tags(helm.get("valuesObject")))
        tags.update(_tags(_parse_values(helm.get("values"))))
        parameters = helm.get("parameters")
        for parameter in parameters[:_MAX_TAGS] if isinstance(parameters, list) else []:
            name, value = _mapping(parameter).get("name"), _mapping(parameter).get("value")
            if isinstance(name, str) and name.lower().endswith("tag") and isinstance(value, str):
                tags[name[:256]] = value[:128]
        revision = source.get("targetRevision")
        charts.append(
            ChartSource(
                chart=chart,
                version=_text(str(revision)) if isinstance(revision, str | int | float) else None,
                repository=_text(source.get("repoURL")),
                tags=tuple(sorted(tags.items()))[:_MAX_TAGS],
            )
        )
    return tuple(charts)


def gitops_facts(obj: Mapping[str, Any], default_namespace: str = "default") -> WorkloadFacts | None:
    """Facts of a Flux HelmRelease or Argo CD Application/ApplicationSet that installs charts; else None.

    ``namespace`` is where the chart's workloads run (``targetNamespace``, ``destination.namespace``), so
    that engagement coverage applies to it as to the workloads themselves; ``source_namespace`` (and
    the reference) is where the object itself lives.
    """
    kind = obj.get("kind")
    meta = _mapping(obj.get("metadata"))
    name = _text(meta.get("name"))
    if not isinstance(kind, str) or not name:
        return None
    namespace = _text(meta.get("namespace")) or default_namespace
    spec = _mapping(obj.get("spec"))
    group = _group(obj)
    if kind == HELM_RELEASE and group == "helm.toolkit.fluxcd.io":
        charts = _helm_release(obj, meta, namespace)
        target = _text(spec.get("targetNamespace")) or namespace
    elif kind in ARGO_KINDS and group == "argoproj.io":
        app_spec = spec if kind == "Application" else _mapping(_mapping(spec.get("template")).get("spec"))
        charts = _argo_sources(app_spec)
        destination = _text(_mapping(app_spec.get("destination")).get("namespace"))
        target = destination if destination and "{{" not in destination else namespace
    else:
        return None
    if not charts:
        return None
    return WorkloadFacts(
        namespace=target,
        kind=kind,
        name=name,
        images=(),
        labels=_labels(_mapping(meta.get("labels"))),
        charts=charts,
        source_namespace=namespace if namespace != target else None,
    )


# ------------------------------------------------------------ kustomize helmCharts

KUSTOMIZATION = "Kustomization"
KUSTOMIZE_GROUP = "kustomize.config.k8s.io"
FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
_KUSTOMIZE_TEXT_FIELDS = ("name", "repo", "releaseName", "namespace")


def is_kustomization(obj: Mapping[str, Any]) -> bool:
    """A kustomize Kustomization (or Component): ``kustomize.config.k8s.io``, or no apiVersion and kind at all
    (kustomize allows both to be left out of ``kustomization.yaml``)."""
    if "apiVersion" not in obj and "kind" not in obj:
        return True
    return _group(obj) == KUSTOMIZE_GROUP and obj.get("kind") in (KUSTOMIZATION, "Component")


def _chart_entry(index: int, item: Any, problems: list[str]) -> tuple[ChartSource, str | None] | None:
    """(chart, its namespace) of one ``helmCharts`` entry; None (and a problem) when it names no chart."""
    where = f"helmCharts[{index}]"
    if not isinstance(item, Mapping):
        problems.append(f"{where} is a {type(item).__name__}, not a chart entry")
        return None
    for field in (*_KUSTOMIZE_TEXT_FIELDS, "version"):
        value = item.get(field)
        if value is not None and not isinstance(value, str):
            quote = ": quote it (kustomize refuses anything else)" if isinstance(value, int | float) else ""
            problems.append(f"{where}.{field} is {value!r} ({type(value).__name__}), not a string{quote}"[:300])
    name = _text(item.get("name"))
    if not name:
        problems.append(f"{where} has no name: which chart it installs cannot be told")
        return None
    version = item.get("version")
    numeric = isinstance(version, int | float) and not isinstance(version, bool)
    version_text = _text(str(version)) if isinstance(version, str) or numeric else None
    chart = ChartSource(
        chart=name,
        version=version_text,
        repository=_text(item.get("repo")),  # none: a local chart under helmGlobals.chartHome, known by name
        tags=_tags(item.get("valuesInline")),
    )
    return chart, _text(item.get("namespace"))


def kustomize_facts(
    obj: Mapping[str, Any], fallback_name: str, default_namespace: str = "default"
) -> list[WorkloadFacts]:
    """Facts of a kustomize Kustomization's ``helmCharts:`` entries (``kustomize build --enable-helm``,
    Argo CD with Helm enabled), one per namespace they install into; [] when it has none.

    Named by ``metadata.name`` or ``fallback_name`` (the directory of ``kustomization.yaml``). A chart
    entry installs into its ``namespace``, else the Kustomization's own ``namespace:``. Entries that
    kustomize itself would refuse are this object's ``problems``.
    """
    raw = obj.get("helmCharts")
    if raw is None or not is_kustomization(obj):
        return []
    meta = _mapping(obj.get("metadata"))
    name = _text(meta.get("name")) or fallback_name
    namespace = _text(obj.get("namespace")) or default_namespace
    problems: list[str] = []
    if not isinstance(raw, list):
        problems.append(f"helmCharts is a {type(raw).__name__}, not a list of charts")
        raw = []
    if "helmGlobals" in obj and not isinstance(obj.get("helmGlobals"), Mapping):
        problems.append("helmGlobals is not a mapping (chartHome, configHome)")
    by_namespace: dict[str, list[ChartSource]] = {}
    for index, item in enumerate(raw[:_MAX_SOURCES]):
        entry = _chart_entry(index, item, problems)
        if entry is not None:
            by_namespace.setdefault(entry[1] or namespace, []).append(entry[0])
    if not by_namespace and problems:
        by_namespace[namespace] = []  # nothing to detect, but the problems belong to this object
    labels = _labels(_mapping(meta.get("labels")))
    return [
        WorkloadFacts(
            namespace=target,
            kind=KUSTOMIZATION,
            name=name,
            images=(),
            labels=labels,
            charts=tuple(charts),
            problems=tuple(problems) if index == 0 else (),
        )
        for index, (target, charts) in enumerate(sorted(by_namespace.items()))
    ]


def flux_kustomization(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """(spec.path, spec.targetNamespace) of a Flux Kustomization that sets both; None otherwise."""
    if obj.get("kind") != KUSTOMIZATION or _group(obj) != FLUX_KUSTOMIZE_GROUP:
        return None
    spec = _mapping(obj.get("spec"))
    path, target = _text(spec.get("path")), _text(spec.get("targetNamespace"))
    return (path, target) if path and target else None


def retarget(facts: WorkloadFacts, namespace: str) -> WorkloadFacts:
    """``facts`` of an object that a Flux Kustomization applies with ``targetNamespace: namespace``.

    Flux puts every namespaced object it applies into that namespace. A GitOps object that installs
    into a namespace of its own (a HelmRelease's ``targetNamespace``) keeps installing there; Flux
    source references that pointed at the object's own namespace move with it.
    """
    home = facts.source_namespace or facts.namespace
    charts = tuple(
        dataclasses.replace(c, source=(c.source[0], namespace, c.source[2])) if c.source and c.source[1] == home else c
        for c in facts.charts
    )
    target = facts.namespace if facts.source_namespace else namespace
    return dataclasses.replace(
        facts, namespace=target, source_namespace=namespace if target != namespace else None, charts=charts
    )


def retarget_source(key: SourceKey, namespace: str) -> SourceKey:
    """A Flux source's key once a Flux Kustomization's ``targetNamespace`` applies to it."""
    return (key[0], namespace, key[2])


def flux_source(obj: Mapping[str, Any], default_namespace: str = "default") -> tuple[SourceKey, str, str | None] | None:
    """(key, URL, tag) of a Flux HelmRepository or OCIRepository; None for anything else."""
    kind = obj.get("kind")
    if kind not in FLUX_SOURCE_KINDS or _group(obj) != "source.toolkit.fluxcd.io":
        return None
    meta = _mapping(obj.get("metadata"))
    spec = _mapping(obj.get("spec"))
    name, url = _text(meta.get("name")), _text(spec.get("url"))
    if not name or not url:
        return None
    ref = _mapping(spec.get("ref"))
    tag = _text(ref.get("tag")) or _text(ref.get("semver"))
    return (str(kind), _text(meta.get("namespace")) or default_namespace, name), url, tag


def resolve_sources(facts: WorkloadFacts, sources: Mapping[SourceKey, tuple[str, str | None]]) -> WorkloadFacts:
    """``facts`` with chart repositories (and OCI chart names and tags) filled in from Flux sources."""
    if not any(chart.source for chart in facts.charts):
        return facts
    resolved: list[ChartSource] = []
    for chart in facts.charts:
        found = sources.get(chart.source) if chart.source else None
        if found is None:
            resolved.append(chart)
            continue
        url, tag = found
        if chart.source and chart.source[0] == "OCIRepository":
            repository, _, name = url.rstrip("/").rpartition("/")
            resolved.append(dataclasses.replace(chart, chart=chart.chart or name, repository=repository, version=tag))
        else:
            resolved.append(dataclasses.replace(chart, repository=url))
    return dataclasses.replace(facts, charts=tuple(resolved))


# Labels by which a workload says which GitOps object rendered it: Flux's helm-controller labels every
# object of a release; Argo CD tracks by app.kubernetes.io/instance (its default), the Application name.
FLUX_NAME_LABEL = "helm.toolkit.fluxcd.io/name"
FLUX_NAMESPACE_LABEL = "helm.toolkit.fluxcd.io/namespace"
ARGO_INSTANCE_LABEL = "app.kubernetes.io/instance"


def rendered_by(facts: WorkloadFacts) -> tuple[SourceKey, ...]:
    """Keys of the GitOps objects that may have rendered this workload (Applications by name only)."""
    if facts.charts:
        return ()
    labels = facts.label_map()
    keys: list[SourceKey] = []
    if FLUX_NAME_LABEL in labels:
        keys.append((labels.get(FLUX_NAMESPACE_LABEL, facts.namespace), HELM_RELEASE, labels[FLUX_NAME_LABEL]))
    if ARGO_INSTANCE_LABEL in labels:
        keys.append(("", "Application", labels[ARGO_INSTANCE_LABEL]))
    return tuple(keys)


def renders_key(facts: WorkloadFacts) -> SourceKey:
    """The key under which :func:`rendered_by` names this GitOps object."""
    if facts.kind == HELM_RELEASE:
        return facts.key
    return ("", "Application", facts.name)

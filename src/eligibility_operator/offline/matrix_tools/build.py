"""``matrix build``: a base CompatibilityMatrix with release lines and chart maps from a chart index. Pure.

What the index knows wins for its lines (first publication, newest patch, chart-to-app map), except
that an earlier ``released`` of the base (a release tag predates its chart) is kept with its
``source``; lines the index does not have stay as the base has them. Every end of support is then
recomputed by the documented rule (:mod:`.chart_index`). Recognition data (images, labels, OLM
packages, charts and their repositories, ...) comes from the base. Building again with the output
as the base gives the same output.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...api.models import CompatibilityMatrixSpec
from ...core.compat.matrix import MatrixError, load_matrix, parse_spec
from ...core.compat.versions import parse_version, version_key
from .chart_index import chart_releases, chart_version_map, derive_lines, end_of_support, mass_reindex_stamps
from .sources import SourceError

PLATFORMS = ("kubernetes", "openshift")
STAKATER_CHARTS = "https://stakater.github.io/stakater-charts"


@dataclass
class Built:
    document: dict[str, Any]
    notes: list[str] = field(default_factory=list)  # what was kept from the base, and why
    warnings: list[str] = field(default_factory=list)  # what a reviewer must check before publishing


def matrix_spec(document: Any, source: str) -> tuple[str, CompatibilityMatrixSpec]:
    """Name and validated spec of a CompatibilityMatrix document, exactly as an applied one is validated."""
    if not isinstance(document, Mapping) or document.get("kind") != "CompatibilityMatrix":
        raise SourceError(f"{source}: expected a CompatibilityMatrix")
    meta = document.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    name = name if isinstance(name, str) and name else "default"
    spec = document.get("spec")
    if spec is not None and not isinstance(spec, Mapping):
        raise SourceError(f"{source}: invalid CompatibilityMatrix: spec must be a mapping")
    try:
        load_matrix(name, 0, spec)
        return name, parse_spec(spec)
    except MatrixError as exc:
        raise SourceError(f"{source}: invalid CompatibilityMatrix: {exc}") from None


def _key(version: str) -> str:
    return str(parse_version(version) or version)


def _older(a: str | None, b: str | None) -> bool:
    return a is not None and (b is None or a < b)


def _releases(
    product: dict[str, Any], index: Any, charts: Sequence[str], label: str, warnings: list[str]
) -> list[dict[str, Any]]:
    found = [r for chart in charts for r in chart_releases(index, chart, label)]
    reindexed = mass_reindex_stamps(index)
    merged = {_key(r["version"]): dict(r) for r in product.get("releases", [])}
    for line in derive_lines(found):
        base = merged.get(line.line, {})
        entry: dict[str, Any] = {"version": line.line}
        released = line.released.isoformat() if line.released else None
        source = f"{label}: chart {'/'.join(charts)} {line.charts[0]}..{line.charts[1]} (app {line.latest})"
        from_index = not _older(base.get("released"), released)
        if not from_index:
            released, source = base["released"], base.get("source") or source
        subject = f"{product['name']} {line.line}"
        if from_index and released and line.released_stamp in reindexed:
            count = reindexed[line.released_stamp]
            warnings.append(
                f"{subject}: released {released} is when the index was re-indexed ({count} charts created "
                f"{line.released_stamp}), not when the line came out: set it from the release tag"
            )
            source += f"; released date is the index's mass re-index ({count} charts at {line.released_stamp})"
        if released:
            entry["released"] = released
        latest = max((v for v in (base.get("latest"), line.latest) if v), key=version_key)
        if latest == line.latest and latest != base.get("latest") and latest in line.guessed:
            warnings.append(
                f"{subject}: latest {latest} comes from a chart version without appVersion; no {product['name']} "
                f"release {latest} is confirmed (base: {base.get('latest') or 'none'}): check the release tags"
            )
            source += f"; {latest} only as a chart version (no appVersion), no app release confirmed"
        entry.update({"latest": latest, "source": source})
        merged[line.line] = entry
    lines = sorted(merged.values(), key=lambda r: version_key(r["version"]))
    for i, release in enumerate(lines):
        release.pop("endOfSupport", None)
        following = lines[i + 1].get("released") if i + 1 < len(lines) else None
        if i + 1 < len(lines):
            end = end_of_support(dt.date.fromisoformat(following) if following else None)
            if end is not None:
                release["endOfSupport"] = end.isoformat()
    return [{k: r[k] for k in ("version", "released", "endOfSupport", "latest", "source") if k in r} for r in lines]


def _chart_maps(product: dict[str, Any], index: Any, charts: Sequence[str], label: str) -> None:
    for chart in product.get("recognition", {}).get("charts", []):
        if chart["name"] not in charts:
            continue
        versions = {_key(v["chart"]): v for v in chart.get("versions", [])}
        versions.update({_key(v["chart"]): v for v in chart_version_map(chart_releases(index, chart["name"], label))})
        chart["versions"] = sorted(versions.values(), key=lambda v: (version_key(v["chart"]), v["chart"].count(".")))


def platform_lines(data: Any, source: str) -> tuple[list[dict[str, str]], list[str]]:
    """``spec.platforms.<name>`` from endoflife.date's shape (``[{cycle, releaseDate, eol, latest}]``).

    ``eol: false`` is a maintained line; ``eol: true`` (ended, no date given) cannot be expressed as a
    date and is left out, as are cycles that are not ``major.minor``; the notes say so.
    """
    if not isinstance(data, list):
        raise SourceError(f"{source}: expected a JSON list of {{cycle, releaseDate, eol}} (endoflife.date)")
    lines, notes = [], []
    for i, item in enumerate(data):
        if not isinstance(item, Mapping) or "cycle" not in item or "releaseDate" not in item:
            raise SourceError(f"{source}: item {i} has no cycle and releaseDate")
        cycle, eol = str(item["cycle"]), item.get("eol", False)
        version = parse_version(cycle)
        if version is None or version.parts != 2 or version.suffix:
            notes.append(f"{source}: cycle {cycle!r} is not major.minor, left out")
            continue
        if eol is True:
            notes.append(f"{source}: cycle {cycle} ended without a date, left out")
            continue
        line = {"version": cycle, "released": _iso(item["releaseDate"], source, i)}
        if eol is not False and eol is not None:
            line["endOfMaintenance"] = _iso(eol, source, i)
        lines.append(line)
    return sorted(lines, key=lambda r: version_key(r["version"])), notes


def _iso(value: object, source: str, index: int) -> str:
    try:
        return dt.date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise SourceError(f"{source}: item {index}: {value!r} is not a date") from None


def _serves(repository: str, chart: Mapping[str, Any]) -> bool:
    """Whether the index's repository is one of the chart's (URL prefixes, as detection reads them):
    Stakater's chart index also holds an unrelated old ``tenant-operator`` chart."""
    prefixes = [str(r).rstrip("/") for r in chart.get("repositories", [])]
    return not prefixes or any(repository.rstrip("/").startswith(p) for p in prefixes)


def build_matrix(
    base: Any,
    base_label: str,
    index: Any,
    index_label: str,
    products: Sequence[str] = (),
    platforms: Mapping[str, tuple[Any, str]] | None = None,
    repository: str = STAKATER_CHARTS,
) -> Built:
    """The matrix ``base`` with release lines from the chart ``index`` of ``repository`` (only
    ``products``, when given) and platform lines from endoflife.date data (``platforms``: name ->
    (parsed JSON, label)). Only charts whose ``repositories`` include ``repository`` are read."""
    name, spec = matrix_spec(base, base_label)
    wire: dict[str, Any] = spec.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    known = {p["name"] for p in wire["products"]}
    unknown = [p for p in products if p not in known]
    if unknown:
        raise SourceError(f"{base_label}: no product {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    entries = index.get("entries") if isinstance(index, Mapping) else None
    if not isinstance(entries, Mapping):
        raise SourceError(f"{index_label}: not a Helm repository index (no 'entries' mapping)")
    built = Built({})
    for product in wire["products"]:
        if products and product["name"] not in products:
            continue
        ours = [c for c in product.get("recognition", {}).get("charts", []) if _serves(repository, c)]
        names = [c["name"] for c in ours]
        charts = [c for c in names if c in entries]
        if not charts:
            listed = ", ".join(names) or f"none of its charts is published from {repository}"
            why = f"the index has no chart of {product['name']} ({listed})"
            if products:
                raise SourceError(f"{index_label}: {why}")
            built.notes.append(f"{product['name']}: kept from the base: {why}")
            continue
        product["releases"] = _releases(product, index, charts, index_label, built.warnings)
        _chart_maps(product, index, charts, index_label)
    for platform, (data, label) in (platforms or {}).items():
        if platform not in PLATFORMS:
            raise SourceError(f"--platform-eol {platform}: expected one of {', '.join(PLATFORMS)}")
        lines, notes = platform_lines(data, label)
        wire.setdefault("platforms", {})[platform] = lines
        built.notes.extend(notes)
    try:
        load_matrix(name, 0, wire)  # exactly the validation an applied matrix gets
    except MatrixError as exc:
        raise SourceError(f"the built matrix is invalid: {exc}") from None
    built.document = {
        "apiVersion": "support.stakater.com/v1alpha1",
        "kind": "CompatibilityMatrix",
        "metadata": {"name": name},
        "spec": wire,
    }
    return built

"""What changed between two CompatibilityMatrix specs, in words. Pure.

``eligibility-operator matrix diff`` prints it; the runtime can name the same changes
in an Event when a matrix is replaced. One line per change, product by product:
``reloader 1.5 added``, ``reloader 1.4 end of support set to 2027-09-01``,
``charts reloader 1.5.x install reloader 1.5 (added)``, ``product tronador removed``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from ...api.models import (
    ChartRecognition,
    CompatibilityMatrixSpec,
    MatrixProduct,
    PlatformRelease,
    Release,
    VersionRange,
)
from .versions import parse_version, version_key


def _key(version: str) -> str:
    """``1.4`` and ``v1.4`` are the same line; ``1.4`` and ``1.4.0`` are not (a line and a version)."""
    return str(parse_version(version) or version)


def _moved(subject: str, what: str, old: object, new: object) -> list[str]:
    if old == new:
        return []
    if old is None:
        return [f"{subject} {what} set to {new}"]
    if new is None:
        return [f"{subject} {what} removed (was {old})"]
    return [f"{subject} {what} moved from {old} to {new}"]


def _lines(
    subject: str, old: Sequence[Release | PlatformRelease], new: Sequence[Release | PlatformRelease], ends: str
) -> list[str]:
    before = {_key(r.version): r for r in old}
    after = {_key(r.version): r for r in new}
    out: list[str] = []
    for key in sorted(before.keys() | after.keys(), key=version_key):
        a, b = before.get(key), after.get(key)
        if a is None:
            out.append(f"{subject} {key} added")
            continue
        if b is None:
            out.append(f"{subject} {key} removed")
            continue
        out += _moved(f"{subject} {key}", "release date", a.released, b.released)
        out += _moved(f"{subject} {key}", ends, _end(a), _end(b))
        if isinstance(a, Release) and isinstance(b, Release):
            out += _moved(f"{subject} {key}", "latest", a.latest, b.latest)
    return out


def _end(release: Release | PlatformRelease) -> dt.date | None:
    return release.end_of_support if isinstance(release, Release) else release.end_of_maintenance


def _range(bounds: VersionRange | None) -> str | None:
    return None if bounds is None else f"{bounds.min or 'any'}..{bounds.max or 'any'}"


def _chart_versions(charts: Iterable[ChartRecognition]) -> dict[tuple[str, str], str]:
    return {(c.name, _key(v.chart)): v.app or v.chart for c in charts for v in c.versions}


def _chart_line(product: str, chart: str, version: str, old_app: str | None, new_app: str | None) -> list[str]:
    """A chart map entry in words: "charts reloader 1.3.x install reloader 1.3 (added)" for a line of chart
    versions, "chart reloader 2.2.16 installs reloader 1.4.21" for one chart version."""
    line = version.count(".") == 1  # "1.3" covers chart versions 1.3.x
    charts, install = (f"charts {chart} {version}.x", "install") if line else (f"chart {chart} {version}", "installs")
    if old_app == new_app:
        return []
    if old_app is None:
        return [f"{charts} {install} {product} {new_app} (added)"]
    if new_app is None:
        return [f"{charts} no longer listed (installed {product} {old_app})"]
    return [f"{charts} now {install} {product} {new_app} (was {old_app})"]


def _product(old: MatrixProduct, new: MatrixProduct) -> list[str]:
    name = new.name
    out = _lines(name, old.releases, new.releases, "end of support")
    for label in ("kubernetes", "openshift"):
        a, b = getattr(old.compatibility, label), getattr(new.compatibility, label)
        out += _moved(name, f"{label} range", _range(a), _range(b))
    before, after = _chart_versions(old.recognition.charts), _chart_versions(new.recognition.charts)
    for chart, version in sorted(before.keys() | after.keys(), key=lambda k: (k[0], version_key(k[1]))):
        out += _chart_line(name, chart, version, before.get((chart, version)), after.get((chart, version)))
    recognition = [
        field
        for field in ("images", "labels", "version_labels", "olm_packages", "foreign_images")
        if getattr(old.recognition, field) != getattr(new.recognition, field)
    ]
    old_charts = [c.model_copy(update={"versions": []}) for c in old.recognition.charts]
    new_charts = [c.model_copy(update={"versions": []}) for c in new.recognition.charts]
    if old_charts != new_charts:
        recognition.append("charts")
    if recognition:
        out.append(f"{name} recognition changed: {', '.join(recognition)}")
    for field in ("display_name", "recommended_version", "integrations", "third_party_dependencies"):
        out += _moved(name, field, getattr(old, field) or None, getattr(new, field) or None)
    return out


def diff_matrices(old: CompatibilityMatrixSpec, new: CompatibilityMatrixSpec) -> list[str]:
    """Every difference between ``old`` and ``new`` that changes a verdict or a recognition, in words;
    empty when they judge alike. Order: products as ``new`` lists them, then removed ones, then platforms."""
    out: list[str] = []
    before = {p.name: p for p in old.products}
    after = {p.name: p for p in new.products}
    for name, product in after.items():
        if name not in before:
            out.append(f"product {name} added")
        else:
            out += _product(before[name], product)
    out += [f"product {name} removed" for name in before if name not in after]
    for label in ("kubernetes", "openshift"):
        out += _lines(
            label.capitalize() if label == "kubernetes" else "OpenShift",
            getattr(old.platforms, label),
            getattr(new.platforms, label),
            "end of maintenance",
        )
    if old.customer_applications != new.customer_applications:
        out.append("customerApplications changed")
    return out

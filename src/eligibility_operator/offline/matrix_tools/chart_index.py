"""Release lines from a Helm repository ``index.yaml`` (``entries.<chart>[]``: version, appVersion, created). Pure.

The lifecycle rule is the one the README ("The compatibility matrix") documents, Stakater publishing
no end-of-life policy of its own: a release line is ``major.minor`` of the app version; it was
released when the first chart carrying it was published (``created``); the newest line has no end
of support; an older line ends support 12 months after the line that replaced it was released.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...core.compat.versions import Version, parse_version, version_key
from .sources import SourceError

SUPPORT_MONTHS = 12
# A minute in which at least this many chart versions were "created" is a re-index of the repository, not
# a day of releases: Stakater's index dates 269 charts of five products 2021-04-08T15:40.
MASS_REINDEX_CHARTS = 20


@dataclass(frozen=True, slots=True)
class ChartRelease:
    """One published chart version and the app version it installs."""

    chart: Version
    app: Version
    created: dt.date | None
    stamp: str | None = None  # ``created`` to the minute, as the index wrote it
    app_given: bool = True  # False: no appVersion, the app version is taken from the chart version


@dataclass(frozen=True, slots=True)
class DerivedLine:
    line: str  # "1.4"
    released: dt.date | None
    latest: str  # newest app version of the line
    charts: tuple[str, str]  # first and last chart version carrying it
    released_stamp: str | None = None  # ``created`` (to the minute) of the chart that gives ``released``
    guessed: tuple[str, ...] = ()  # app versions only known from a chart version (no appVersion)


def chart_releases(index: Any, chart: str, source: str) -> list[ChartRelease]:
    """The releases of ``chart`` in a parsed index; pre-releases and unparseable versions are left out."""
    if not isinstance(index, Mapping) or not isinstance(index.get("entries"), Mapping):
        raise SourceError(f"{source}: not a Helm repository index (no 'entries' mapping)")
    entries = index["entries"].get(chart)
    if entries is None:
        raise SourceError(f"{source}: the index has no chart {chart!r}")
    if not isinstance(entries, list):
        raise SourceError(f"{source}: entries.{chart} is not a list")
    found = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise SourceError(f"{source}: entries.{chart}[{i}] is not a mapping")
        chart_version = parse_version(str(entry.get("version", "")))
        app_text = entry.get("appVersion")
        app = parse_version(str(app_text)) if app_text is not None else chart_version
        if chart_version is None or app is None or chart_version.suffix or app.suffix or app.parts < 2:
            continue  # a pre-release, a build of a branch, or not a version: not a release
        created = entry.get("created")
        stamp = _stamp(created)
        found.append(ChartRelease(chart_version, app, _date(created), stamp, app_text is not None))
    if not found:
        raise SourceError(f"{source}: chart {chart!r} has no released version in the index")
    return sorted(found, key=lambda r: r.chart.core)


def _stamp(value: object) -> str | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M") if value.tzinfo else value.strftime("%Y-%m-%dT%H:%M")
    return value[:16] if isinstance(value, str) and len(value) >= 16 else None


def mass_reindex_stamps(index: Any) -> dict[str, int]:
    """Minutes (``2021-04-08T15:40``) in which :data:`MASS_REINDEX_CHARTS` or more chart versions of the
    whole index were created, with their count: such a ``created`` is when the repository was re-indexed,
    not when a chart was first published."""
    entries = index.get("entries") if isinstance(index, Mapping) else None
    if not isinstance(entries, Mapping):
        return {}
    counts = Counter(
        stamp
        for versions in entries.values()
        if isinstance(versions, list)
        for entry in versions
        if isinstance(entry, Mapping) and (stamp := _stamp(entry.get("created"))) is not None
    )
    return {stamp: n for stamp, n in counts.items() if n >= MASS_REINDEX_CHARTS}


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _line(version: Version) -> str:
    return f"{version.major}.{version.minor}"


def derive_lines(releases: Sequence[ChartRelease]) -> list[DerivedLine]:
    """App release lines, oldest first: first publication date, newest patch, charts that carry them."""
    by_line: dict[str, list[ChartRelease]] = {}
    for release in releases:
        by_line.setdefault(_line(release.app), []).append(release)
    lines = []
    for line, items in by_line.items():
        dated = sorted((r for r in items if r.created is not None), key=lambda r: (r.created, r.stamp or ""))
        latest = max(items, key=lambda r: r.app.core).app
        charts = sorted(items, key=lambda r: r.chart.core)
        first, last = str(charts[0].chart), str(charts[-1].chart)
        guessed = tuple(sorted({str(r.app) for r in items if not r.app_given}, key=version_key))
        released = dated[0].created if dated else None
        lines.append(
            DerivedLine(line, released, str(latest), (first, last), dated[0].stamp if dated else None, guessed)
        )
    return sorted(lines, key=lambda d: version_key(d.line))


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months; the 29th to 31st become the last day of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for candidate in range(day.day, 27, -1):  # 31, 30, 29: the month may be shorter
        try:
            return dt.date(year, month, candidate)
        except ValueError:
            continue
    return dt.date(year, month, min(day.day, 28))


def end_of_support(released_next: dt.date | None) -> dt.date | None:
    """The rule: 12 months after the replacing line's release; none while that date is unknown."""
    return add_months(released_next, SUPPORT_MONTHS) if released_next else None


def chart_version_map(releases: Sequence[ChartRelease]) -> list[dict[str, str]]:
    """``charts[].versions`` entries: a chart line where every chart version equals its app version
    (``{chart: "1.0"}``), else one entry per chart version (``{chart: "2.2.16", app: "1.4.21"}``)."""
    by_line: dict[str, list[ChartRelease]] = {}
    for release in releases:
        by_line.setdefault(_line(release.chart), []).append(release)
    out: list[dict[str, str]] = []
    for line, items in by_line.items():
        if all(r.chart.core == r.app.core for r in items):
            out.append({"chart": line})
        else:
            out.extend({"chart": str(r.chart), "app": str(r.app)} for r in items)
    return out

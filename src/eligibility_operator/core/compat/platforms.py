"""The cluster's platform: which products support it, and whether its release line is maintained. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...api.models import Lifecycle, PlatformLifecycles, PlatformRelease, VersionRange
from .versions import Version, parse_version


@dataclass(frozen=True, slots=True)
class Platform:
    """Versions as the cluster reports them (``/version``, the OpenShift ClusterVersion)."""

    kubernetes: str | None = None
    openshift: str | None = None
    # Why the OpenShift version could not be read (ClusterVersion forbidden or failing on a cluster that
    # serves config.openshift.io); None when it was read, or when the cluster is not OpenShift.
    openshift_problem: str | None = None


@dataclass(frozen=True, slots=True)
class PlatformJudgement:
    """Maintenance of the platform's release line on a given day."""

    lifecycle: Lifecycle
    release: str  # e.g. "Kubernetes 1.31"
    end_of_maintenance: dt.date | None
    newest: str | None  # newest release line the matrix lists, as the upgrade target
    reason: str


def in_range(version: Version, bounds: VersionRange) -> bool:
    """Whether ``version`` is within ``bounds`` (inclusive, compared at the precision of each bound)."""
    lo = parse_version(bounds.min or "")
    if lo and version.core[: lo.parts] < lo.core[: lo.parts]:
        return False
    return not above(version, bounds)


def release_problems(lifecycles: PlatformLifecycles) -> list[str]:
    """Semantic problems of the matrix's platform lines (duplicates, end before GA)."""
    problems: list[str] = []
    for label, releases in (("kubernetes", lifecycles.kubernetes), ("openshift", lifecycles.openshift)):
        seen: set[str] = set()
        for release in releases:
            key = str(parse_version(release.version))
            if key in seen:
                problems.append(f"platforms.{label}: release {release.version} is listed twice")
            seen.add(key)
            if release.end_of_maintenance and release.end_of_maintenance < release.released:
                problems.append(
                    f"platforms.{label}: release {release.version} ends maintenance "
                    f"({release.end_of_maintenance}) before it was released ({release.released})"
                )
    return problems


def _line(version: Version) -> tuple[int, ...]:
    return version.core[:2]


def above(version: Version, bounds: VersionRange) -> bool:
    """Whether ``version`` is newer than the bounds' maximum (compared at the maximum's precision)."""
    hi = parse_version(bounds.max or "")
    return hi is not None and version.core[: hi.parts] > hi.core[: hi.parts]


# The newest release line a matrix knows of each platform ("Kubernetes", "OpenShift"); None: it knows none.
KnownLines = Mapping[str, tuple[int, ...] | None]


def newest_known(releases: Sequence[PlatformRelease], maxima: Iterable[str | None]) -> tuple[int, ...] | None:
    """The newest line of a platform that a matrix knows: listed in spec.platforms, or stated as the maximum
    of some product's compatibility. A cluster on a newer line is one the matrix cannot have judged yet."""
    texts = [*(r.version for r in releases), *maxima]
    return max((_line(v) for text in texts if (v := parse_version(text or "")) is not None), default=None)


def newer_than_known(version: Version, newest: tuple[int, ...] | None) -> bool:
    return newest is None or _line(version) > newest


def judge_platform(
    lifecycles: PlatformLifecycles, platform: Platform, today: dt.date, horizon: int
) -> PlatformJudgement | None:
    """Maintenance of the cluster's release line; None when the matrix lists no lines for it.

    On OpenShift the OpenShift line is judged (it fixes the Kubernetes version).
    """
    candidates: Sequence[tuple[str, str | None, list[PlatformRelease]]] = (
        ("OpenShift", platform.openshift, lifecycles.openshift),
        ("Kubernetes", platform.kubernetes, lifecycles.kubernetes),
    )
    for label, text, releases in candidates:
        version = parse_version(text or "")
        if version is None or not releases:
            continue
        parsed = sorted(
            ((v, r) for r in releases if (v := parse_version(r.version)) is not None), key=lambda item: item[0].core
        )
        newest = f"{label} {parsed[-1][0]}" if parsed else None
        release = f"{label} {'.'.join(str(p) for p in _line(version))}"
        match = next((r for v, r in parsed if _line(v) == _line(version)), None)
        if match is None:
            if parsed and _line(version) < _line(parsed[0][0]):
                return PlatformJudgement(
                    Lifecycle.END_OF_LIFE, release, None, newest, f"{release} is older than any line in the matrix"
                )
            return PlatformJudgement(Lifecycle.UNKNOWN, release, None, newest, f"the matrix does not list {release}")
        lifecycle, words = line_lifecycle(
            match.end_of_maintenance, today, horizon, ends="maintenance", kept="maintained"
        )
        return PlatformJudgement(lifecycle, release, match.end_of_maintenance, newest, f"{release} {words}")
    return None


def line_lifecycle(end: dt.date | None, today: dt.date, horizon: int, *, ends: str, kept: str) -> tuple[Lifecycle, str]:
    """Where a release line that ends ``end`` (None: no end announced) stands today, and the words that
    follow its name: "reached end of support on ...", "is maintained until ..."."""
    if end is None:
        return Lifecycle.SUPPORTED, f"is {kept}"
    if today > end:
        return Lifecycle.END_OF_LIFE, f"reached end of {ends} on {end}"
    days = (end - today).days
    if days <= horizon:
        return Lifecycle.DEPRECATED, f"ends {ends} on {end}, in {days} days (within the {horizon}-day upgrade horizon)"
    return Lifecycle.SUPPORTED, f"is {kept} until {end}"


def openshift_version_of(obj: Any) -> str | None:
    """The OpenShift version a ClusterVersion reports: the newest Completed update in its history, else
    ``status.desired.version`` (what ``oc get clusterversion`` shows). Any shape is tolerated."""
    status = obj.get("status") if isinstance(obj, dict) else None
    if not isinstance(status, dict):
        return None
    history = status.get("history")
    for entry in history if isinstance(history, list) else []:
        if isinstance(entry, dict) and entry.get("state") == "Completed" and isinstance(entry.get("version"), str):
            return str(entry["version"])
    desired = status.get("desired")
    version = desired.get("version") if isinstance(desired, dict) else None
    return version if isinstance(version, str) and version else None

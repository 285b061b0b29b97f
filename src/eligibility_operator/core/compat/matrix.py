"""A CompatibilityMatrix compiled for fast lookups, and its semantic checks.

The CRD schema catches malformed matrices at ``kubectl apply``; what a schema
cannot express (overlapping release lines, end of support before release,
duplicate products or image repositories) is found by :func:`validate`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from ...api.models import (
    ChartRecognition,
    CompatibilityMatrixObjectSpec,
    CompatibilityMatrixSpec,
    Edition,
    MatrixProduct,
    PlatformLifecycles,
    Release,
)
from ..base.specs import describe_validation_error
from .images import registry_host
from .platforms import KnownLines, newest_known, release_problems
from .versions import Version, parse_version


@dataclass(frozen=True, slots=True)
class ReleaseLine:
    line: Version
    released: dt.date | None
    end_of_support: dt.date | None
    latest: str | None

    @property
    def label(self) -> str:
        return str(self.line)


@dataclass(frozen=True)
class ProductEntry:
    spec: MatrixProduct
    lines: tuple[ReleaseLine, ...]  # sorted oldest first

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def recommended(self) -> str | None:
        if self.spec.recommended_version:
            return self.spec.recommended_version
        if not self.lines:
            return None
        newest = self.lines[-1]
        return newest.latest or newest.label

    def line_for(self, version: Version) -> ReleaseLine | None:
        """The most specific release line containing ``version``."""
        best: ReleaseLine | None = None
        for line in self.lines:
            if version.within(line.line) and (best is None or line.line.parts > best.line.parts):
                best = line
        return best


def labels_match(pattern: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """All pattern labels present; a value with '*' or '?' is a glob."""
    for key, want in pattern.items():
        have = labels.get(key)
        if have is None:
            return False
        if "*" in want or "?" in want:
            if not fnmatchcase(have, want):
                return False
        elif have != want:
            return False
    return bool(pattern)


@dataclass
class CompiledMatrix:
    """Matrix data indexed for detection; built once per matrix generation."""

    name: str
    generation: int
    products: dict[str, ProductEntry]
    # last path segment -> [(repository, product, edition)]
    images_by_name: dict[str, list[tuple[str, str, Edition]]] = field(default_factory=dict)
    label_rules: list[tuple[dict[str, str], str]] = field(default_factory=list)
    olm_packages: dict[str, str] = field(default_factory=dict)
    exclusions: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    # chart name -> [(product, chart recognition)]
    charts_by_name: dict[str, list[tuple[str, ChartRecognition]]] = field(default_factory=dict)
    # product -> repositories of other vendors' look-alikes
    foreign_images: dict[str, tuple[str, ...]] = field(default_factory=dict)
    platforms: PlatformLifecycles = field(default_factory=PlatformLifecycles)
    revision: str | None = None  # sha256 of the fetched document (spec.source); None for an applied matrix

    @property
    def fingerprint(self) -> tuple[str, int]:
        return (self.name, self.generation)

    @cached_property
    def newest_platform_lines(self) -> KnownLines:
        """The newest Kubernetes and OpenShift lines this matrix knows (listed, or a product's maximum)."""
        ranges = [p.spec.compatibility for p in self.products.values()]
        return {
            "Kubernetes": newest_known(self.platforms.kubernetes, (r.kubernetes.max for r in ranges if r.kubernetes)),
            "OpenShift": newest_known(self.platforms.openshift, (r.openshift.max for r in ranges if r.openshift)),
        }


class MatrixError(ValueError):
    """The matrix cannot be used; the message says why in terms a human can act on."""


def parse_spec(raw_spec: Mapping[str, Any] | None) -> CompatibilityMatrixSpec:
    try:
        return CompatibilityMatrixSpec.model_validate(raw_spec or {})
    except ValidationError as exc:
        raise MatrixError(describe_validation_error(exc)) from None


def validate(spec: CompatibilityMatrixSpec) -> list[str]:
    """Semantic problems of a schema-valid matrix; empty when it is usable."""
    problems: list[str] = []
    seen_products: set[str] = set()
    repo_owner: dict[str, str] = {}
    olm_owner: dict[str, str] = {}
    for product in spec.products:
        where = f"product {product.name!r}"
        if product.name in seen_products:
            problems.append(f"{where} is listed twice")
        seen_products.add(product.name)
        for image in product.recognition.images:
            repo = image.repository.strip("/").lower()
            host = registry_host(repo)
            if host is not None:  # the path of an image never includes its host: it could never match
                problems.append(
                    f"{where}: image repository {repo!r} includes a registry host ({host!r}); write the path "
                    f"without it ({repo.split('/', 1)[1]!r}), which matches every registry and mirror"
                )
            other = repo_owner.setdefault(repo, product.name)
            if other != product.name:
                problems.append(f"image repository {repo!r} is claimed by both {other!r} and {product.name!r}")
        for package in product.recognition.olm_packages:
            other = olm_owner.setdefault(package, product.name)
            if other != product.name:
                problems.append(f"OLM package {package!r} is claimed by both {other!r} and {product.name!r}")
        problems.extend(_release_problems(where, product.releases))
        problems.extend(_recognition_problems(where, product))
        for label, text in (
            ("kubernetes", product.compatibility.kubernetes),
            ("openshift", product.compatibility.openshift),
        ):
            if text is None:
                continue
            low, high = parse_version(text.min or "0"), parse_version(text.max or "999999")
            if low is None or high is None:
                problems.append(f"{where}: {label} range {text.min!r}..{text.max!r} is not a version range")
            elif low.core > high.core:
                problems.append(f"{where}: {label} range min {text.min} is above max {text.max}")
    problems.extend(release_problems(spec.platforms))
    return problems


def _release_problems(where: str, releases: list[Release]) -> list[str]:
    problems: list[str] = []
    lines: dict[str, Release] = {}
    for release in releases:
        key = str(parse_version(release.version))
        if key in lines:
            problems.append(f"{where}: release {release.version} is listed twice")
        lines[key] = release
        if release.end_of_support and release.released and release.end_of_support < release.released:
            problems.append(
                f"{where}: release {release.version} ends support ({release.end_of_support}) "
                f"before it was released ({release.released})"
            )
        if release.latest is not None:
            latest, line = parse_version(release.latest), parse_version(release.version)
            if latest is None or line is None or not latest.within(line):
                problems.append(f"{where}: release {release.version} has latest {release.latest!r} outside its line")
    parsed = [(parse_version(r.version), r) for r in releases]
    for i, (a, ra) in enumerate(parsed):
        for b, rb in parsed[i + 1 :]:
            if a is None or b is None or a == b:
                continue
            if a.within(b) or b.within(a):
                problems.append(f"{where}: releases {ra.version} and {rb.version} overlap")
    return problems


# Label keys that name an app in everybody's charts: a label rule made of these alone would claim
# other vendors' workloads of the same name (External Secrets ships its own "reloader").
GENERIC_LABEL_KEYS = frozenset(
    {
        "app",
        "name",
        "component",
        "tier",
        "release",
        "heritage",
        "version",
        "k8s-app",
        "control-plane",
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/component",
        "app.kubernetes.io/version",
    }
)


def _recognition_problems(where: str, product: MatrixProduct) -> list[str]:
    problems: list[str] = []
    for index, labels in enumerate(product.recognition.labels):
        if labels and set(labels) <= GENERIC_LABEL_KEYS:
            problems.append(
                f"{where}: recognition.labels[{index}] {dict(labels)} has only generic labels; add a vendor-specific "
                "one (a chart, provider, part-of or managed-by label) or rely on images"
            )
    for chart in product.recognition.charts:
        seen: set[str] = set()
        for entry in chart.versions:
            key = str(parse_version(entry.chart))  # "1.0" and "1.0.0" differ: a line and a version
            if key in seen:
                problems.append(f"{where}: chart {chart.name} version {entry.chart} is listed twice")
            seen.add(key)
    return problems


def compile_matrix(name: str, generation: int, spec: CompatibilityMatrixSpec) -> CompiledMatrix:
    """Index a validated matrix. Raises MatrixError if :func:`validate` finds problems."""
    problems = validate(spec)
    if problems:
        raise MatrixError("; ".join(problems))
    compiled = CompiledMatrix(name=name, generation=generation, products={}, platforms=spec.platforms)
    for product in spec.products:
        lines = []
        for release in product.releases:
            version = parse_version(release.version)
            if version is None:  # the schema pattern excludes this; the check keeps a bad input an input error
                raise MatrixError(f"product {product.name!r}: release {release.version!r} is not a version")
            lines.append(ReleaseLine(version, release.released, release.end_of_support, release.latest))
        lines.sort(key=lambda r: r.line.core)
        compiled.products[product.name] = ProductEntry(spec=product, lines=tuple(lines))
        for image in product.recognition.images:
            repo = image.repository.strip("/").lower()
            compiled.images_by_name.setdefault(repo.rsplit("/", 1)[-1], []).append(
                (repo, product.name, Edition(image.edition))
            )
        for labels in product.recognition.labels:
            compiled.label_rules.append((dict(labels), product.name))
        for package in product.recognition.olm_packages:
            compiled.olm_packages[package] = product.name
        for chart in product.recognition.charts:
            compiled.charts_by_name.setdefault(chart.name, []).append((product.name, chart))
        if product.recognition.foreign_images:
            compiled.foreign_images[product.name] = tuple(
                r.strip("/").lower() for r in product.recognition.foreign_images
            )
    for exclusion in spec.customer_applications:
        compiled.exclusions.append((exclusion.name, dict(exclusion.labels)))
    return compiled


def load_matrix(name: str, generation: int, raw_spec: Mapping[str, Any] | None) -> CompiledMatrix:
    """Parse, validate and compile a matrix spec from its raw (wire) form."""
    return compile_matrix(name, generation, parse_spec(raw_spec))


def settings_problem(spec: CompatibilityMatrixObjectSpec) -> str | None:
    """Why an applied matrix with ``spec.source`` cannot be fetched as it stands (None: it can)."""
    if spec.products or spec.customer_applications or spec.platforms.kubernetes or spec.platforms.openshift:
        return "spec.source is set: products, platforms and customerApplications come from the fetched document"
    source = spec.source
    if source is not None and not (source.digest or source.public_key):
        return "spec.source needs digest or publicKey: an unverified document is never applied"
    return None

"""Which Stakater products a workload runs, and at which version.

Recognition is driven by the matrix, with precision before recall (a wrong "end of
life" is the worst answer this product can give), in this order of trust:

1. the annotation ``support.stakater.com/product``;
2. matrix exclusions (workloads of Stakater's generic ``application`` chart are
   customer applications, never products);
3. for a ClusterServiceVersion, its OLM package name; for an OLM Subscription or
   InstallPlan, the package it installs (:mod:`.olm`);
4. for a Flux HelmRelease, an Argo CD Application or a kustomize ``helmCharts:``
   entry, its chart (name, and repository when known) mapped to a product by the matrix;
5. image repository, whatever registry host or mirror prefix precedes it;
6. a Deployment that OLM created for a matrix package (label ``olm.owner``);
7. labels, only vendor-specific ones (the matrix refuses generic rules), and never
   when the workload runs an image the matrix lists as another vendor's look-alike.

Version, first source that gives one (recorded in ``Detection.source``): the tag
of the image that made the match (or the CSV's version); for a label match, the tag of the workload's main
container; the ``olm.owner`` label of an OLM-created Deployment; the chart label
(``helm.sh/chart``/``chart``) through the matrix's chart-to-app map; labels the
matrix trusts (``versionLabels``); the ``support.stakater.com/version`` annotation
fills in only where none of these gives a version (it never overrides an image tag).
For a GitOps object: an image-tag override in the
values, else the chart version through the chart-to-app map (none: "pin the chart version"). For an
OLM Subscription: ``status.installedCSV``, else (:mod:`.olm_settle`) an InstallPlan or a CSV of its
package, else ``startingCSV`` under manual approval. A placeholder
(``0.0.0``) is not a version. Otherwise Unknown, with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...api.models import ChartRecognition, Edition
from ..compat.images import ImageRef, parse_image
from ..compat.matrix import CompiledMatrix, labels_match
from ..compat.versions import Version, parse_version
from .olm import SHOW_CSV, claims
from .workloads import ChartSource, WorkloadFacts

UNKNOWN = "Unknown"
_CHART_LABEL = re.compile(r"^(?P<name>.+?)-(?P<version>v?\d+(?:\.\d+){0,2}(?:[-+_][0-9A-Za-z.-]*)?)$")
_CHART_LABEL_KEYS = ("helm.sh/chart", "chart")
OLM_OWNER_LABEL = "olm.owner"
PIN_CHART = "pin the chart version"


@dataclass(frozen=True, slots=True)
class Detection:
    product: str
    edition: Edition | None
    version: Version | None
    via: str  # annotation, image, labels, olm, chart, subscription, installplan
    reason: str = ""  # why the version is unknown, when it is
    source: str = ""  # what gave the version, when there is one
    installation: str | None = None  # the ClusterServiceVersion an OLM-created Deployment belongs to
    action: str = ""  # what makes an unknown version known ("pin the chart version"), when it is not an upgrade
    open: bool = False  # an OLM Subscription's version that an InstallPlan or CSV of its package tells better
    matrix_behind: bool = False  # version unknown because a chart version is newer than the matrix maps

    @property
    def version_text(self) -> str:
        return str(self.version) if self.version else UNKNOWN


def _checked(version: Version | None, source: str, reason: str = "") -> tuple[Version | None, str, str]:
    """(version, source, reason), with placeholders such as 0.0.0 turned into Unknown."""
    if version is not None and version.core == (0, 0, 0):
        return None, "", f"{source} gives the placeholder version {version} (an unreleased build, not a release)"
    return version, (source if version else ""), ("" if version else reason)


def _version_from_tag(ref: ImageRef) -> tuple[Version | None, str]:
    if ref.tag is None:
        if ref.digest:
            return None, f"image {ref.raw!r} is pinned by digest only"
        return None, f"image {ref.raw!r} has no tag"
    version = parse_version(ref.tag)
    if version is None:
        return None, f"image tag {ref.tag!r} is not a version"
    return version, ""


def _olm_owner(labels: dict[str, str]) -> tuple[str, str] | None:
    """(package, version text) from an OLM-created Deployment's ``olm.owner: <package>.v<version>``."""
    owner = labels.get(OLM_OWNER_LABEL)
    if not owner or labels.get("olm.owner.kind", "ClusterServiceVersion") != "ClusterServiceVersion":
        return None
    package, sep, version = owner.partition(".v")
    return (package, version) if sep and package else None


MATRIX_BEHIND = "matrix behind: "  # how a reason starts when the matrix, not the input, is what is missing


def chart_app_version(chart: ChartRecognition, text: str | None) -> tuple[Version | None, str]:
    """The app version a chart version installs, by the matrix's map; (None, reason) when it cannot tell.

    A chart version newer than every version the map lists gives a reason starting with
    :data:`MATRIX_BEHIND` (see :func:`is_matrix_behind`): like an image newer than the newest release
    line, it is Stakater's item, never the customer's finding. Every chart source (Flux, Argo CD, chart
    labels, kustomize ``helmCharts``) goes through here."""
    if not text:
        return None, f"chart {chart.name} without a version (whatever was newest when it was installed)"
    version = parse_version(text)
    if version is None or version.parts < 3:
        return None, f"chart {chart.name} version {text!r} is a range, not one version"
    best = None
    for entry in chart.versions:
        line = parse_version(entry.chart)
        if line is None or not version.within(line):
            continue
        if best is None or line.parts > best[0].parts:
            best = (line, entry.app)
    if best is None:
        mapped = [v for v in (parse_version(e.chart) for e in chart.versions) if v is not None]
        newest = max(mapped, key=lambda v: v.core, default=None)
        if newest is not None and version.core > newest.core:
            return None, (
                f"{MATRIX_BEHIND}chart {chart.name} {version} is newer than the matrix's chart versions "
                f"(newest mapped: {newest})"
            )
        what = "a pre-release, not" if version.prerelease else "not"
        return None, f"chart {chart.name} {version} is {what} in the matrix's chart versions"
    app = parse_version(best[1]) if best[1] else version
    return app, ""


def is_matrix_behind(reason: str) -> bool:
    """True for a reason :func:`chart_app_version` gives when the chart is newer than the matrix maps."""
    return reason.startswith(MATRIX_BEHIND)


def _version_from_chart_label(
    matrix: CompiledMatrix, product: str, labels: dict[str, str]
) -> tuple[Version | None, str]:
    for key in _CHART_LABEL_KEYS:
        match = _CHART_LABEL.match(labels.get(key, ""))
        if not match:
            continue
        for owner, chart in matrix.charts_by_name.get(match["name"], ()):
            if owner == product:
                version, _ = chart_app_version(chart, match["version"])
                if version is not None:
                    return version, f"chart label {key}"
    return None, ""


def _fallback_version(
    matrix: CompiledMatrix, product: str, facts: WorkloadFacts, labels: dict[str, str], main_tag: bool
) -> tuple[Version | None, str]:
    """Version from the sources after the matching image, in the documented order."""
    if main_tag and facts.main_image:
        version = parse_version(parse_image(facts.main_image).tag)
        if version is not None:
            return version, "main container image tag"
    owner = _olm_owner(labels)
    if owner and matrix.olm_packages.get(owner[0]) == product:
        version = parse_version(owner[1])
        if version is not None:
            return version, f"label {OLM_OWNER_LABEL}"
    version, source = _version_from_chart_label(matrix, product, labels)
    if version is not None:
        return version, source
    for key in matrix.products[product].spec.recognition.version_labels:
        version = parse_version(labels.get(key))
        if version is not None:
            return version, f"label {key}"
    return None, ""


def _installation(matrix: CompiledMatrix, facts: WorkloadFacts, product: str, labels: dict[str, str]) -> str | None:
    owner = _olm_owner(labels)
    if owner and matrix.olm_packages.get(owner[0]) == product:
        return f"{facts.namespace}/ClusterServiceVersion/{labels[OLM_OWNER_LABEL]}"
    return None


def _match_image(matrix: CompiledMatrix, ref: ImageRef) -> tuple[str, Edition] | None:
    for repository, product, edition in matrix.images_by_name.get(ref.name, ()):
        if ref.path_ends_with(repository):
            return product, edition
    return None


def _by_images(matrix: CompiledMatrix, facts: WorkloadFacts, labels: dict[str, str]) -> list[Detection]:
    found: dict[str, Detection] = {}
    for image in facts.images:
        ref = parse_image(image)
        hit = _match_image(matrix, ref)
        if hit is None or hit[0] in found:
            continue
        product, edition = hit
        version, reason = _version_from_tag(ref)
        source = "image tag"
        if version is None and ref.tag is None:
            version, source = _fallback_version(matrix, product, facts, labels, main_tag=False)
            reason = "" if version else reason + ", and no other source gives the version"
        version, source, reason = _checked(version, source, reason)
        installation = _installation(matrix, facts, product, labels)
        # an OLM installation is reported as its CSV, which names no edition: one entry, not two
        found[product] = Detection(
            product, None if installation else edition, version, "image", reason, source, installation
        )
    return list(found.values())


def _runs_foreign_image(matrix: CompiledMatrix, facts: WorkloadFacts, product: str) -> bool:
    foreign = matrix.foreign_images.get(product)
    return bool(foreign) and any(parse_image(i).path_ends_with(r) for i in facts.images for r in foreign or ())


def _by_labels(matrix: CompiledMatrix, facts: WorkloadFacts, labels: dict[str, str]) -> list[Detection]:
    owner = _olm_owner(labels)
    if owner and owner[0] in matrix.olm_packages:  # created by OLM for a matrix package: the CSV says which
        product = matrix.olm_packages[owner[0]]
        version, source, reason = _checked(
            parse_version(owner[1]), f"label {OLM_OWNER_LABEL}", "no version in olm.owner"
        )
        return [Detection(product, None, version, "olm", reason, source, _installation(matrix, facts, product, labels))]
    for pattern, product in matrix.label_rules:
        if not labels_match(pattern, labels) or _runs_foreign_image(matrix, facts, product):
            continue
        version, source = _fallback_version(matrix, product, facts, labels, main_tag=True)
        version, source, reason = _checked(
            version, source, "recognised by labels; no image of the product and no source of its version"
        )
        return [Detection(product, None, version, "labels", reason, source)]
    return []


def _repository_key(url: str) -> str:
    text = url.strip().lower()
    for scheme in ("oci://", "https://", "http://"):
        text = text.removeprefix(scheme)
    return text.rstrip("/")


def _chart_is_products(chart: ChartRecognition, source: ChartSource) -> bool:
    if not chart.repositories or not source.repository:
        return True  # repository unknown (a Flux source outside the input): the chart name decides
    have = _repository_key(source.repository)
    return any(have == (want := _repository_key(r)) or have.startswith(want + "/") for r in chart.repositories)


def _by_charts(matrix: CompiledMatrix, facts: WorkloadFacts) -> list[Detection]:
    found: dict[str, Detection] = {}
    for source in facts.charts:
        for product, chart in matrix.charts_by_name.get(source.chart or "", ()):
            if product in found or not _chart_is_products(chart, source):
                continue
            tags = dict(source.tags)
            override = next((tags[path] for path in chart.image_tag_values if path in tags), None)
            if override is not None:
                version = parse_version(override)
                reason = "" if version else f"image tag {override!r} in the chart values is not a version"
                version, text, reason = _checked(version, "chart values image tag", reason)
            else:
                version, reason = chart_app_version(chart, source.version)
                version, text, reason = _checked(version, f"chart {chart.name} {source.version}", reason)
            action = PIN_CHART if version is None and not source.version else ""
            behind = version is None and is_matrix_behind(reason)
            found[product] = Detection(
                product, None, version, "chart", reason, text, action=action, matrix_behind=behind
            )
    return list(found.values())


def _by_olm_intent(matrix: CompiledMatrix, facts: WorkloadFacts) -> list[Detection]:
    """A Subscription's or InstallPlan's packages that the matrix knows (``via``: the kind, lower case).

    A version that is not final (not status.installedCSV) is filled in from an InstallPlan or a
    ClusterServiceVersion of the same package where one is in the namespace (:mod:`.olm_settle`)."""
    found: list[Detection] = []
    for claim in claims(facts):
        product = matrix.olm_packages.get(claim.package)
        if product is None:
            continue
        version, source, reason = _checked(parse_version(claim.version), claim.source, claim.reason)
        action = SHOW_CSV if version is None else ""
        found.append(
            Detection(product, None, version, facts.kind.lower(), reason, source, action=action, open=not claim.final)
        )
    return found


def _override(matrix: CompiledMatrix, facts: WorkloadFacts, labels: dict[str, str], product: str) -> list[Detection]:
    from_images = {d.product: d for d in _by_images(matrix, facts, labels)}
    others = [d for name, d in from_images.items() if name != product]  # an annotation hides no image
    if product in from_images:
        return [_with_annotated_version(from_images[product], facts, "annotation"), *others]
    if facts.version_override is not None:
        return [_with_annotated_version(Detection(product, None, None, "annotation"), facts), *others]
    if product not in matrix.products:
        reason = f"product {product!r} is not in matrix {matrix.name!r}"
        return [Detection(product, None, None, "annotation", reason), *others]
    version, source = _fallback_version(matrix, product, facts, labels, main_tag=False)
    version, source, reason = _checked(
        version, source, "annotated product without a version annotation or recognisable image"
    )
    return [Detection(product, None, version, "annotation", reason, source), *others]


def _with_annotated_version(detection: Detection, facts: WorkloadFacts, via: str | None = None) -> Detection:
    """``detection`` with the version from the ``support.stakater.com/version`` annotation, where it has none.

    The annotation fills in what the image cannot tell (``latest``, a digest); it never overrides a
    version read from the image, or any workload author could label an end-of-life version supported.
    """
    if facts.version_override is None or detection.version is not None:
        return detection
    version, source, reason = _checked(
        parse_version(facts.version_override),
        "annotation support.stakater.com/version",
        f"annotation version {facts.version_override!r} is not a version",
    )
    return Detection(
        detection.product, detection.edition, version, via or detection.via, reason, source, detection.installation
    )


def _recognise(matrix: CompiledMatrix, facts: WorkloadFacts, labels: dict[str, str]) -> list[Detection]:
    if facts.olm_package and facts.olm_package in matrix.olm_packages:
        # A ClusterServiceVersion: its package and version are explicit, whatever its labels say.
        product = matrix.olm_packages[facts.olm_package]
        version, source, reason = _checked(
            parse_version(facts.olm_version),
            "ClusterServiceVersion",
            f"ClusterServiceVersion {facts.name!r} carries no version",
        )
        return [Detection(product, None, version, "olm", reason, source)]
    if facts.charts:
        return _by_charts(matrix, facts)
    if facts.olm is not None:
        return _by_olm_intent(matrix, facts)
    return _by_images(matrix, facts, labels) or _by_labels(matrix, facts, labels)


def detect(matrix: CompiledMatrix, facts: WorkloadFacts) -> list[Detection]:
    """Products in ``facts`` according to ``matrix``; never raises on odd input."""
    labels = facts.label_map()
    product = (facts.product_override or "").strip()
    if product:
        return _override(matrix, facts, labels, product)
    if any(labels_match(pattern, labels) for _, pattern in matrix.exclusions):
        # A customer application by its labels: not recognised by labels, and its labels carry the
        # customer's versions; but an image the matrix knows is that product whatever the labels say.
        return _by_images(matrix, facts, {})
    found = _recognise(matrix, facts, labels)
    if facts.version_override is not None and len(found) == 1:
        # The version annotation fills in the version of the one product found (e.g. a `latest` tag).
        return [_with_annotated_version(found[0], facts)]
    return found


def installation_ref(ref: str, detection: Detection) -> str:
    """The workload reference to report: an OLM-created Deployment counts as its ClusterServiceVersion."""
    return detection.installation or ref

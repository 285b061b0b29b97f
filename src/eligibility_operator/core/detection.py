"""Which Stakater products a workload runs, and at which version.

Recognition is driven by the matrix, in this order of trust:

1. the annotation ``support.stakater.com/product``;
2. matrix exclusions (workloads of Stakater's generic ``application`` chart are
   customer applications, never products);
3. for a ClusterServiceVersion, its OLM package name;
4. image repository, whatever registry host or mirror prefix precedes it;
5. labels.

Version: the ``support.stakater.com/version`` annotation, else the image tag
(or the CSV's version), else (digest-only images, label recognition) a label the
matrix marks as trustworthy, else Unknown with a reason. Labels never win over an image tag:
Forecastle's ``version`` label is its chart version, Konfigurator's is stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..api.models import Edition
from .images import ImageRef, parse_image
from .matrix import CompiledMatrix, labels_match
from .versions import Version, parse_version
from .workloads import WorkloadFacts

UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class Detection:
    product: str
    edition: Edition | None
    version: Version | None
    via: str  # annotation, image, labels, olm
    reason: str = ""  # why the version is unknown, when it is

    @property
    def version_text(self) -> str:
        return str(self.version) if self.version else UNKNOWN


def _version_from_tag(ref: ImageRef) -> tuple[Version | None, str]:
    if ref.tag is None:
        if ref.digest:
            return None, f"image {ref.raw!r} is pinned by digest only"
        return None, f"image {ref.raw!r} has no tag"
    version = parse_version(ref.tag)
    if version is None:
        return None, f"image tag {ref.tag!r} is not a version"
    return version, ""


def _version_from_labels(matrix: CompiledMatrix, product: str, labels: dict[str, str]) -> Version | None:
    for key in matrix.products[product].spec.recognition.version_labels:
        version = parse_version(labels.get(key))
        if version is not None:
            return version
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
        if version is None and ref.tag is None:
            version = _version_from_labels(matrix, product, labels)
            reason = "" if version else reason + " and no trusted version label is set"
        found[product] = Detection(product, edition, version, "image", reason)
    return list(found.values())


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
    version = _version_from_labels(matrix, product, labels)
    reason = "" if version else "annotated product without a version annotation or recognisable image"
    return [Detection(product, None, version, "annotation", reason), *others]


def _with_annotated_version(detection: Detection, facts: WorkloadFacts, via: str | None = None) -> Detection:
    """``detection`` with the version from the ``support.stakater.com/version`` annotation, where it has none.

    The annotation fills in what the image cannot tell (``latest``, a digest); it never overrides a
    version read from the image, or any workload author could label an end-of-life version supported.
    """
    if facts.version_override is None or detection.version is not None:
        return detection
    version = parse_version(facts.version_override)
    reason = "" if version else f"annotation version {facts.version_override!r} is not a version"
    return Detection(detection.product, detection.edition, version, via or detection.via, reason)


def _recognise(matrix: CompiledMatrix, facts: WorkloadFacts, labels: dict[str, str]) -> list[Detection]:
    if facts.olm_package and facts.olm_package in matrix.olm_packages:
        # A ClusterServiceVersion: its package and version are explicit, whatever its labels say.
        product = matrix.olm_packages[facts.olm_package]
        version = parse_version(facts.olm_version)
        reason = "" if version else f"ClusterServiceVersion {facts.name!r} carries no version"
        return [Detection(product, None, version, "olm", reason)]
    found = _by_images(matrix, facts, labels)
    if found:
        return found
    for pattern, product in matrix.label_rules:
        if labels_match(pattern, labels):
            version = _version_from_labels(matrix, product, labels)
            reason = "" if version else "recognised by labels; no image of the product and no trusted version label"
            return [Detection(product, None, version, "labels", reason)]
    return []


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

"""The CompatibilityMatrix: products (how to recognise them, their release lines), platform lines,
exclusions, the optional ``spec.source``, and its status (:mod:`.models` re-exports all of it)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from .common import _EMPTY_OBJECT_DEFAULT, Condition, Edition, Name, _Model, _Status

# ------------------------------------------------------------- CompatibilityMatrix

# A version ('2.0.1') or a release line of them ('1.4' covers 1.4.x): releases, chart and app versions.
VersionOrLine = Annotated[str, Field(pattern=r"^v?\d{1,9}(\.\d{1,9}){0,2}$")]


class ImageRecognition(_Model):
    repository: Name = Field(
        description="Image repository path without registry host, e.g. stakater/reloader. "
        "Matches any registry or mirror prefix; a path that starts with a registry host (ghcr.io/...) is refused."
    )
    edition: Edition = Field(default=Edition.COMMUNITY, description="Edition this image belongs to.")


class ChartVersion(_Model):
    chart: VersionOrLine = Field(
        description="A chart version ('2.2.16') or a line of them ('1.0' covers 1.0.x); exact versions win."
    )
    app: VersionOrLine | None = Field(
        default=None, description="App version this chart version installs; absent: the same as the chart version."
    )


class ChartRecognition(_Model):
    name: Name = Field(description="Helm chart name, e.g. reloader.")
    repositories: list[str] = Field(
        default_factory=list,
        description="The product's chart repositories, as URL prefixes (https://stakater.github.io/stakater-charts, "
        "oci://ghcr.io/stakater/charts). A chart of this name from another repository is not the product; "
        "a chart whose repository is not known (a Flux HelmRepository that is not in the input) is.",
    )
    versions: list[ChartVersion] = Field(
        default_factory=list,
        description="Which chart versions install which app version (from the published charts' appVersion). "
        "A chart version not covered here gives the version Unknown.",
    )
    image_tag_values: list[str] = Field(
        default_factory=list,
        description="Dotted paths of chart values that override the image tag (e.g. image.tag); they win over "
        "the chart version.",
    )


class Recognition(_Model):
    images: list[ImageRecognition] = Field(default_factory=list, description="Image repositories (strongest signal).")
    labels: list[dict[str, str]] = Field(
        default_factory=list,
        description="Label sets; a workload matches when all labels of one set match. Values may end in '*'. "
        "Each set must hold a label specific to the vendor (a chart, provider, part-of or managed-by label): "
        "a generic name alone (app, app.kubernetes.io/name) is refused, other vendors use the same names.",
    )
    version_labels: list[str] = Field(
        default_factory=list,
        description="Labels trusted to carry the app version, used only when no image tag gives it.",
    )
    olm_packages: list[str] = Field(
        default_factory=list,
        description="OLM package names (ClusterServiceVersion prefix); Deployments OLM creates for them "
        "(label olm.owner) take the CSV's version.",
    )
    foreign_images: list[Name] = Field(
        default_factory=list,
        description="Image repositories of other vendors' look-alikes (e.g. external-secrets-inc/reloader): a "
        "workload running one is never this product, whatever its labels say.",
    )
    charts: list[ChartRecognition] = Field(
        default_factory=list,
        description="Helm charts of the product, for Flux HelmReleases and Argo CD Applications.",
    )


class Release(_Model):
    version: VersionOrLine = Field(description="A release line ('1.4' matches 1.4.x) or an exact version ('2.0.1').")
    released: dt.date | None = Field(
        default=None, description="Release date of the line's first version; absent when it could not be verified."
    )
    end_of_support: dt.date | None = Field(default=None, description="End of support; absent while supported.")
    latest: str | None = Field(default=None, description="Latest version in this line.")
    source: str | None = Field(
        default=None, description="Where the dates and the latest version come from (tags, chart index, bundles)."
    )


class VersionRange(_Model):
    min: str | None = Field(default=None, description="Lowest supported version, inclusive (e.g. 1.19).")
    max: str | None = Field(
        default=None,
        description="Highest supported version, inclusive (e.g. 4.18). A cluster newer than it, on a line newer "
        "than every line the matrix knows (spec.platforms, and every product's max), is the matrix behind "
        "(Stakater's item), not a finding.",
    )


class Compatibility(_Model):
    kubernetes: VersionRange | None = Field(default=None, description="Supported Kubernetes versions.")
    openshift: VersionRange | None = Field(default=None, description="Supported OpenShift versions.")


class MatrixProduct(_Model):
    name: Annotated[str, Field(pattern="^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)] = Field(
        description="Product name, referenced by engagements."
    )
    display_name: str | None = Field(default=None, description="Human-readable name.")
    recognition: Recognition = Field(default_factory=Recognition, description="How to find the product in a cluster.")
    releases: list[Release] = Field(default_factory=list, description="Release lines with lifecycle dates.")
    recommended_version: str | None = Field(default=None, description="Upgrade target to recommend.")
    compatibility: Compatibility = Field(default_factory=Compatibility, description="Supported platforms.")
    integrations: list[str] = Field(default_factory=list, description="Documented integrations (in scope).")
    third_party_dependencies: list[str] = Field(
        default_factory=list, description="Upstream dependencies whose resolution times Stakater cannot guarantee."
    )


class Exclusion(_Model):
    name: Name = Field(description="What this exclusion is, e.g. stakater-application-chart.")
    labels: dict[str, str] = Field(
        description="Workloads whose labels all match (values may end in '*') are customer applications."
    )


class PlatformRelease(_Model):
    version: Annotated[str, Field(pattern=r"^v?\d{1,9}\.\d{1,9}$")] = Field(
        description="A platform release line, major.minor (e.g. 1.34 or 4.18)."
    )
    released: dt.date = Field(description="General availability of the line.")
    end_of_maintenance: dt.date | None = Field(default=None, description="End of maintenance; absent while maintained.")


class PlatformLifecycles(_Model):
    kubernetes: list[PlatformRelease] = Field(default_factory=list, description="Kubernetes release lines.")
    openshift: list[PlatformRelease] = Field(
        default_factory=list, description="OpenShift release lines (judged instead of Kubernetes on OpenShift)."
    )


class CompatibilityMatrixSpec(_Model):
    products: list[MatrixProduct] = Field(description="Products this matrix knows.")
    platforms: PlatformLifecycles = Field(
        default_factory=PlatformLifecycles,
        json_schema_extra=_EMPTY_OBJECT_DEFAULT,
        description="Platform release lines with their end of maintenance; a cluster on an unmaintained "
        "line is a finding with its owner. Lines not listed are not judged.",
    )
    customer_applications: list[Exclusion] = Field(
        default_factory=list,
        description="Workloads that are customer applications, never products (e.g. Stakater's application chart).",
    )


# Durations such as 30s, 15m, 6h, 7d or 1h30m (spec.source.interval, maxAge).
DURATION_PATTERN = r"^([0-9]{1,6}(s|m|h|d)){1,4}$"
Duration = Annotated[str, Field(pattern=DURATION_PATTERN, max_length=32)]


class MatrixSource(_Model):
    """Where the operator fetches this matrix's document, and what the document must satisfy."""

    url: Annotated[str, Field(pattern=r"^(https|oci)://[^\s]+$", max_length=1024)] = Field(
        description="https://host/path/matrix.yaml (signature at the same URL + .sig) or "
        "oci://registry/repository:tag (document and signature as layers of one artifact)."
    )
    interval: Duration = Field(default="6h", description="How often to fetch, e.g. 6h, 30m.")
    max_age: Duration = Field(
        default="7d", description="The matrix is Stale (condition Current=False) when the last good fetch is older."
    )
    timeout: Duration = Field(
        default="30s",
        description="Wall-clock limit for one whole fetch (document and signature, every connection, redirect "
        "and read, however slowly the source sends); past it the fetch fails with reason TimedOut.",
    )
    digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")] | None = Field(
        default=None, description="Pinned sha256:<hex> of the document: only that exact document is applied."
    )
    public_key: Annotated[str, Field(pattern=r"-----BEGIN PUBLIC KEY-----", max_length=4096)] | None = Field(
        default=None,
        description="Ed25519 public key (PEM) whose detached signature the document must carry. "
        "A source needs digest or publicKey; a document failing either is never applied.",
    )
    ca_bundle: Annotated[str, Field(max_length=65536)] | None = Field(
        default=None, description="PEM CA certificates to trust for this source instead of the system's."
    )


class CompatibilityMatrixObjectSpec(CompatibilityMatrixSpec):
    """The applied spec: the matrix itself, or (with ``source``) only where to fetch it."""

    products: list[MatrixProduct] = Field(
        default_factory=list, description="Products this matrix knows; required unless spec.source is set."
    )
    source: MatrixSource | None = Field(
        default=None,
        description="Fetch the matrix document from here instead (then products, platforms and "
        "customerApplications must be empty: the fetched document supplies them).",
    )


class CompatibilityMatrixStatus(_Status):
    observed_generation: int | None = Field(default=None, description="Spec generation last validated.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready tells whether the matrix is valid; with spec.source also Fetched (the last attempt) "
        "and Current (the copy in use is the source's latest and younger than maxAge).",
    )
    products: int = Field(default=0, description="Number of products in the matrix.")
    revision: str | None = Field(default=None, description="sha256 digest of the fetched document in use.")
    last_fetched: dt.datetime | None = Field(default=None, description="Last successful fetch of spec.source.")
    last_changed: dt.datetime | None = Field(default=None, description="When the fetched document last changed.")

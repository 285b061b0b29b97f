"""Product and version detection against the default matrix, from realistic workloads."""

from __future__ import annotations

from typing import Any

import pytest

from eligibility_operator.api.models import Edition
from eligibility_operator.core.compat.matrix import CompiledMatrix
from eligibility_operator.core.compat.versions import parse_version
from eligibility_operator.core.products.detection import Detection, detect
from eligibility_operator.core.products.workloads import WorkloadFacts, facts_from_object

from ..builders import DIGEST, default_compiled
from ..builders import manifest as workload

MATRIX: CompiledMatrix = default_compiled()


def run(obj: dict[str, Any]) -> list[Detection]:
    facts = facts_from_object(obj)
    assert facts is not None, "expected a workload"
    return detect(MATRIX, facts)


def only(obj: dict[str, Any]) -> Detection:
    found = run(obj)
    assert len(found) == 1, found
    return found[0]


def v(text: str) -> Any:
    version = parse_version(text)
    assert version is not None
    return version


# ------------------------------------------------------------------------ facts


def test_facts_of_a_deployment() -> None:
    obj = workload(
        "ghcr.io/stakater/reloader:v1.4.21",
        "busybox:1.36",
        name="reloader-reloader",
        namespace="tools",
        labels={"app": "reloader-reloader", "app.kubernetes.io/name": "reloader"},
        pod_labels={"app": "reloader-reloader", "pod-only": "yes"},
        annotations={"support.stakater.com/product": "reloader", "support.stakater.com/version": "1.4.21"},
        init_images=("ghcr.io/stakater/reloader:v1.4.21", "alpine:3"),
    )
    facts = facts_from_object(obj)
    assert facts == WorkloadFacts(
        namespace="tools",
        kind="Deployment",
        name="reloader-reloader",
        # init containers first, duplicates dropped
        images=("ghcr.io/stakater/reloader:v1.4.21", "alpine:3", "busybox:1.36"),
        labels=(("app", "reloader-reloader"), ("app.kubernetes.io/name", "reloader"), ("pod-only", "yes")),
        product_override="reloader",
        version_override="1.4.21",
        main_image="ghcr.io/stakater/reloader:v1.4.21",
    )
    assert facts.ref == "tools/Deployment/reloader-reloader"
    assert facts.key == ("tools", "Deployment", "reloader-reloader")


def test_facts_namespace_defaults_when_missing() -> None:
    facts = facts_from_object(workload("nginx", namespace=None))
    assert facts is not None
    assert facts.namespace == "default"
    facts = facts_from_object(workload("nginx", namespace=None), default_namespace="ci")
    assert facts is not None
    assert facts.namespace == "ci"


def test_pod_template_annotations_are_overrides_too() -> None:
    obj = workload("myorg/thing:1")
    obj["spec"]["template"]["metadata"]["annotations"] = {"support.stakater.com/product": "forecastle"}
    facts = facts_from_object(obj)
    assert facts is not None
    assert facts.product_override == "forecastle"


def test_workload_labels_win_over_pod_labels() -> None:
    facts = facts_from_object(workload("x", labels={"app": "meta"}, pod_labels={"app": "pod"}))
    assert facts is not None
    assert facts.label_map() == {"app": "meta"}


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet"])
def test_workload_kinds(kind: str) -> None:
    det = only(workload("ghcr.io/stakater/reloader:v1.4.21", kind=kind))
    assert (det.product, det.version) == ("reloader", v("1.4.21"))


@pytest.mark.parametrize(
    "obj",
    [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"image": "x"}]}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "reloader"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"image": "stakater/reloader"}},
        {"kind": "Deployment", "metadata": {}},  # no name
        {"kind": "Deployment", "metadata": {"name": ""}},
        {"kind": 7, "metadata": {"name": "x"}},
        {"metadata": {"name": "x"}},
        {},
    ],
)
def test_non_workloads_yield_no_facts(obj: dict[str, Any]) -> None:
    assert facts_from_object(obj) is None


def test_mistyped_fields_yield_fewer_facts_not_errors() -> None:
    obj = {
        "kind": "Deployment",
        "metadata": {"name": "odd", "namespace": 5, "labels": ["a"], "annotations": "x"},
        "spec": {"template": {"spec": {"containers": [None, "img", {"image": 3}, {"image": "stakater/reloader:v1"}]}}},
    }
    facts = facts_from_object(obj)
    assert facts == WorkloadFacts(
        namespace="default", kind="Deployment", name="odd", images=("stakater/reloader:v1",), labels=()
    )


# ------------------------------------------------------------------- by image


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("ghcr.io/stakater/reloader:v1.4.21", "1.4.21"),
        ("stakater/reloader:v1.4.21-ubi", "1.4.21"),
        ("docker.io/stakater/reloader:v1.3.0", "1.3.0"),
        ("registry.example.internal:5000/mirror/stakater/reloader:v1.4.21", "1.4.21"),
        ("artifactory.corp:8443/docker-remote/ghcr.io/stakater/reloader:v1.2.0", "1.2.0"),
    ],
)
def test_reloader_recognised_through_registries_and_mirrors(image: str, version: str) -> None:
    det = only(workload(image))
    assert (det.product, det.edition, det.via, det.reason) == ("reloader", Edition.COMMUNITY, "image", "")
    assert det.version is not None
    assert det.version.core == v(version).core
    assert det.version_text == version


def test_enterprise_edition_from_enterprise_image() -> None:
    det = only(workload("ghcr.io/stakater/reloader-enterprise:v1.4.16-ubi"))
    assert det.product == "reloader"
    assert det.edition == Edition.ENTERPRISE
    assert det.version == v("1.4.16-ubi")
    assert det.version_text == "1.4.16"


def test_lookalike_repositories_are_not_products() -> None:
    assert run(workload("ghcr.io/acme/reloader:v1.4.21")) == []
    assert run(workload("ghcr.io/stakater/reloader-fork:v1.4.21")) == []
    assert run(workload("nginx:1.27", "ghcr.io/stakater/public/mto/mto-console:1.0.246")) == []


def test_multi_tenant_operator_image() -> None:
    det = only(workload("ghcr.io/stakater/public/mto/tenant-operator:v1.9.0", name="tenant-operator-tenant-controller"))
    assert (det.product, det.version, det.via) == ("multi-tenant-operator", v("1.9.0"), "image")


def test_two_products_in_one_workload() -> None:
    found = run(workload("stakater/forecastle:v2.0.1", "ghcr.io/stakater/reloader:v1.4.21"))
    assert sorted((d.product, str(d.version)) for d in found) == [("forecastle", "2.0.1"), ("reloader", "1.4.21")]


def test_same_product_twice_in_one_workload_counts_once_first_image_wins() -> None:
    found = run(workload("ghcr.io/stakater/reloader:v1.4.21", "stakater/reloader:v1.3.0"))
    assert [(d.product, str(d.version)) for d in found] == [("reloader", "1.4.21")]


def test_init_container_image_is_detected() -> None:
    det = only(workload("myorg/app:2.0", init_images=("stakater/reloader:v1.3.0",)))
    assert (det.product, det.version, det.via) == ("reloader", v("1.3.0"), "image")


@pytest.mark.parametrize("tag", ["latest", "merge-123", "main"])
def test_non_version_tag_gives_unknown_version_with_reason(tag: str) -> None:
    det = only(
        workload(
            f"ghcr.io/stakater/reloader:{tag}",
            # a trusted version label is NOT used when the image carries a tag
            labels={"app.kubernetes.io/name": "reloader", "app.kubernetes.io/version": "v1.4.21"},
        )
    )
    assert det.product == "reloader"
    assert det.version is None
    assert det.version_text == "Unknown"
    assert f"'{tag}'" in det.reason
    assert "not a version" in det.reason


def test_untagged_image_without_label_has_reason() -> None:
    det = only(workload("ghcr.io/stakater/reloader"))
    assert det.version is None
    assert det.reason == "image 'ghcr.io/stakater/reloader' has no tag, and no other source gives the version"


# ------------------------------------------------------- digests and labels


def test_digest_only_imc_uses_trusted_version_label() -> None:
    det = only(
        workload(
            f"ghcr.io/stakater/ingressmonitorcontroller@{DIGEST}",
            name="ingressmonitorcontroller",
            labels={
                "helm.sh/chart": "ingressmonitorcontroller-2.2.12",
                "app.kubernetes.io/name": "ingressmonitorcontroller",
                "app.kubernetes.io/version": "2.2.12",
                "app.kubernetes.io/managed-by": "helm",
            },
        )
    )
    assert det == Detection(
        "ingressmonitorcontroller", Edition.COMMUNITY, v("2.2.12"), "image", "", "chart label helm.sh/chart"
    )


def test_digest_only_forecastle_ignores_chart_version_label() -> None:
    image = f"stakater/forecastle@{DIGEST}"
    det = only(
        workload(
            image,
            name="forecastle",
            labels={
                "app": "forecastle",
                "group": "com.stakater.platform",
                "provider": "stakater",
                "version": "1.5.0",  # the CHART version
                "chart": "forecastle-1.5.0",
            },
        )
    )
    # the `version` label (the chart version) is not trusted; the chart label maps chart 1.5.0 to app 2.0.1
    assert (det.product, det.version, det.source) == ("forecastle", v("2.0.1"), "chart label chart")


def test_konfigurator_stale_version_label_does_not_win_over_tag() -> None:
    det = only(
        workload(
            "stakater/konfigurator:v0.1.39",
            name="konfigurator",
            labels={"app": "konfigurator", "provider": "stakater", "version": "v0.1.2", "chart": "konfigurator-0.1.39"},
        )
    )
    assert det.version == v("0.1.39")
    assert str(det.version) == "0.1.39"


def test_tag_wins_over_trusted_label() -> None:
    det = only(
        workload(
            "ghcr.io/stakater/reloader:v1.4.19",
            labels={"app.kubernetes.io/name": "reloader", "app.kubernetes.io/version": "v1.4.21"},
        )
    )
    assert det.version == v("1.4.19")


@pytest.mark.parametrize(
    ("labels", "version", "source"),
    [
        # older chart: no app.kubernetes.io labels; a label match takes the main container's tag
        (
            {
                "app": "reloader-reloader",
                "group": "com.stakater.platform",
                "provider": "stakater",
                "version": "v1.0.0",
                "chart": "reloader-1.0.0",
            },
            "1.0.0",
            "main container image tag",
        ),
        # current chart: the chart label is Stakater's
        (
            {"app.kubernetes.io/name": "reloader", "chart": "reloader-2.2.16", "app.kubernetes.io/version": "v1.4.21"},
            "1.0.0",
            "main container image tag",
        ),
    ],
)
def test_labels_fallback_when_image_is_not_recognised(labels: dict[str, str], version: str, source: str) -> None:
    det = only(workload("internal.registry/forks/config-watcher:v1.0.0", labels=labels))
    assert (det.product, det.via, det.edition) == ("reloader", "labels", None)
    assert (det.version, det.source, det.reason) == (v(version), source, "")


def test_label_match_with_digest_main_container_takes_the_chart_label_then_version_labels() -> None:
    labels = {"app.kubernetes.io/name": "reloader", "chart": "reloader-2.2.16", "app.kubernetes.io/version": "v1.4.0"}
    det = only(workload("mirror.example/tools/watcher@sha256:" + "a" * 64, labels=labels))
    assert (det.version, det.source) == (v("1.4.21"), "chart label chart")  # chart 2.2.16 installs 1.4.21
    labels["chart"] = "reloader-9.9.9"  # not in the chart map: the trusted version label
    det = only(workload("mirror.example/tools/watcher@sha256:" + "a" * 64, labels=labels))
    assert (det.version, det.source) == (v("1.4.0"), "label app.kubernetes.io/version")


@pytest.mark.parametrize(
    "labels",
    [
        {"app": "reloader-reloader"},  # plain manifests: a generic name alone
        {"app.kubernetes.io/name": "reloader", "app.kubernetes.io/version": "v0.2.0"},  # anybody's "reloader"
        {"app.kubernetes.io/name": "reloader", "helm.sh/chart": "reloader-0.0.5"},  # External Secrets' chart
    ],
)
def test_generic_labels_alone_recognise_nothing(labels: dict[str, str]) -> None:
    assert run(workload("ghcr.io/external-secrets-inc/reloader:v0.2.0", labels=labels)) == []
    assert run(workload("controller:latest", labels=labels)) == []


def test_partial_label_set_does_not_match() -> None:
    # the old-chart rule needs both app: reloader and provider: stakater
    assert run(workload("internal/x:1", labels={"app": "reloader"})) == []


# ---------------------------------------------------------------- exclusions


def test_stakater_application_chart_workload_is_not_a_product() -> None:
    obj = workload(
        "registry.corp/shop/frontend:v1.4.21",
        labels={
            "helm.sh/chart": "application-9.2.0",
            "app.kubernetes.io/name": "reloader",
            "app.kubernetes.io/version": "v1.4.21",
        },
    )
    assert run(obj) == []


def test_application_chart_label_cannot_hide_a_recognised_image() -> None:
    obj = workload(
        "ghcr.io/stakater/reloader@" + DIGEST,
        labels={"helm.sh/chart": "application-9.2.0", "app.kubernetes.io/version": "v1.4.21"},
    )
    det = only(obj)
    assert (det.product, det.via) == ("reloader", "image")
    assert det.version is None  # the chart's version label is the customer's, never trusted


def test_exclusion_needs_the_application_chart_not_any_chart() -> None:
    obj = workload("ghcr.io/stakater/reloader:v1.4.21", labels={"helm.sh/chart": "reloader-2.2.16"})
    assert [d.product for d in run(obj)] == ["reloader"]


# ---------------------------------------------------------------- annotations


def test_version_annotation_overrides_tag() -> None:
    det = only(
        workload(
            "ghcr.io/stakater/reloader:latest",
            annotations={"support.stakater.com/product": "reloader", "support.stakater.com/version": "v1.4.21"},
        )
    )
    assert det == Detection(
        "reloader", Edition.COMMUNITY, v("1.4.21"), "annotation", "", "annotation support.stakater.com/version"
    )


def test_product_annotation_wins_over_exclusion() -> None:
    det = only(
        workload(
            "registry.corp/platform/reloader-build:2024",
            labels={"helm.sh/chart": "application-9.2.0"},
            annotations={"support.stakater.com/product": "reloader", "support.stakater.com/version": "1.3.0"},
        )
    )
    assert (det.product, det.edition, det.version, det.via) == ("reloader", None, v("1.3.0"), "annotation")


def test_product_annotation_alone_uses_image_detection() -> None:
    det = only(
        workload(
            "ghcr.io/stakater/reloader-enterprise:v1.4.9", annotations={"support.stakater.com/product": "reloader"}
        )
    )
    assert det == Detection("reloader", Edition.ENTERPRISE, v("1.4.9"), "image", "", "image tag")


def test_product_annotation_hides_no_recognised_image() -> None:
    found = run(
        workload(
            "ghcr.io/stakater/reloader:v1.2.0",
            "stakater/forecastle:v2.0.1",
            annotations={"support.stakater.com/product": "forecastle"},
        )
    )
    assert [(d.product, d.version) for d in found] == [("forecastle", v("2.0.1")), ("reloader", v("1.2.0"))]


def test_version_annotation_never_overrides_a_tag() -> None:
    for notes in (
        {"support.stakater.com/version": "1.4.21"},
        {"support.stakater.com/product": "reloader", "support.stakater.com/version": "1.4.21"},
    ):
        det = only(workload("ghcr.io/stakater/reloader:v1.1.0", annotations=notes))
        assert (det.version, det.via) == (v("1.1.0"), "image")


def test_product_annotation_without_image_or_version() -> None:
    det = only(workload("registry.corp/x:1", annotations={"support.stakater.com/product": "konfigurator"}))
    assert (det.product, det.version, det.via) == ("konfigurator", None, "annotation")
    assert det.reason == "annotated product without a version annotation or recognisable image"


def test_product_annotation_falls_back_to_trusted_version_label() -> None:
    det = only(
        workload(
            "registry.corp/x:1",
            labels={"app.kubernetes.io/version": "2.2.12"},
            annotations={"support.stakater.com/product": "ingressmonitorcontroller"},
        )
    )
    assert (det.product, det.version, det.reason) == ("ingressmonitorcontroller", v("2.2.12"), "")


def test_annotated_product_not_in_matrix() -> None:
    det = only(workload("registry.corp/x:1", annotations={"support.stakater.com/product": "tronador"}))
    assert (det.product, det.version, det.via) == ("tronador", None, "annotation")
    assert det.reason == "product 'tronador' is not in matrix 'default'"


def test_unparseable_version_annotation() -> None:
    det = only(
        workload(
            "ghcr.io/stakater/reloader:v1.4.21",
            annotations={"support.stakater.com/product": "reloader", "support.stakater.com/version": "stable"},
        )
    )
    assert (det.version, det.reason) == (v("1.4.21"), "")  # the tag is a version: the annotation is not needed
    det = only(
        workload(
            "ghcr.io/stakater/reloader:latest",
            annotations={"support.stakater.com/product": "reloader", "support.stakater.com/version": "stable"},
        )
    )
    assert det.version is None
    assert det.edition == Edition.COMMUNITY
    assert det.reason == "annotation version 'stable' is not a version"


def test_version_annotation_alone_overrides_non_version_tag() -> None:
    det = only(workload("ghcr.io/stakater/reloader:latest", annotations={"support.stakater.com/version": "1.4.21"}))
    assert det.version == v("1.4.21")


def test_blank_product_annotation_is_no_override() -> None:
    det = only(workload("ghcr.io/stakater/reloader:v1.4.21", annotations={"support.stakater.com/product": " "}))
    assert det.product == "reloader"


def test_opted_out_and_unrelated_workloads() -> None:
    assert run(workload("nginx:1.27", "quay.io/prometheus/prometheus:v2.55.1")) == []
    assert run(workload()) == []


# ---------------------------------------------------------------- OLM


def csv(name: str, namespace: str = "multi-tenant-operator", **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "ClusterServiceVersion",
        "metadata": {"name": name, "namespace": namespace, **extra.pop("metadata", {})},
        "spec": extra.pop("spec", {}),
    }
    return obj


def test_csv_recognised_by_olm_package() -> None:
    det = only(csv("tenant-operator.v1.9.0", spec={"version": "1.9.0"}))
    assert det == Detection("multi-tenant-operator", None, v("1.9.0"), "olm", "", "ClusterServiceVersion")


def test_csv_version_from_name_when_spec_has_none() -> None:
    facts = facts_from_object(csv("ingressmonitorcontroller.v2.2.12", namespace="operators"))
    assert facts is not None
    assert (facts.olm_package, facts.olm_version) == ("ingressmonitorcontroller", "2.2.12")
    assert detect(MATRIX, facts) == [
        Detection("ingressmonitorcontroller", None, v("2.2.12"), "olm", "", "ClusterServiceVersion")
    ]


def test_csv_spec_version_wins_over_name() -> None:
    det = only(csv("tenant-operator.v1.9.0", spec={"version": "1.8.3"}))
    assert det.version == v("1.8.3")


def test_copied_csv_is_ignored() -> None:
    obj = csv(
        "tenant-operator.v1.9.0",
        namespace="team-a",
        metadata={"labels": {"olm.copiedFrom": "multi-tenant-operator"}},
        spec={"version": "1.9.0"},
    )
    assert facts_from_object(obj) is None


def test_csv_of_unknown_package_and_without_version() -> None:
    assert run(csv("cert-manager.v1.15.0", namespace="cert-manager")) == []
    det = only(csv("tenant-operator", spec={}))
    assert det.version is None
    assert det.reason == "ClusterServiceVersion 'tenant-operator' carries no version"

"""Recognition of GitOps objects (Flux, Argo CD) and OLM-created Deployments, on inputs of our own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from eligibility_operator.api.models import SupportEngagementSpec
from eligibility_operator.core.products.detection import chart_app_version, detect
from eligibility_operator.core.products.gitops import gitops_facts, resolve_sources
from eligibility_operator.core.products.workloads import facts_from_object
from eligibility_operator.core.verdict.evaluation import Platform, evaluate
from eligibility_operator.offline.check import check
from eligibility_operator.offline.manifests import read_manifests

from ..builders import TODAY, default_compiled, engagement_spec
from ..builders import manifest as workload

MATRIX = default_compiled()
DIGEST = "sha256:" + "ab" * 32


def found(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    facts = facts_from_object(obj) or gitops_facts(obj)
    assert facts is not None
    return [(d.product, d.version_text, d.source or d.reason) for d in detect(MATRIX, facts)]


def helm_release(version: str | None, values: dict[str, Any] | None = None, api: str = "v2") -> dict[str, Any]:
    chart: dict[str, Any] = {"chart": "reloader", "sourceRef": {"kind": "HelmRepository", "name": "stakater"}}
    if version is not None:
        chart["version"] = version
    return {
        "apiVersion": f"helm.toolkit.fluxcd.io/{api}",
        "kind": "HelmRelease",
        "metadata": {"name": "reloader", "namespace": "flux-system"},
        "spec": {"chart": {"spec": chart}, "targetNamespace": "tools", "values": values or {}},
    }


def test_helm_release_versions_map_through_the_chart_index() -> None:
    assert found(helm_release("2.2.16")) == [("reloader", "1.4.21", "chart reloader 2.2.16")]
    assert found(helm_release("v1.0.71", api="v2beta1")) == [("reloader", "1.0.71", "chart reloader v1.0.71")]
    values = {"image": {"tag": "v1.4.19"}}
    assert found(helm_release("2.2.16", values)) == [("reloader", "1.4.19", "chart values image tag")]


def test_chart_versions_the_matrix_cannot_map_are_unknown_with_the_reason() -> None:
    assert found(helm_release("2.x")) == [
        ("reloader", "Unknown", "chart reloader version '2.x' is a range, not one version")
    ]
    assert found(helm_release("9.9.9")) == [
        (
            "reloader",
            "Unknown",
            "matrix behind: chart reloader 9.9.9 is newer than the matrix's chart versions (newest mapped: 2.2.16)",
        )
    ]
    assert found(helm_release(None))[0][2].startswith("chart reloader without a version")
    chart = MATRIX.charts_by_name["reloader"][0][1]
    assert chart_app_version(chart, "2.2.1") == (None, "chart reloader 2.2.1 is not in the matrix's chart versions")


def test_flux_sources_are_resolved_and_other_vendors_charts_ignored(tmp_path: Path) -> None:
    docs = [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "stakater", "namespace": "flux-system"},
            "spec": {"url": "https://stakater.github.io/stakater-charts/"},
        },
        helm_release("2.2.8"),
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "eso", "namespace": "flux-system"},
            "spec": {"url": "oci://oci.external-secrets.io/charts"},
        },
        {**helm_release("0.0.5"), "metadata": {"name": "eso-reloader", "namespace": "flux-system"}},
    ]
    docs[3]["spec"]["chart"]["spec"]["sourceRef"] = {"kind": "HelmRepository", "name": "eso"}
    (tmp_path / "flux.yaml").write_text(yaml.safe_dump_all(docs))
    out = read_manifests([tmp_path])
    results = []
    for item in out.workloads:
        facts = resolve_sources(item.facts, out.chart_sources)
        results += [(facts.ref, d.product, d.version_text) for d in detect(MATRIX, facts)]
    assert results == [("flux-system/HelmRelease/reloader", "reloader", "1.4.13")]  # External Secrets' chart: none


def test_argo_application_and_application_set_sources() -> None:
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "reloader", "namespace": "argocd"},
        "spec": {
            "destination": {"namespace": "reloader"},
            "sources": [
                {"repoURL": "https://github.com/acme/values.git", "ref": "values"},
                {
                    "repoURL": "ghcr.io/stakater/charts",
                    "chart": "reloader",
                    "targetRevision": "2.2.16",
                    "helm": {"values": "image:\n  tag: v1.4.20\n"},
                },
            ],
        },
    }
    assert found(app) == [("reloader", "1.4.20", "chart values image tag")]
    facts = gitops_facts(app)
    assert facts is not None and (facts.ref, facts.namespace) == ("argocd/Application/reloader", "reloader")
    templated = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "addons", "namespace": "argocd"},
        "spec": {"template": {"spec": {"source": {"repoURL": "{{repo}}", "chart": "{{chart}}"}}}},
    }
    assert gitops_facts(templated) is None  # which chart is known only once the generator runs


def test_the_running_workload_wins_over_the_chart_in_check(tmp_path: Path) -> None:
    running = workload("ghcr.io/stakater/reloader:v1.4.21", name="reloader", namespace="tools")
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all([helm_release("1.1.0"), running]))
    spec = SupportEngagementSpec.model_validate(engagement_spec())
    result = check([tmp_path], spec, MATRIX, today=TODAY)
    assert [(p.product, p.version, p.workloads) for p in result.status.products] == [
        ("reloader", "1.4.21", ["tools/Deployment/reloader"])
    ]


def olm_deployment(name: str, owner: str = "tenant-operator.v1.9.1") -> dict[str, Any]:
    body = workload(
        f"registry.connect.redhat.com/stakater/tenant-operator@{DIGEST}", name=name, namespace="multi-tenant-operator"
    )
    body["metadata"]["labels"] = {"olm.owner": owner, "olm.owner.kind": "ClusterServiceVersion"}
    return body


def test_olm_created_deployments_take_the_csv_version_and_count_once() -> None:
    csv = {
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "ClusterServiceVersion",
        "metadata": {"name": "tenant-operator.v1.9.1", "namespace": "multi-tenant-operator"},
        "spec": {"version": "1.9.1"},
    }
    objects = [csv, olm_deployment("tenant-operator-namespace-controller"), olm_deployment("tenant-operator-webhook")]
    pairs = []
    for obj in objects:
        facts = facts_from_object(obj)
        assert facts is not None
        for d in detect(MATRIX, facts):
            pairs.append((d.installation or facts.ref, d))
    assert {(d.product, d.version_text) for _, d in pairs} == {("multi-tenant-operator", "1.9.1")}
    assert {d.source for _, d in pairs} == {"ClusterServiceVersion", "label olm.owner"}
    spec = SupportEngagementSpec.model_validate(engagement_spec())
    [product] = evaluate(spec, MATRIX, pairs, Platform(), TODAY).status.products
    assert (product.workload_count, product.workloads) == (
        1,
        ["multi-tenant-operator/ClusterServiceVersion/tenant-operator.v1.9.1"],
    )


def test_olm_owner_of_a_package_the_matrix_does_not_know_recognises_nothing() -> None:
    body = olm_deployment("other", owner="some-operator.v1.0.0")
    body["spec"]["template"]["spec"]["containers"][0]["image"] = f"quay.io/acme/some-operator@{DIGEST}"
    assert found(body) == []


def test_external_secrets_reloader_is_not_stakaters() -> None:
    labels = {
        "app.kubernetes.io/name": "reloader",
        "app.kubernetes.io/version": "v0.2.0",
        "helm.sh/chart": "reloader-0.2.0",
        "chart": "reloader-0.2.0",
    }
    # even with the chart label Stakater's charts set, the foreign image decides
    assert found(workload("ghcr.io/external-secrets-inc/reloader:v0.2.0", labels=labels)) == []


def test_a_chart_whose_release_runs_unrecognised_workloads_is_not_judged(tmp_path: Path) -> None:
    # External Secrets' chart is also named "reloader"; in a cluster its HelmRepository is not read, so the
    # chart name alone would claim it. Its running Deployment (labelled by Flux) is the truth: not Stakater's.
    release = helm_release("0.0.5")
    eso = workload("ghcr.io/external-secrets-inc/reloader:v0.2.0", name="reloader", namespace="tools")
    eso["metadata"]["labels"] = {
        "helm.toolkit.fluxcd.io/name": "reloader",
        "helm.toolkit.fluxcd.io/namespace": "flux-system",
    }
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all([release, eso]))
    spec = SupportEngagementSpec.model_validate(engagement_spec())
    assert check([tmp_path], spec, MATRIX, today=TODAY).status.products == []
    # the same in the operator's inventory
    from eligibility_operator.core.products.inventory import Inventory

    inventory = Inventory()
    inventory.set_matrix(MATRIX)
    release_facts = gitops_facts(release)
    eso_facts = facts_from_object(eso)
    assert release_facts is not None and eso_facts is not None
    inventory.upsert(release_facts)
    assert [d.product for _, d in inventory.found_in(MATRIX.name)] == ["reloader"]  # nothing runs yet
    inventory.upsert(eso_facts)
    assert list(inventory.found_in(MATRIX.name)) == []
    inventory.remove(eso_facts.key)
    assert [d.product for _, d in inventory.found_in(MATRIX.name)] == ["reloader"]

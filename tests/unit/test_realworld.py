"""The real-world corpus (tests/realworld, sources in its SOURCES.md): product and version of every
manifest, and `check` over whole public source trees with their exit code and findings.

Besides the files themselves, two classes are checked on real manifests changed in one stated way,
because no public repository holds them as such: a renamed mirror (an image name seen in the wild on
a Stakater-rendered manifest) and the Deployment OLM creates from a real bundle's CSV.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from eligibility_operator.api.models import SupportEngagementSpec
from eligibility_operator.cli import main
from eligibility_operator.core.products.detection import detect
from eligibility_operator.core.products.gitops import resolve_sources
from eligibility_operator.core.products.workloads import facts_from_object
from eligibility_operator.offline.check import check
from eligibility_operator.offline.manifests import read_manifests

from ..builders import TODAY, default_compiled, engagement_spec

CORPUS = Path(__file__).resolve().parent.parent / "realworld"
EXPECTED = yaml.safe_load((CORPUS / "expected.yaml").read_text())
MATRIX = default_compiled()
SPEC = SupportEngagementSpec.model_validate(engagement_spec())


def findings(path: Path) -> dict[str, list[str]]:
    out = read_manifests([path])
    assert out.problems == []
    found: dict[str, list[str]] = {}
    for item in out.workloads:
        facts = resolve_sources(item.facts, out.chart_sources)
        for detection in detect(MATRIX, facts):
            found[facts.ref] = [detection.product, detection.version_text]
    return found


@pytest.mark.parametrize("name", sorted(EXPECTED["manifests"]))
def test_each_manifest_is_recognised_as_a_user_would(name: str) -> None:
    expected = {ref: [str(v) for v in pv] for ref, pv in EXPECTED["manifests"][name].items()}
    assert findings(CORPUS / "manifests" / name) == expected


def test_every_corpus_file_has_an_expectation_and_a_source() -> None:
    files = {str(p.relative_to(CORPUS / "manifests")) for p in (CORPUS / "manifests").rglob("*.yaml")}
    assert files == set(EXPECTED["manifests"])
    sources = (CORPUS / "SOURCES.md").read_text()
    assert all(f"`{name}`" in sources for name in files)
    assert all(f"`trees/{tree}`" in sources for tree in EXPECTED["trees"])


@pytest.mark.parametrize("tree", sorted(EXPECTED["trees"]))
def test_check_over_whole_source_trees(tree: str) -> None:
    want = EXPECTED["trees"][tree]
    result = check([CORPUS / "trees" / tree], SPEC, MATRIX, today=TODAY)
    assert result.problems == []  # no parser noise: what is not a Kubernetes object is skipped
    assert result.exit_code == want["exit"]
    got = {f"{p.product} {p.version}": p.workloads for p in result.status.products}
    assert got == want["products"]
    assert [ref for ref, _ in result.duplicates] == want.get("duplicates", [])


def test_check_over_the_whole_corpus_prints_no_parser_noise(tmp_path: Path) -> None:
    doc = {"apiVersion": "support.stakater.com/v1alpha1", "kind": "SupportEngagement", "spec": engagement_spec()}
    (tmp_path / "engagement.yaml").write_text(yaml.safe_dump(doc))
    args = ["check", "-f", str(CORPUS), "--engagement", str(tmp_path / "engagement.yaml"), "-o", "json"]
    result = CliRunner().invoke(main, args)
    assert json.loads(result.stdout)["errors"] == []
    assert result.exit_code in (0, 1, 3)  # the verdict's code, never 4


# ------------------------------------------------ real manifests, changed in one stated way


def _load(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((CORPUS / "manifests" / name).read_text()) if d]


def _deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in docs if d.get("kind") == "Deployment")


@pytest.mark.parametrize(
    "mirror",
    [
        "quay.io/redhattraining/do280-stakater-reloader:v1.0.73",  # name used by Red Hat's DO280 course
        "cgr.dev/chainguard/stakater-reloader:v1.0.73",  # Chainguard's rebuild
    ],
)
def test_renamed_mirror_keeps_product_and_version(mirror: str) -> None:
    deployment = copy.deepcopy(_deployment(_load("stakater/reloader-v1.0.73.yaml")))
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = mirror
    facts = facts_from_object(deployment)
    assert facts is not None
    [found] = detect(MATRIX, facts)
    # the chart label `chart: reloader-1.0.73` is Stakater's; the main container's tag gives the version
    assert (found.product, found.version_text, found.via, found.source) == (
        "reloader",
        "1.0.73",
        "labels",
        "main container image tag",
    )


def test_deployment_created_by_olm_counts_as_its_csv() -> None:
    csv = _load("stakater/ingressmonitorcontroller-v2.2.0-ingressmonitorcontroller.clusterserviceversion.yaml")[0]
    spec = csv["spec"]["install"]["spec"]["deployments"][0]
    # what OLM creates from the CSV: its labels, and images pinned by digest as certified catalogues do
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": spec["name"],
            "namespace": "operators",
            "labels": {
                **spec["spec"]["template"]["metadata"].get("labels", {}),
                "olm.owner": csv["metadata"]["name"],
                "olm.owner.kind": "ClusterServiceVersion",
                "olm.owner.namespace": "operators",
            },
        },
        "spec": copy.deepcopy(spec["spec"]),
    }
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        container["image"] = container["image"].split(":")[0] + "@sha256:" + "0" * 64
    facts = facts_from_object(deployment)
    assert facts is not None
    [found] = detect(MATRIX, facts)
    assert (found.product, found.version_text, found.source) == ("ingressmonitorcontroller", "2.2.0", "label olm.owner")
    assert found.installation == "operators/ClusterServiceVersion/ingressmonitorcontroller.v2.2.0"


# ------------------------------------------- kustomize helmCharts and OLM Subscriptions, one stated change


def test_the_mojaloop_kustomization_with_its_repositorys_defaults_is_an_end_of_life_reloader(tmp_path: Path) -> None:
    # the Terraform template's variables, replaced by the defaults its repository declares
    # (terraform/gitops/k8s-cluster-config/base-utils.tf at the same commit)
    text = (CORPUS / "manifests/kustomize/mojaloop-iac-modules/base-utils/kustomization.yaml").read_text()
    for name, default in (
        ("reflector_chart_version", "7.0.190"),
        ("reloader_chart_version", "1.0.67"),
        ("velero_chart_version", "6.0.0"),
        ("base_utils_namespace", "base-utils"),
    ):
        text = text.replace("${" + name + "}", default)
    (tmp_path / "base-utils").mkdir()
    (tmp_path / "base-utils" / "kustomization.yaml").write_text(text)
    result = check([tmp_path], SPEC, MATRIX, today=TODAY)
    assert result.problems == []
    assert [(p.product, p.version, p.lifecycle, p.workloads) for p in result.status.products] == [
        ("reloader", "1.0.67", "EndOfLife", ["base-utils/Kustomization/base-utils"])
    ]
    assert result.exit_code == 3  # before: "no covered Stakater product found", exit 0


def test_the_stakater_subscription_with_manual_approval_takes_its_starting_csv(tmp_path: Path) -> None:
    [subscription] = _load("olm/stakater-cloud-docs-tenant-operator-subscription.yaml")
    subscription["spec"]["installPlanApproval"] = "Manual"
    (tmp_path / "subscription.yaml").write_text(yaml.safe_dump(subscription))
    result = check([tmp_path], SPEC, MATRIX, today=TODAY)
    [product] = result.status.products
    assert (product.product, product.version, product.version_source) == (
        "multi-tenant-operator",
        "0.5.2",
        "Subscription startingCSV (manual approval)",
    )
    assert product.eligibility != "Eligible"

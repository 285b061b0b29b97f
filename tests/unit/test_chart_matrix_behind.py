"""Field fixes: a chart newer than the matrix's chart map is the matrix behind (Stakater's item, exit 0),
whatever the chart source; pre-release versions are kept whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from eligibility_operator.core.compat.versions import parse_version
from eligibility_operator.core.products.detection import chart_app_version
from eligibility_operator.offline.check import check

from ..builders import TODAY, default_compiled
from ..builders import manifest as workload

MATRIX = default_compiled()  # reloader's chart map ends at chart 2.2.16 -> app 1.4.21


def helm_release(version: str) -> dict[str, Any]:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "reloader", "namespace": "flux-system"},
        "spec": {
            "chart": {
                "spec": {
                    "chart": "reloader",
                    "version": version,
                    "sourceRef": {"kind": "HelmRepository", "name": "stakater"},
                }
            },
            "targetNamespace": "tools",
        },
    }


def oci_release(tag: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1beta2",
            "kind": "OCIRepository",
            "metadata": {"name": "reloader", "namespace": "flux-system"},
            "spec": {"url": "oci://ghcr.io/stakater/charts/reloader", "ref": {"tag": tag}},
        },
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "reloader", "namespace": "flux-system"},
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "reloader"}, "targetNamespace": "tools"},
        },
    ]


def argo_application(revision: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "reloader", "namespace": "argocd"},
        "spec": {
            "source": {
                "repoURL": "https://stakater.github.io/stakater-charts",
                "chart": "reloader",
                "targetRevision": revision,
            },
            "destination": {"namespace": "reloader"},
        },
    }


def run(tmp_path: Path, *docs: dict[str, Any]) -> Any:
    path = tmp_path / "m.yaml"
    path.write_text("---\n".join(yaml.safe_dump(d) for d in docs))
    return check([path], None, MATRIX, today=TODAY)


@pytest.mark.parametrize(
    "docs",
    [[helm_release("2.3.0")], oci_release("2.3.0"), [argo_application("3.0.1")], [helm_release("2.3.0-rc.1")]],
    ids=["flux-helmrelease", "flux-ocirepository", "argo-application", "pre-release-of-a-newer-chart"],
)
def test_a_chart_newer_than_the_map_is_the_matrix_behind(tmp_path: Path, docs: list[dict[str, Any]]) -> None:
    result = run(tmp_path, *docs)
    [product] = result.status.products
    assert product.codes == ["EO103"], product.reason
    assert (product.eligibility, product.action_owner, product.matrix_behind) == ("Eligible", "Stakater", True)
    assert product.reason.startswith("matrix behind: chart reloader")
    assert result.exit_code == 0


def test_a_chart_older_than_the_map_or_unmapped_is_still_unknown(tmp_path: Path) -> None:
    result = run(tmp_path, helm_release("2.2.1"))  # between mapped versions: not the matrix behind
    assert result.status.products[0].codes == ["EO106"] and result.exit_code == 3


def test_pre_release_versions_are_kept_whole(tmp_path: Path) -> None:
    version = parse_version("0.10.0-alpha-2")
    assert version is not None and str(version) == "0.10.0-alpha-2" and version.prerelease == "alpha-2"
    assert not version.within(parse_version("0.10.0"))  # type: ignore[arg-type]
    assert str(parse_version("v1.4.21-ubi")) == "1.4.21"  # a build flavour is not a pre-release
    chart = MATRIX.charts_by_name["reloader"][0][1]
    assert chart_app_version(chart, "2.2.16-alpha-2") == (
        None,
        "chart reloader 2.2.16-alpha-2 is a pre-release, not in the matrix's chart versions",
    )
    assert chart_app_version(chart, "2.2.16")[0] == parse_version("1.4.21")
    result = run(tmp_path, workload("stakater/reloader:v1.4.21-rc.1", name="r"))
    [product] = result.status.products
    assert product.version == "1.4.21-rc.1"
    assert product.lifecycle == "Unknown" and product.codes == ["EO106"]
    assert "1.4.21-rc.1 is a pre-release, not a release listed in the matrix" in product.reason

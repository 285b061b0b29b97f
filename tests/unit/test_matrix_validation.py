"""CompatibilityMatrix parsing, semantic validation and compilation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from eligibility_operator.api.models import Edition
from eligibility_operator.core.compat.matrix import (
    MatrixError,
    compile_matrix,
    labels_match,
    load_matrix,
    parse_spec,
    validate,
)
from eligibility_operator.core.compat.versions import parse_version
from eligibility_operator.offline.loading import default_matrix

from ..builders import small_matrix_spec


def product(name: str = "reloader", releases: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "recognition": {"images": [{"repository": f"stakater/{name}"}]},
        "releases": releases if releases is not None else [{"version": "1.4", "released": "2025-04-04"}],
        **extra,
    }


def problems_of(*products: dict[str, Any]) -> list[str]:
    return validate(parse_spec({"products": list(products)}))


def rel(version: str, released: str = "2025-01-01", **extra: Any) -> dict[str, Any]:
    return {"version": version, "released": released, **extra}


# ------------------------------------------------------------------ default


def test_default_matrix_validates_clean() -> None:
    doc = default_matrix()
    assert doc["kind"] == "CompatibilityMatrix"
    assert validate(parse_spec(doc["spec"])) == []
    compiled = load_matrix("default", 1, doc["spec"])
    assert sorted(compiled.products) == [
        "forecastle",
        "ingressmonitorcontroller",
        "konfigurator",
        "multi-tenant-operator",
        "reloader",
    ]
    assert compiled.fingerprint == ("default", 1)
    assert compiled.olm_packages == {
        "ingressmonitorcontroller": "ingressmonitorcontroller",
        "tenant-operator": "multi-tenant-operator",
    }
    assert compiled.images_by_name["reloader"] == [("stakater/reloader", "reloader", Edition.COMMUNITY)]
    assert compiled.images_by_name["reloader-enterprise"] == [
        ("stakater/reloader-enterprise", "reloader", Edition.ENTERPRISE)
    ]
    assert compiled.images_by_name["tenant-operator"] == [
        ("stakater/public/mto/tenant-operator", "multi-tenant-operator", Edition.COMMUNITY),
        ("stakater/tenant-operator", "multi-tenant-operator", Edition.COMMUNITY),
    ]
    assert compiled.exclusions == [("stakater-application-chart", {"helm.sh/chart": "application-*"})]


def test_default_matrix_lines_are_sorted_and_newest_has_no_end() -> None:
    compiled = load_matrix("default", 1, default_matrix()["spec"])
    for entry in compiled.products.values():
        cores = [line.line.core for line in entry.lines]
        assert cores == sorted(cores), entry.name
        assert entry.lines[-1].end_of_support is None, entry.name
    assert compiled.products["reloader"].recommended == "1.4.21"
    assert compiled.products["multi-tenant-operator"].recommended == "1.10"  # newest line, patch not verified


def test_lines_are_sorted_oldest_first_whatever_the_input_order() -> None:
    spec = parse_spec({"products": [product(releases=[rel("1.10"), rel("1.2"), rel("1.9")])]})
    entry = compile_matrix("m", 2, spec).products["reloader"]
    assert [line.label for line in entry.lines] == ["1.2", "1.9", "1.10"]
    assert entry.recommended == "1.10"  # newest line, no `latest` given


def test_line_for_picks_the_containing_line() -> None:
    entry = load_matrix("m", 1, small_matrix_spec()).products["reloader"]
    v139, v150 = parse_version("1.3.9"), parse_version("1.5.0")
    assert v139 is not None
    assert v150 is not None
    line = entry.line_for(v139)
    assert line is not None
    assert line.label == "1.3"
    assert entry.line_for(v150) is None


# ------------------------------------------------------------ semantic checks


def test_overlapping_releases_are_rejected() -> None:
    problems = problems_of(product(releases=[rel("1.4"), rel("1.4.2")]))
    assert problems == ["product 'reloader': releases 1.4 and 1.4.2 overlap"]


def test_major_line_overlaps_its_minors() -> None:
    assert problems_of(product(releases=[rel("1"), rel("1.4")])) == ["product 'reloader': releases 1 and 1.4 overlap"]


def test_exact_version_next_to_other_lines_is_fine() -> None:
    assert problems_of(product(releases=[rel("2.0.1"), rel("2.0.2"), rel("2.1")])) == []


@pytest.mark.parametrize(("first", "second"), [("1.4", "1.4"), ("1.4", "v1.4")])
def test_duplicate_releases_are_rejected(first: str, second: str) -> None:
    assert problems_of(product(releases=[rel(first), rel(second)])) == [
        f"product 'reloader': release {second} is listed twice"
    ]


def test_end_of_support_before_release_is_rejected() -> None:
    problems = problems_of(product(releases=[rel("1.4", "2025-04-04", endOfSupport="2025-01-01")]))
    assert problems == ["product 'reloader': release 1.4 ends support (2025-01-01) before it was released (2025-04-04)"]


def test_end_of_support_on_release_day_is_accepted() -> None:
    assert problems_of(product(releases=[rel("1.4", "2025-04-04", endOfSupport="2025-04-04")])) == []


def test_duplicate_product_names_are_rejected() -> None:
    first = product("reloader")
    second = product("reloader")
    second["recognition"] = {"images": [{"repository": "stakater/reloader-enterprise"}]}
    assert problems_of(first, second) == ["product 'reloader' is listed twice"]


@pytest.mark.parametrize("spelling", ["stakater/reloader", "Stakater/Reloader", "/stakater/reloader/"])
def test_same_image_repository_for_two_products_is_rejected(spelling: str) -> None:
    other = product("forecastle")
    other["recognition"] = {"images": [{"repository": spelling}]}
    assert problems_of(product("reloader"), other) == [
        "image repository 'stakater/reloader' is claimed by both 'reloader' and 'forecastle'"
    ]


@pytest.mark.parametrize(
    ("repository", "host"),
    [
        ("ghcr.io/stakater/reloader", "ghcr.io"),
        ("localhost:5000/stakater/reloader", "localhost:5000"),
        ("docker.io/stakater/reloader", "docker.io"),
        ("localhost/stakater/reloader", "localhost"),
    ],
)
def test_an_image_repository_with_a_registry_host_is_rejected(repository: str, host: str) -> None:
    """Issue 37: such a repository was accepted and could never match (an image's path has no host)."""
    assert problems_of(product(recognition={"images": [{"repository": repository}]})) == [
        f"product 'reloader': image repository {repository!r} includes a registry host ({host!r}); write the "
        f"path without it ({repository.split('/', 1)[1]!r}), which matches every registry and mirror"
    ]


@pytest.mark.parametrize("repository", ["stakater/reloader", "stakater/public/mto/tenant-operator", "reloader"])
def test_image_repositories_without_a_host_are_accepted(repository: str) -> None:
    assert problems_of(product(recognition={"images": [{"repository": repository}]})) == []


def test_same_olm_package_for_two_products_is_rejected() -> None:
    a = product("a", recognition={"olmPackages": ["tenant-operator"]})
    b = product("b", recognition={"olmPackages": ["tenant-operator"]})
    assert problems_of(a, b) == ["OLM package 'tenant-operator' is claimed by both 'a' and 'b'"]


@pytest.mark.parametrize("latest", ["1.5.0", "2.4.1", "latest", "1.40.0"])
def test_latest_outside_its_line_is_rejected(latest: str) -> None:
    assert problems_of(product(releases=[rel("1.4", latest=latest)])) == [
        f"product 'reloader': release 1.4 has latest {latest!r} outside its line"
    ]


@pytest.mark.parametrize("latest", ["1.4.21", "v1.4.0", "1.4"])
def test_latest_inside_its_line_is_accepted(latest: str) -> None:
    assert problems_of(product(releases=[rel("1.4", latest=latest)])) == []


@pytest.mark.parametrize("platform", ["kubernetes", "openshift"])
def test_min_above_max_is_rejected(platform: str) -> None:
    p = product(compatibility={platform: {"min": "1.30", "max": "1.20"}})
    assert problems_of(p) == [f"product 'reloader': {platform} range min 1.30 is above max 1.20"]


def test_range_bounds_that_are_not_versions_are_rejected() -> None:
    p = product(compatibility={"kubernetes": {"min": "one"}})
    assert problems_of(p) == ["product 'reloader': kubernetes range 'one'..None is not a version range"]


def test_open_and_equal_ranges_are_accepted() -> None:
    p = product(compatibility={"kubernetes": {"max": "1.33"}, "openshift": {"min": "4.18", "max": "4.18"}})
    assert problems_of(p) == []


def test_compile_matrix_raises_with_every_problem() -> None:
    spec = parse_spec(
        {
            "products": [
                product(releases=[rel("1.4"), rel("1.4.2"), rel("2.0", "2025-02-02", endOfSupport="2025-01-01")])
            ]
        }
    )
    with pytest.raises(MatrixError) as caught:
        compile_matrix("broken", 1, spec)
    message = str(caught.value)
    assert "releases 1.4 and 1.4.2 overlap" in message
    assert "release 2.0 ends support (2025-01-01) before it was released (2025-02-02)" in message


def test_release_version_the_parser_cannot_read_is_a_matrix_error() -> None:
    with pytest.raises(MatrixError):
        load_matrix("m", 1, {"products": [product(releases=[rel("1.10000000000")])]})


# ------------------------------------------------------------------ parse_spec


@pytest.mark.parametrize(
    ("raw", "fragments"),
    [
        (None, ["spec.products: Field required"]),
        ({}, ["spec.products: Field required"]),
        ({"products": [{"name": "Reloader"}]}, ["spec.products.0.name:", "pattern"]),
        ({"products": [product(releases=[rel("latest")])]}, ["spec.products.0.releases.0.version:", "pattern"]),
        ({"products": [product(releases=[rel("1.4", "yesterday")])]}, ["spec.products.0.releases.0.released:"]),
        (
            {"products": [product(releases=[rel("1.4", endOfSupport="2025-13-01")])]},
            ["spec.products.0.releases.0.endOfSupport:"],
        ),
        (
            {"products": [product(recognition={"images": [{"repository": "x", "edition": "Gold"}]})]},
            ["spec.products.0.recognition.images.0.edition:"],
        ),
        (
            {"products": [product()], "customerApplications": [{"name": "app"}]},
            ["spec.customerApplications.0.labels: Field required"],
        ),
    ],
)
def test_parse_spec_errors_name_the_field(raw: Any, fragments: list[str]) -> None:
    with pytest.raises(MatrixError) as caught:
        parse_spec(raw)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_parse_spec_reports_at_most_five_problems() -> None:
    raw = {"products": [{"name": f"BAD{i}"} for i in range(8)]}
    with pytest.raises(MatrixError) as caught:
        parse_spec(raw)
    message = str(caught.value)
    assert message.count("spec.products.") == 5
    assert message.endswith("; and 3 more")


def test_load_matrix_does_not_mutate_its_input() -> None:
    raw = small_matrix_spec()
    before = copy.deepcopy(raw)
    load_matrix("m", 1, raw)
    assert raw == before


# ------------------------------------------------------------------ labels_match


@pytest.mark.parametrize(
    ("pattern", "labels", "expected"),
    [
        ({"helm.sh/chart": "application-*"}, {"helm.sh/chart": "application-9.2.0"}, True),
        ({"helm.sh/chart": "application-*"}, {"helm.sh/chart": "reloader-2.2.16"}, False),
        ({"helm.sh/chart": "application-*"}, {}, False),
        ({"app": "reloader", "provider": "stakater"}, {"app": "reloader", "provider": "stakater", "x": "y"}, True),
        ({"app": "reloader", "provider": "stakater"}, {"app": "reloader"}, False),
        ({"app": "reloader"}, {"app": "reloader-reloader"}, False),
        ({"app": "reloade?"}, {"app": "reloader"}, True),
        ({}, {"app": "reloader"}, False),  # an empty pattern matches nothing
    ],
)
def test_labels_match(pattern: dict[str, str], labels: dict[str, str], expected: bool) -> None:
    assert labels_match(pattern, labels) is expected

"""Image reference and version parsing: the two tolerant parsers detection is built on."""

from __future__ import annotations

import pytest

from eligibility_operator.core.compat.images import ImageRef, parse_image
from eligibility_operator.core.compat.versions import Version, parse_version, version_key

HEX = "0123456789abcdef" * 4
DIGEST = f"sha256:{HEX}"


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("reference", "registry", "path", "tag", "digest"),
    [
        ("ghcr.io/stakater/reloader:v1.4.21", "ghcr.io", "stakater/reloader", "v1.4.21", None),
        ("stakater/reloader:v1.4.21-ubi", None, "stakater/reloader", "v1.4.21-ubi", None),
        (
            "registry.example.internal:5000/mirror/stakater/reloader:v1.4.21",
            "registry.example.internal:5000",
            "mirror/stakater/reloader",
            "v1.4.21",
            None,
        ),
        (f"ghcr.io/stakater/reloader@{DIGEST}", "ghcr.io", "stakater/reloader", None, DIGEST),
        (f"ghcr.io/stakater/reloader:v1.4.21@{DIGEST}", "ghcr.io", "stakater/reloader", "v1.4.21", DIGEST),
        (
            "ghcr.io/stakater/public/mto/tenant-operator:v1.9.0",
            "ghcr.io",
            "stakater/public/mto/tenant-operator",
            "v1.9.0",
            None,
        ),
        ("localhost/x", "localhost", "x", None, None),
        ("localhost:5000/stakater/forecastle:v2.0.1", "localhost:5000", "stakater/forecastle", "v2.0.1", None),
        ("nginx", None, "library/nginx", None, None),
        ("nginx:1.27", None, "library/nginx", "1.27", None),
        ("latest", None, "library/latest", None, None),
        ("Stakater/Reloader:V1.4.21", None, "stakater/reloader", "V1.4.21", None),
    ],
)
def test_parse_image_realistic_references(
    reference: str, registry: str | None, path: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_image(reference)
    assert ref == ImageRef(raw=reference, registry=registry, path=path, tag=tag, digest=digest)


def test_parse_image_lowercases_digest_and_keeps_raw() -> None:
    reference = f"ghcr.io/stakater/reloader:v1.4.21@sha256:{HEX.upper()}"
    ref = parse_image(reference)
    assert ref.digest == DIGEST
    assert ref.tag == "v1.4.21"
    assert ref.raw == reference


def test_parse_image_drops_malformed_digest_but_keeps_the_rest() -> None:
    ref = parse_image("stakater/reloader:v1.4.21@sha256:abc")
    assert (ref.path, ref.tag, ref.digest) == ("stakater/reloader", "v1.4.21", None)


def test_parse_image_invalid_tag_is_dropped() -> None:
    ref = parse_image("stakater/reloader:-bad")
    assert ref.path == "stakater/reloader"
    assert ref.tag is None


def test_parse_image_name_is_last_segment() -> None:
    assert parse_image("registry.example.internal:5000/mirror/stakater/reloader:v1.4.21").name == "reloader"
    assert parse_image("nginx").name == "nginx"


@pytest.mark.parametrize("reference", ["", "   ", None, 42, 4.2, b"stakater/reloader:v1"])
def test_parse_image_empty_or_non_string_yields_empty_ref(reference: object) -> None:
    ref = parse_image(reference)
    assert ref.path == ""
    assert ref.registry is None
    assert ref.tag is None
    assert ref.digest is None
    assert ref.raw == (reference if isinstance(reference, str) else "")


@pytest.mark.parametrize("reference", [["stakater/reloader:v1.4.21"], {"image": "x"}])
def test_parse_image_unhashable_input_does_not_raise(reference: object) -> None:
    assert parse_image(reference).path == ""


def test_parse_image_docker_hub_official_image_with_explicit_registry() -> None:
    assert parse_image("docker.io/nginx").path == parse_image("nginx").path == "library/nginx"


@pytest.mark.parametrize(
    ("reference", "repository", "expected"),
    [
        ("ghcr.io/stakater/reloader:v1.4.21", "stakater/reloader", True),
        ("registry.example.internal:5000/mirror/stakater/reloader:v1.4.21", "stakater/reloader", True),
        ("stakater/reloader:v1", "/stakater/reloader/", True),
        ("stakater/reloader:v1", "Stakater/Reloader", True),
        ("ghcr.io/stakater/reloader-enterprise:v1.4.16", "stakater/reloader", False),
        ("ghcr.io/stakater/reloader:v1.4.21", "stakater/reloader-enterprise", False),
        ("ghcr.io/notstakater/reloader:v1.4.21", "stakater/reloader", False),
        ("ghcr.io/stakater/reloader:v1.4.21", "reloader", True),
        ("ghcr.io/stakater/reloader:v1.4.21", "eloader", False),
        ("ghcr.io/stakater/public/mto/tenant-operator:v1.9.0", "stakater/public/mto/tenant-operator", True),
        ("ghcr.io/stakater/public/mto/mto-console:1.0.246", "stakater/public/mto/tenant-operator", False),
    ],
)
def test_path_ends_with_whole_segments(reference: str, repository: str, expected: bool) -> None:
    assert parse_image(reference).path_ends_with(repository) is expected


# ------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("text", "core", "parts", "suffix", "shown"),
    [
        ("v1.4.21", (1, 4, 21), 3, "", "1.4.21"),
        ("1.4", (1, 4, 0), 2, "", "1.4"),
        ("2.2.12", (2, 2, 12), 3, "", "2.2.12"),
        ("v1.4.21-ubi", (1, 4, 21), 3, "ubi", "1.4.21"),
        ("V0.1.39", (0, 1, 39), 3, "", "0.1.39"),
        ("1", (1, 0, 0), 1, "", "1"),
        ("1.30.2+k3s1", (1, 30, 2), 3, "k3s1", "1.30.2"),
        ("v1.30.5-gke.1014001", (1, 30, 5), 3, "gke.1014001", "1.30.5"),
        (" 1.4 ", (1, 4, 0), 2, "", "1.4"),
    ],
)
def test_parse_version_accepts(text: str, core: tuple[int, int, int], parts: int, suffix: str, shown: str) -> None:
    version = parse_version(text)
    assert version is not None
    assert version.core == core
    assert version.parts == parts
    assert version.suffix == suffix
    assert str(version) == shown


@pytest.mark.parametrize(
    "text", ["latest", "merge-123", "", "   ", None, "1.4.21.5", "v", "main", "sha-abc1234", 1.4, 3, "1..4"]
)
def test_parse_version_rejects(text: object) -> None:
    assert parse_version(text) is None


def test_parse_version_unhashable_input_returns_none() -> None:
    assert parse_version(["1.4.21"]) is None


def test_suffix_is_ignored_in_display_but_not_lost() -> None:
    ubi, plain = parse_version("v1.4.21-ubi"), parse_version("1.4.21")
    assert ubi is not None
    assert plain is not None
    assert str(ubi) == str(plain) == "1.4.21"
    assert ubi.core == plain.core
    assert ubi.suffix == "ubi"


@pytest.mark.parametrize(
    ("version", "line", "expected"),
    [
        ("1.4.21", "1.4", True),
        ("1.4.0", "1.4", True),
        ("v1.4.21-ubi", "1.4", True),
        ("1.5.0", "1.4", False),
        ("1.40.0", "1.4", False),
        ("2.4.1", "1.4", False),
        ("2.0.1", "2.0.1", True),
        ("2.0.2", "2.0.1", False),
        ("1.9.3", "1", True),
        ("2.0.0", "1", False),
        ("1.4", "1.4.0", True),  # a two-part version is x.y.0
        ("1.4", "1.4.1", False),
    ],
)
def test_version_within_line(version: str, line: str, expected: bool) -> None:
    v, lv = parse_version(version), parse_version(line)
    assert v is not None
    assert lv is not None
    assert v.within(lv) is expected


def test_version_key_orders_numerically_and_puts_non_versions_first() -> None:
    tags = ["1.10.0", "latest", "1.9.3", "v1.4.21", "1.4.3", "merge-12"]
    ordered = sorted(tags, key=version_key)
    assert ordered[:2] == ["latest", "merge-12"]
    assert ordered[2:] == ["1.4.3", "v1.4.21", "1.9.3", "1.10.0"]


def test_version_is_a_value() -> None:
    assert parse_version("v1.4.21") == Version(1, 4, 21, 3, "")
    assert parse_version("1.4") == Version(1, 4, 0, 2, "")

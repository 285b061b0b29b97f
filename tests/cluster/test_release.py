"""`make release-manifests` and `make image` as a user runs them (no cluster, no image build)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "0123456789abcdef" * 4


def release(image: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "release_manifests.py"), image, str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.skipif(not shutil.which("kubectl"), reason="needs kubectl (for kubectl kustomize)")
@pytest.mark.parametrize(
    "image", ["registry.example.com:5000/team/eligibility-operator:1.2.3", f"ghcr.io/x/y@{DIGEST}"]
)
def test_release_manifests_carry_the_given_image_everywhere(tmp_path: Path, image: str) -> None:
    result = release(image, tmp_path)
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [
        f"eligibility-operator-{n}.yaml" for n in ("base", "cert-manager", "monitoring", "openshift", "webhook")
    ]
    for path in tmp_path.iterdir():
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        kinds = {d["kind"] for d in docs}
        assert {"Namespace", "CustomResourceDefinition", "ClusterRole", "Deployment"} <= kinds, path.name
        images = [
            c["image"] for d in docs if d["kind"] == "Deployment" for c in d["spec"]["template"]["spec"]["containers"]
        ]
        assert images == [image], path.name
        assert "ghcr.io/stakater/eligibility-operator:" not in path.read_text()


@pytest.mark.parametrize("image", ["eligibility-operator", "UPPER/case:1", "x:", "x@sha256:short"])
def test_release_manifests_refuse_an_incomplete_reference(tmp_path: Path, image: str) -> None:
    result = release(image, tmp_path)
    assert result.returncode != 0
    assert "not an image reference with a tag or digest" in result.stderr
    assert not list(tmp_path.iterdir())


def test_make_image_says_clearly_when_no_engine_is_installed(tmp_path: Path) -> None:
    # A PATH with the tools make's recipes need, and no docker, podman or buildah.
    for tool in ("bash", "sh", "sed", "make", "env", "cat"):
        found = shutil.which(tool)
        assert found, tool
        (tmp_path / tool).symlink_to(found)
    result = subprocess.run(
        ["make", "-s", "image"],
        cwd=REPO,
        env={**os.environ, "PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0
    assert "error: no container engine found" in result.stderr, result.stderr
    assert "buildah" in result.stderr and "podman" in result.stderr and "Docker" in result.stderr


def test_make_image_names_an_engine_that_is_not_installed() -> None:
    result = subprocess.run(
        ["make", "-s", "image", "CONTAINER_ENGINE=no-such-engine"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CONTAINER_ENGINE=no-such-engine is not installed" in result.stderr

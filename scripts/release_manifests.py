"""Render deploy/base and its overlays with one image reference, one file each, for `kubectl apply -f`.

Usage: python scripts/release_manifests.py IMAGE OUTPUT_DIR
IMAGE is `registry/name:tag` or `registry/name@sha256:...`. The kind overlay is left out: it runs
an image built on the user's machine and never pulled.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
# The image name as deploy/base/kustomization.yaml sets it; the release replaces it.
BASE_IMAGE_NAME = "ghcr.io/stakater/eligibility-operator"
TARGETS = {
    "base": "deploy/base",
    "monitoring": "deploy/overlays/monitoring",
    "cert-manager": "deploy/overlays/cert-manager",
    "webhook": "deploy/overlays/webhook",
    "openshift": "deploy/overlays/openshift",
}
REFERENCE = re.compile(
    r"(?P<name>[a-z0-9][a-z0-9._/:-]*?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)


def image_override(image: str) -> dict[str, str]:
    """The kustomize `images:` entry that turns the base's image into ``image``."""
    match = REFERENCE.fullmatch(image)
    if not match or not (match["tag"] or match["digest"]) or match["name"].endswith(("/", ":")):
        raise SystemExit(
            f"error: {image!r} is not an image reference with a tag or digest (name:tag or name@sha256:...)"
        )
    entry = {"name": BASE_IMAGE_NAME, "newName": match["name"]}
    if match["digest"]:
        entry["digest"] = match["digest"]
    else:
        entry["newTag"] = match["tag"]
    return entry


def images_in(documents: list[dict[str, Any]]) -> set[str]:
    found = set()
    for doc in documents:
        pod = (doc.get("spec") or {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            found.add(container["image"])
    return found


def render(target: str, image: str, workdir: Path) -> str:
    """`kubectl kustomize` of a kustomization that takes ``target`` whole and only changes the image."""
    wrapper = workdir / Path(target).name
    wrapper.mkdir(parents=True)
    relative = os.path.relpath(REPO / target, wrapper)
    (wrapper / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [relative],
                "images": [image_override(image)],
            }
        )
    )
    result = subprocess.run(["kubectl", "kustomize", str(wrapper)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"error: kubectl kustomize {target} failed:\n{result.stderr}")
    return result.stdout


def main(image: str, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    for name, target in TARGETS.items():
        with tempfile.TemporaryDirectory() as tmp:
            text = render(target, image, Path(tmp))
        found = images_in([d for d in yaml.safe_load_all(text) if d])
        if found != {image}:
            raise SystemExit(f"error: {target} rendered with images {sorted(found)}, expected only {image}")
        path = output / f"eligibility-operator-{name}.yaml"
        path.write_text(f"# eligibility-operator {target} with image {image}\n# kubectl apply -f {path.name}\n{text}")
        print(path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], Path(sys.argv[2]))

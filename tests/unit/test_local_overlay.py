"""deploy/overlays/local is deploy/overlays/webhook (the operator's own certificate, no add-on) with only what
a local cluster changes: the local image never pulled, an arbitrary UID in group 0, failurePolicy Fail.
(tests/cluster/test_deploy.py compares the two rendered overlays object by object.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

OVERLAYS = Path(__file__).resolve().parents[2] / "deploy" / "overlays"


def load(path: str) -> Any:
    return yaml.safe_load((OVERLAYS / path).read_text())


def test_the_local_overlay_builds_on_the_webhook_overlay_and_makes_no_webhook_object_of_its_own() -> None:
    kustomization = load("local/kustomization.yaml")
    assert kustomization["resources"] == ["../webhook"]
    assert "components" not in kustomization
    assert sorted(p.name for p in (OVERLAYS / "local").iterdir()) == ["deployment.yaml", "kustomization.yaml"]
    args = load("webhook/deployment-webhook.yaml")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--webhook-cert-mode") + 1] == "self" and "--webhook-cert-dir" not in args


def test_the_webhook_fails_closed() -> None:
    [patch] = [p for p in load("local/kustomization.yaml")["patches"] if "target" in p]
    assert patch["target"] == {"kind": "ValidatingWebhookConfiguration", "name": "eligibility-operator"}
    assert yaml.safe_load(patch["patch"]) == [{"op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Fail"}]


def test_the_pod_runs_as_an_arbitrary_uid_in_group_0_from_the_local_image_and_mounts_no_certificate() -> None:
    patch = load("local/deployment.yaml")["spec"]["template"]["spec"]
    assert patch["securityContext"] == {"runAsUser": 1000680000, "runAsGroup": 0}
    assert patch["containers"] == [{"name": "operator", "imagePullPolicy": "Never"}]
    assert "volumes" not in patch  # the certificate comes from the Secret through the API, not a mount
    kustomization = load("local/kustomization.yaml")
    assert kustomization["images"] == [
        {"name": "ghcr.io/stakater/eligibility-operator", "newName": "localhost/eligibility-operator", "newTag": "dev"}
    ]

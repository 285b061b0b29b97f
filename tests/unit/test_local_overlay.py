"""deploy/overlays/local keeps the webhook component's Service and configuration, with only what a local cluster
changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
OVERLAYS = DEPLOY / "overlays"


def load(path: str) -> Any:
    return yaml.safe_load((OVERLAYS / path).read_text())


def test_the_webhook_configuration_is_the_components_failing_closed() -> None:
    local, managed = (
        load("local/validatingwebhookconfiguration.yaml"),
        load("../components/webhook/validatingwebhookconfiguration.yaml"),
    )
    assert "annotations" not in local["metadata"]
    assert [hook.pop("failurePolicy") for hook in local["webhooks"]] == ["Fail"]
    for hook in managed["webhooks"]:
        hook.pop("failurePolicy")
    assert local == managed


def test_the_webhook_service_is_the_components() -> None:
    assert load("local/webhook-service.yaml") == load("../components/webhook/webhook-service.yaml")


def test_the_pod_runs_as_an_arbitrary_uid_in_group_0_from_the_local_image() -> None:
    patch = load("local/deployment.yaml")["spec"]["template"]["spec"]
    assert patch["securityContext"] == {"runAsUser": 1000680000, "runAsGroup": 0}
    assert patch["containers"][0]["imagePullPolicy"] == "Never"
    kustomization = load("local/kustomization.yaml")
    assert kustomization["images"] == [
        {"name": "ghcr.io/stakater/eligibility-operator", "newName": "localhost/eligibility-operator", "newTag": "dev"}
    ]

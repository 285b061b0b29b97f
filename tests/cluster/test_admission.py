"""The admission webhook, called by the real API server over loopback TLS."""

from __future__ import annotations

import base64
import json
import signal
import ssl
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from eligibility_operator.runtime.serving.webhook import PATH, webhook_configuration
from eligibility_operator_dev.controlplane import free_port

from ..builders import engagement, matrix, workload
from ..conftest import REPO, Kubectl, OperatorProcess, running_operator, wait_for

EOL = "stakater/reloader:v1.1.0"
EOL_OTHER = "stakater/reloader:v1.1.7"
SOON = "stakater/reloader:v1.2.0"
OK = "ghcr.io/stakater/reloader:v1.4.21"


@pytest.fixture(scope="module")
def webhook(kubeconfig: Path, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    name = f"eo-test-{uuid.uuid4().hex[:6]}"
    port = free_port()
    log = tmp_path_factory.mktemp("webhook") / "operator.log"
    extra = ("--webhook-port", str(port), "--webhook-self-signed", "127.0.0.1", "--webhook-manage-config", name)
    try:
        with running_operator(kubeconfig, log, *extra) as proc:
            config = wait_for(
                lambda: kubectl.run("get", "validatingwebhookconfiguration", name, "-o", "json", check=False).stdout,
                what="webhook configuration",
            )
            yield {"name": name, "port": port, "proc": proc, "config": json.loads(config)}
    finally:
        kubectl.run("delete", "validatingwebhookconfiguration", name, "--ignore-not-found", check=False)


@pytest.fixture
def guarded(kubectl: Kubectl, namespace: str, webhook: dict[str, Any]) -> Iterator[Any]:
    """Returns a function that puts ``namespace`` under an engagement with the given mode and waits
    until the webhook enforces it."""
    name = f"m-{namespace}"
    kubectl.apply(matrix(name))

    def guard(mode: str, plan: str = "Standard") -> None:
        kubectl.apply(engagement(namespace, matrixRef={"name": name}, plan=plan, enforcement={"mode": mode}))
        probe = workload(namespace, "probe", EOL)

        def effective() -> bool:  # the webhook has seen the engagement once a dry run shows its mode
            result = kubectl.apply(probe, check=False, server_validation_only=True, dry_run=True)
            if mode == "Enforce":
                return "denied the request" in result.stderr
            if mode == "Warn":
                return "Warning:" in result.stderr
            return result.returncode == 0

        wait_for(effective, what=f"webhook to apply mode {mode}")
        if mode == "Audit":  # nothing to see in a dry run: wait for the operator to evaluate the engagement
            wait_for(lambda: kubectl.get("se", "contract", "-n", namespace).get("status"), what="status")

    yield guard
    kubectl.run("delete", "compatibilitymatrix", name, "--wait=false", check=False)


def test_enforce_refuses_end_of_life_with_an_actionable_message(kubectl: Kubectl, namespace: str, guarded: Any) -> None:
    guarded("Enforce")
    result = kubectl.apply(workload(namespace, "old", EOL), check=False)
    assert result.returncode != 0
    assert 'admission webhook "workloads.support.stakater.com" denied the request' in result.stderr
    assert "reloader 1.1.0 is end of life since" in result.stderr and f"{namespace}/Deployment/old" in result.stderr
    assert "upgrade to 1.4.21" in result.stderr
    assert kubectl.run("get", "deployment", "old", "-n", namespace, check=False).returncode != 0
    ok = kubectl.apply(workload(namespace, "new", OK))
    assert "Warning" not in ok.stderr


def test_enforce_only_warns_for_deprecated(kubectl: Kubectl, namespace: str, guarded: Any) -> None:
    guarded("Enforce", plan="Premium")
    result = kubectl.apply(workload(namespace, "soon", SOON))
    assert "Warning:" in result.stderr and "reloader 1.2.0 reaches end of support on" in result.stderr


def test_warn_allows_and_kubectl_prints_the_warning(kubectl: Kubectl, namespace: str, guarded: Any) -> None:
    guarded("Warn")
    result = kubectl.apply(workload(namespace, "old", EOL))
    assert result.returncode == 0
    warning = next(line for line in result.stderr.splitlines() if line.startswith("Warning:"))
    assert "reloader 1.1.0 is end of life since 20" in warning  # the end-of-support date
    assert "upgrade to 1.4.21" in warning and f"SupportEngagement {namespace}/contract" in warning
    assert len(warning) < 300


def test_audit_allows_and_records_an_event(kubectl: Kubectl, namespace: str, guarded: Any) -> None:
    guarded("Audit")

    def audit_events() -> list[str]:
        items = json.loads(kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
        return [e["message"] for e in items if e["reason"] == "AdmissionAudit"]

    before = len(audit_events())
    dry = kubectl.apply(workload(namespace, "dry", EOL), dry_run=True)
    assert dry.returncode == 0 and "Warning" not in dry.stderr
    result = kubectl.apply(workload(namespace, "old", EOL))
    assert result.returncode == 0 and "Warning" not in result.stderr
    messages = wait_for(lambda: audit_events() if len(audit_events()) > before else None, what="audit Event")
    assert any("reloader 1.1.0" in m and f"{namespace}/Deployment/old" in m for m in messages)
    assert not any(f"{namespace}/Deployment/dry" in m for m in messages), "a dry run recorded an Event"


def test_uncovered_namespace_is_untouched(kubectl: Kubectl, namespace: str, guarded: Any) -> None:
    guarded("Enforce")
    other = f"{namespace}-free"
    kubectl.run("create", "namespace", other)
    try:
        result = kubectl.apply(workload(other, "old", EOL))
        assert result.returncode == 0 and "Warning" not in result.stderr
    finally:
        kubectl.run("delete", "deployment", "--all", "-n", other, check=False)
        kubectl.run("delete", "namespace", other, "--wait=false", check=False)


def test_workload_opt_out_label_gives_audit_treatment(kubectl: Kubectl, namespace: str, guarded: Any) -> None:
    """Anyone who may edit a workload may label it: under Enforce the label only lowers it to Audit."""
    guarded("Enforce")
    result = kubectl.apply(workload(namespace, "exempt", EOL, labels={"support.stakater.com/ignore": "true"}))
    assert result.returncode == 0 and "Warning" not in result.stderr

    def audited() -> list[str]:
        items = json.loads(kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
        return [e["message"] for e in items if e["reason"] == "AdmissionAudit" and "Deployment/exempt" in e["message"]]

    (message,) = wait_for(lambda: audited() or None, what="an audit Event for the opted-out workload")
    assert "audited only: the workload is labelled support.stakater.com/ignore=true" in message


def test_running_end_of_life_workload_stays_operable(kubectl: Kubectl, namespace: str, guarded: Any) -> None:
    guarded("Audit")
    kubectl.apply(workload(namespace, "legacy", EOL))
    guarded("Enforce")
    assert kubectl.run("scale", "deployment", "legacy", "-n", namespace, "--replicas=3").returncode == 0
    assert kubectl.run("label", "deployment", "legacy", "-n", namespace, "team=payments").returncode == 0
    touched = kubectl.run("annotate", "deployment", "legacy", "-n", namespace, "note=kept")
    assert "reloader 1.1.0 is end of life" in touched.stderr  # allowed, with a warning
    # Introducing another end-of-life version is refused; moving to a supported one is not.
    bump = kubectl.run("set", "image", "deployment/legacy", "-n", namespace, f"c0={EOL_OTHER}", check=False)
    assert bump.returncode != 0 and "reloader 1.1.7" in bump.stderr
    assert kubectl.run("set", "image", "deployment/legacy", "-n", namespace, f"c0={OK}").returncode == 0
    kubectl.run("set", "image", "deployment/legacy", "-n", namespace, f"c0={EOL}", check=False)
    assert kubectl.run("delete", "deployment", "legacy", "-n", namespace).returncode == 0


def test_huge_objects_are_judged(kubectl: Kubectl, namespace: str, guarded: Any) -> None:
    guarded("Enforce")
    big = workload(
        namespace,
        "big",
        *[f"example.com/app/c{i}:v{i}" for i in range(250)],
        EOL,
        annotations={f"example.com/a{i}": "x" * 1000 for i in range(200)},
    )
    # create, not apply: apply's last-applied annotation would double the annotations past the 256 KiB limit
    result = kubectl.run("create", "--validate=false", "-f", "-", input=yaml.safe_dump(big), check=False)
    assert result.returncode != 0 and "reloader 1.1.0 is end of life" in result.stderr, result.stderr


# ------------------------------------------------ the webhook endpoint directly


def _post(webhook: dict[str, Any], body: bytes) -> tuple[int, Any]:
    ca = base64.b64decode(webhook["config"]["webhooks"][0]["clientConfig"]["caBundle"])
    with tempfile.NamedTemporaryFile(suffix=".pem") as f:
        f.write(ca)
        f.flush()
        context = ssl.create_default_context(cafile=f.name)
    request = urllib.request.Request(
        f"https://127.0.0.1:{webhook['port']}{PATH}", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _review(namespace: str, obj: Any, operation: str = "CREATE") -> bytes:
    return json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": str(uuid.uuid4()),
                "operation": operation,
                "namespace": namespace,
                "object": obj,
                "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            },
        }
    ).encode()


def test_malformed_and_huge_reviews_never_crash_the_webhook(
    kubectl: Kubectl, namespace: str, guarded: Any, webhook: dict[str, Any]
) -> None:
    guarded("Enforce")
    assert _post(webhook, b"\x00\xffnot json")[0] == 400
    assert _post(webhook, b'{"kind": "AdmissionReview"}')[0] == 400
    assert _post(webhook, b"[1, 2, 3]")[0] == 400
    odd_objects = [
        None,
        "a string",
        42,
        [],
        {"kind": "Deployment"},
        {"kind": "Deployment", "metadata": 5, "spec": "x"},
        {
            "kind": "Deployment",
            "metadata": {"name": "n", "labels": [1]},
            "spec": {
                "template": {
                    "spec": {"containers": ["not a container", {"image": 7}, {"image": None}, {"image": "@@::"}]}
                }
            },
        },
        {
            "kind": "Deployment",
            "metadata": {"name": "n"},
            "spec": {"template": {"spec": {"containers": [{"image": "x" * 100_000}]}}},
        },
    ]
    for obj in odd_objects:
        status, body = _post(webhook, _review(namespace, obj))
        assert status == 200 and body["response"]["allowed"] is True, (obj, body)
    huge = workload(
        namespace,
        "huge",
        *[f"registry.example.com/c{i}:v1.{i}" for i in range(2000)],
        EOL,
        annotations={"example.com/blob": "y" * 2_000_000},
    )
    started = time.monotonic()
    status, body = _post(webhook, _review(namespace, huge))
    assert status == 200 and body["response"]["allowed"] is False
    assert time.monotonic() - started < 5
    assert len(body["response"]["status"]["message"]) <= 1024
    status, body = _post(webhook, _review(namespace, workload(namespace, "fine", OK)))
    assert status == 200 and body["response"]["allowed"] is True


def test_managed_configuration_matches_the_cert_manager_overlay(webhook: dict[str, Any]) -> None:
    static = yaml.safe_load((REPO / "deploy/components/webhook/validatingwebhookconfiguration.yaml").read_text())
    generated = webhook_configuration("x", "https://127.0.0.1:1", b"ca", ["eligibility-operator", "kube-system"], 5)
    for a, b in zip(static["webhooks"], generated["webhooks"], strict=True):
        assert {k: v for k, v in a.items() if k != "clientConfig"} == {
            k: v for k, v in b.items() if k != "clientConfig"
        }
    served = webhook["config"]["webhooks"][0]
    assert served["failurePolicy"] == "Ignore" and served["timeoutSeconds"] <= 5


def test_applies_succeed_when_the_webhook_is_down(
    kubectl: Kubectl, namespace: str, guarded: Any, webhook: dict[str, Any]
) -> None:
    """Last in this module: kills the webhook's operator, leaving its configuration behind."""
    guarded("Enforce")
    proc: OperatorProcess = webhook["proc"]
    proc.proc.send_signal(signal.SIGKILL)
    proc.proc.wait()
    assert kubectl.run("get", "validatingwebhookconfiguration", webhook["name"]).returncode == 0
    started = time.monotonic()
    result = kubectl.apply(workload(namespace, "old", EOL))
    assert result.returncode == 0
    assert time.monotonic() - started < 15

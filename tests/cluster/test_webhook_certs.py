"""Webhook certificates with no add-on (--webhook-cert-mode=self), against the real API server: the leader
issues a CA and certificate into a Secret, injects the caBundle into the webhook configuration, and renews
the CA before expiry; both replicas serve the Secret's certificate; the API server calls the webhook with it."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import socket
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eligibility_operator.runtime.serving import certs
from eligibility_operator.runtime.serving.webhook import webhook_configuration
from eligibility_operator_dev.controlplane import free_port

from ..builders import engagement, matrix, workload
from ..conftest import Kubectl, OperatorProcess, wait_for

EOL = "stakater/reloader:v1.1.0"
SECRET = "eligibility-operator-webhook-tls"


def served_cert(port: int) -> bytes:
    """The certificate a replica serves, as PEM."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return ssl.DER_cert_to_PEM_cert(der).encode()


def same_cert(a: bytes, b: bytes) -> bool:
    return ssl.PEM_cert_to_DER_cert(a.decode()) == ssl.PEM_cert_to_DER_cert(b.decode())


def serves(port: int, cert: bytes) -> bool:
    """Whether the replica on ``port`` serves ``cert`` (False while it is not listening yet)."""
    try:
        return same_cert(served_cert(port), cert)
    except OSError:
        return False


@pytest.fixture
def own_namespace(kubectl: Kubectl) -> Iterator[str]:
    name = f"eo-own-{uuid.uuid4().hex[:6]}"
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def replicas(
    kubeconfig: Path, kubectl: Kubectl, own_namespace: str, namespace: str, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """Two replicas in cert mode self; the configuration (no caBundle, failurePolicy Fail) calls the first."""
    name = f"eo-certs-{uuid.uuid4().hex[:6]}"
    ports = [free_port(), free_port()]
    body = webhook_configuration(name, f"https://127.0.0.1:{ports[0]}", b"", [own_namespace], 5)
    hook = body["webhooks"][0]
    del hook["clientConfig"]["caBundle"]
    hook["failurePolicy"] = "Fail"  # a TLS failure must show, not pass silently
    # Only the test's namespace (a label of our own: the test API server predates kubernetes.io/metadata.name).
    kubectl.run("label", "namespace", namespace, f"eo-certs-test={name}", "--overwrite")
    hook["namespaceSelector"] = {"matchLabels": {"eo-certs-test": name}}
    kubectl.apply(body)
    procs: list[OperatorProcess] = []
    try:
        for i, port in enumerate(ports):
            procs.append(
                OperatorProcess(
                    kubeconfig,
                    tmp_path / f"operator-{i}.log",
                    *("--webhook-port", str(port), "--webhook-cert-mode", "self"),
                    *("--webhook-self-signed", "127.0.0.1", "--webhook-configuration", name),
                    *("--webhook-cert-check-interval", "1", "--shutdown-drain", "0"),
                    env={"POD_NAMESPACE": own_namespace, "POD_NAME": f"replica-{i}"},
                )
            )
        for proc in procs:
            proc.wait_healthy(60)
        yield {"name": name, "ports": ports, "procs": procs, "own": own_namespace}
    finally:
        for proc in procs:
            proc.stop()
        kubectl.run("delete", "validatingwebhookconfiguration", name, "--ignore-not-found", check=False)


def secret_bundle(kubectl: Kubectl, namespace: str) -> certs.Bundle | None:
    result = kubectl.run("get", "secret", SECRET, "-n", namespace, "-o", "json", check=False)
    if result.returncode != 0:
        return None
    return certs.Bundle.from_data(json.loads(result.stdout).get("data") or {})


def injected(kubectl: Kubectl, name: str) -> bytes:
    config = kubectl.get("validatingwebhookconfiguration", name)
    return base64.b64decode(config["webhooks"][0]["clientConfig"].get("caBundle") or "")


def enforced(kubectl: Kubectl, namespace: str) -> bool | str:
    """True when the API server called the webhook and it refused; else what the API server said."""
    result = kubectl.apply(workload(namespace, "probe", EOL), check=False, server_validation_only=True, dry_run=True)
    return "denied the request" in result.stderr or f"not refused: {result.stderr.strip()[-400:]}"


def test_self_managed_certificate_is_issued_injected_served_and_renewed(
    kubectl: Kubectl, namespace: str, replicas: dict[str, Any]
) -> None:
    own, name, ports = replicas["own"], replicas["name"], replicas["ports"]
    bundle = wait_for(lambda: secret_bundle(kubectl, own), timeout=60, what="the certificate Secret")
    secret = kubectl.get("secret", SECRET, "-n", own)
    assert secret["type"] == "kubernetes.io/tls"
    wait_for(lambda: injected(kubectl, name) == bundle.trusted, timeout=30, what="caBundle injected")
    # Both replicas serve the Secret's certificate, which names the Service and the extra host.
    for port in ports:
        wait_for(lambda port=port: serves(port, bundle.cert), timeout=30, what=f"replica on {port} serving")
    assert {"eligibility-operator-webhook." + own + ".svc", "127.0.0.1"} <= certs._sans(bundle.cert)

    # The API server trusts it: Enforce refuses through the webhook (failurePolicy Fail would show a TLS error).
    m = f"m-{namespace}"
    kubectl.apply(matrix(m), engagement(namespace, matrixRef={"name": m}, enforcement={"mode": "Enforce"}))
    try:
        seen: list[bool | str] = [False]

        def refused() -> bool:
            seen[0] = enforced(kubectl, namespace)
            return seen[0] is True

        try:
            wait_for(refused, timeout=60, what="Enforce through the self-managed cert")
        except AssertionError as exc:
            logs = "\n".join(line for p in replicas["procs"] for line in p.log().splitlines() if "DEBUG" not in line)
            raise AssertionError(f"{exc}: {seen[0]}\n{logs[-4000:]}") from None

        # A CA close to expiry (written by hand, as if years had passed) is renewed by the leader: a new CA,
        # the bundle trusts both while replicas switch, both replicas serve the new certificate.
        then = dt.datetime.now(dt.UTC) - dt.timedelta(days=certs.CA_DAYS - 10)
        old, _ = certs.renewed(None, ["127.0.0.1"], then) or pytest.fail("no bundle")
        current = kubectl.get("secret", SECRET, "-n", own)
        current["data"] = {**current["data"], **old.data()}
        kubectl.run("replace", "-f", "-", input=json.dumps(current))
        renewed = wait_for(
            lambda: (b := secret_bundle(kubectl, own)) and b.ca_cert not in (old.ca_cert, bundle.ca_cert) and b,
            timeout=30,
            what="the CA renewed",
        )
        assert renewed.trusted == renewed.ca_cert + old.ca_cert
        wait_for(lambda: injected(kubectl, name) == renewed.trusted, timeout=30, what="new caBundle injected")
        for port in ports:
            wait_for(lambda port=port: serves(port, renewed.cert), timeout=30, what="reloaded")
        assert enforced(kubectl, namespace) is True
        logs = "".join(p.log() for p in replicas["procs"])
        assert "CA renewed before expiry" in logs
    finally:
        kubectl.run("delete", "compatibilitymatrix", m, "--wait=false", check=False)
        with contextlib.suppress(Exception):
            kubectl.run("delete", "se", "--all", "-n", namespace, check=False)

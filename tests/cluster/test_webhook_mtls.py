"""Mutual TLS between the real API server and the webhook, configured as the README documents it.

A control plane of its own, started with ``--admission-control-config-file`` naming a kubeconfig whose
client certificate the API server presents to webhooks; the operator runs with ``--webhook-client-ca``.
Enforce then refuses an end-of-life version (so the API server got in), while a caller without a client
certificate (anything else that reaches the port) is refused at the TLS handshake.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from eligibility_operator.runtime.serving.webhook import PATH, self_signed
from eligibility_operator_dev.cluster import apply_defaults
from eligibility_operator_dev.controlplane import ControlPlane, free_port

from ..builders import engagement, matrix, workload
from ..conftest import Kubectl, running_operator, wait_for

EOL = "stakater/reloader:v1.1.0"


class MutualTLSControlPlane(ControlPlane):
    """The test control plane, its API server presenting a client certificate to every webhook."""

    def _spawn(self, name: str, argv: list[str]) -> None:
        if name == "kube-apiserver":
            assert self.workdir is not None
            client = self_signed(self.workdir / "webhook-client", ["kube-apiserver"])
            (self.workdir / "webhook-client-ca.crt").write_bytes(client.ca_pem)
            kubeconfig = self.workdir / "webhook-kubeconfig.yaml"
            kubeconfig.write_text(
                yaml.safe_dump(
                    {
                        "apiVersion": "v1",
                        "kind": "Config",
                        "users": [
                            {
                                "name": "*",  # any webhook (the README names the Service's host:port)
                                "user": {"client-certificate": str(client.certfile), "client-key": str(client.keyfile)},
                            }
                        ],
                    }
                )
            )
            admission = self.workdir / "admission.yaml"
            admission.write_text(
                yaml.safe_dump(
                    {
                        "apiVersion": "apiserver.config.k8s.io/v1",
                        "kind": "AdmissionConfiguration",
                        "plugins": [
                            {
                                "name": "ValidatingAdmissionWebhook",
                                "configuration": {
                                    "apiVersion": "apiserver.config.k8s.io/v1",
                                    "kind": "WebhookAdmissionConfiguration",
                                    "kubeConfigFile": str(kubeconfig),
                                },
                            }
                        ],
                    }
                )
            )
            argv = [*argv, f"--admission-control-config-file={admission}"]
        super()._spawn(name, argv)


@pytest.fixture(scope="module")
def plane() -> Iterator[MutualTLSControlPlane]:
    with MutualTLSControlPlane() as p:
        apply_defaults(p.kubeconfig)
        yield p


def test_the_api_server_gets_in_and_others_do_not(plane: MutualTLSControlPlane, tmp_path: Path) -> None:
    assert plane.workdir is not None
    kubectl = Kubectl(plane.kubeconfig)
    namespace = f"mtls-{uuid.uuid4().hex[:6]}"
    kubectl.run("create", "namespace", namespace)
    kubectl.apply(matrix("m"), engagement(namespace, matrixRef={"name": "m"}, enforcement={"mode": "Enforce"}))
    port = free_port()
    name = f"eo-mtls-{uuid.uuid4().hex[:6]}"
    ca = plane.workdir / "webhook-client-ca.crt"
    extra = (
        "--webhook-port", str(port), "--webhook-self-signed", "127.0.0.1", "--webhook-manage-config", name,
        "--webhook-client-ca", str(ca),
    )  # fmt: skip
    with running_operator(plane.kubeconfig, tmp_path / "operator.log", *extra) as proc:

        def refused() -> str | None:
            result = kubectl.apply(workload(namespace, "old", EOL), check=False, dry_run=True)
            return result.stderr if "denied the request" in result.stderr else None

        message = wait_for(refused, timeout=40, what="Enforce through mutual TLS")
        assert "reloader 1.1.0 is end of life" in message

        # Anything else that reaches the port, even trusting the serving certificate, is refused.
        config = json.loads(kubectl.run("get", "validatingwebhookconfiguration", name, "-o", "json").stdout)
        import base64

        context = ssl.create_default_context(
            cadata=base64.b64decode(config["webhooks"][0]["clientConfig"]["caBundle"]).decode()
        )
        review: dict[str, Any] = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {"uid": "u"},
        }
        request = urllib.request.Request(
            f"https://127.0.0.1:{port}{PATH}", data=json.dumps(review).encode(), method="POST"
        )
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(request, context=context, timeout=5).read()
        assert "Traceback" not in proc.log()

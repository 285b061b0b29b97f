"""The validating admission webhook: a TLS endpoint in the operator's event loop.

Kopf has admission support, but the webhook configuration it manages has a fixed
30-second timeout and no namespace selector; this webhook needs a short timeout,
exempt namespaces and an opt-out label, so it is served here with aiohttp (which
Kopf uses) and its configuration is either static (``deploy/overlays/cert-manager``)
or managed below for the local control plane.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from .api.models import GROUP
from .core.admission import Decision, Guard, decide, guards_for, response
from .core.workloads import OPT_OUT_LABEL
from .kubeapi import KubeApi, describe_error
from .metrics import OperatorMetrics
from .state import OperatorState
from .tasks import BackgroundTasks

log = logging.getLogger("eligibility_operator")
WEBHOOK_NAME = f"workloads.{GROUP}"
PATH = "/validate-workloads"
MAX_BODY_BYTES = 8 * 1024 * 1024  # the API server sends at most ~3 MiB objects; refuse anything beyond


@dataclass(frozen=True)
class ServingCert:
    certfile: Path
    keyfile: Path
    ca_pem: bytes


def self_signed(directory: Path, hosts: list[str]) -> ServingCert:
    """A CA and a serving certificate for ``hosts`` (IPs or DNS names), valid for a year."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eligibility-operator webhook CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    certfile, keyfile = directory / "tls.crt", directory / "tls.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    keyfile.chmod(0o600)
    return ServingCert(certfile, keyfile, ca.public_bytes(serialization.Encoding.PEM))


def webhook_configuration(name: str, url: str, ca_pem: bytes, exempt: list[str], timeout: int) -> dict[str, Any]:
    """The ValidatingWebhookConfiguration for a webhook reached at ``url`` (local control plane)."""
    import base64

    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "eligibility-operator"}},
        "webhooks": [
            {
                "name": WEBHOOK_NAME,
                "admissionReviewVersions": ["v1"],
                "sideEffects": "NoneOnDryRun",  # Audit records Events, but never for dry runs
                "failurePolicy": "Ignore",
                "timeoutSeconds": timeout,
                "matchPolicy": "Equivalent",
                "clientConfig": {"url": url + PATH, "caBundle": base64.b64encode(ca_pem).decode()},
                "rules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "resources": [
                            "deployments",
                            "statefulsets",
                            "daemonsets",
                        ],  # no subresources: scale, status pass
                        "operations": ["CREATE", "UPDATE"],
                        "scope": "Namespaced",
                    }
                ],
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": exempt},
                        {"key": OPT_OUT_LABEL, "operator": "NotIn", "values": ["true"]},
                    ]
                },
                "objectSelector": {
                    "matchExpressions": [{"key": OPT_OUT_LABEL, "operator": "NotIn", "values": ["true"]}]
                },
            }
        ],
    }


class AdmissionHandler:
    """Turns AdmissionReviews into decisions using the operator's engagements and matrices."""

    def __init__(
        self,
        state: OperatorState,
        kube: KubeApi,
        metrics: OperatorMetrics,
        tasks: BackgroundTasks,
        exempt_namespaces: frozenset[str],
    ) -> None:
        self.state = state
        self.kube = kube
        self.metrics = metrics
        self.tasks = tasks
        self.exempt = exempt_namespaces

    def guards(self, namespace: str) -> list[Guard]:
        engagements = ((r.namespace, r.name, r.spec) for r in self.state.engagements.values())
        labels = self.state.namespace_labels(namespace)
        return guards_for(namespace, labels, engagements, self.state.compiled_matrix, self.state.platform)

    async def handle(self, request: web.Request) -> web.Response:
        try:
            if (request.content_length or 0) > MAX_BODY_BYTES:
                return web.Response(status=413, text="request too large\n")
            review = json.loads(await request.read())
            req = review["request"]
            uid = str(req["uid"])
        except (ValueError, KeyError, TypeError) as exc:
            return web.Response(status=400, text=f"not an AdmissionReview: {type(exc).__name__}\n")
        try:
            namespace = str(req.get("namespace") or "")
            decision = decide(req, self.guards(namespace), self.state.today(), self.exempt)
        except Exception:  # a bug must not block deployments: allow, and say so in the log and metrics
            log.exception("admission review %s failed; allowing", uid)
            self.metrics.errors.labels("admission").inc()
            decision = Decision()
        if decision.mode is not None:
            self.metrics.admission_reviews.labels(str(decision.mode), decision.outcome).inc()
        if decision.audit and not req.get("dryRun"):
            self.tasks.start(self._record(decision), name="admission-audit")
        return web.json_response(response(uid, decision))

    async def _record(self, decision: Decision) -> None:
        for guard, message in decision.audit:
            record = self.state.engagement((guard.namespace, guard.name))
            if record is None:
                continue
            try:
                await asyncio.to_thread(
                    self.kube.emit_event,
                    namespace=guard.namespace,
                    name=guard.name,
                    uid=record.uid,
                    kind="SupportEngagement",
                    reason="AdmissionAudit",
                    message=message,
                    warning=True,
                )
                self.metrics.events_posted.inc()
            except Exception as exc:
                self.metrics.errors.labels("event").inc()
                log.warning("could not record an admission audit Event: %s", describe_error(exc))


async def serve(handler: AdmissionHandler, host: str, port: int, cert: ServingCert) -> None:
    """Serve the webhook over TLS until cancelled."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert.certfile, cert.keyfile)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.add_routes([web.post(PATH, handler.handle)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=context).start()
    log.info("admission webhook serving on https://%s:%d%s", host, port, PATH)
    try:
        await _reload_on_renewal(context, cert)
    finally:
        await runner.cleanup()


async def _reload_on_renewal(context: ssl.SSLContext, cert: ServingCert, every: float = 30.0) -> None:
    """Load a renewed certificate (cert-manager rotates key and CA) into the live TLS context.

    Without this the API server would stop trusting the old certificate after a renewal, and with
    failurePolicy Ignore every request would pass unjudged, silently, until the pod restarted.
    """

    def stamp() -> tuple[float, float]:
        return (cert.certfile.stat().st_mtime, cert.keyfile.stat().st_mtime)

    seen = stamp()
    while True:
        await asyncio.sleep(every)
        try:
            current = stamp()
            if current != seen:
                context.load_cert_chain(cert.certfile, cert.keyfile)
                seen = current
                log.info("admission webhook: loaded the renewed serving certificate")
        except (OSError, ssl.SSLError) as exc:  # mid-rotation (files swapped one by one): next round
            log.warning("admission webhook: could not load the serving certificate yet: %s", exc)

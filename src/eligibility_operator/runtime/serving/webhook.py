"""The validating admission webhook: a TLS endpoint in the operator's event loop.

Kopf has admission support, but the webhook configuration it manages has a fixed
30-second timeout and no namespace selector; this webhook needs a short timeout,
exempt namespaces and an opt-out label, so it is served here with aiohttp (which
Kopf uses) and its configuration is either static (``deploy/components/webhook``, the chart,
OLM's ``webhookdefinitions``) or managed below for the local control plane. Where the serving
certificate comes from is ``--webhook-cert-mode``; in mode ``self``, :mod:`.certs` keeps it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from ...api.models import GROUP
from ...core.admission.audit import AuditEvent, AuditLimiter
from ...core.admission.decisions import Decision, Guard, decide, guards_for, response
from ...core.admission.reviews import ReviewError, read_review
from ...core.products.workloads import OPT_OUT_LABEL
from ..kube.api import describe_error
from ..parts import Component, Parts
from . import limits as serving
from .parser import ParserProcess
from .quiet import bad_request

log = logging.getLogger("eligibility_operator")
WEBHOOK_NAME = f"workloads.{GROUP}"
PATH = "/validate-workloads"
# The API server refuses request bodies over 3 MiB (its default --max-request-bytes); an UPDATE's review
# carries the new and the old object, so a legitimate review stays under twice that plus its envelope.
API_SERVER_REQUEST_LIMIT = 3 * 1024 * 1024
MAX_BODY_BYTES = 2 * API_SERVER_REQUEST_LIMIT + 64 * 1024
DEADLINE_SECONDS = 2.0  # a decision within this, or the request is allowed with a warning (timeout: 5 s)
MAX_IN_FLIGHT = 8  # reviews read and judged at once (memory: 8 bodies); the others wait within the deadline
# Connections are counted from accept, pending TLS handshakes included (256 KiB each: 128 take 32 MiB); a
# handshake gets 2 s (the API server's takes milliseconds); the whole request, DEADLINE_SECONDS from its first
# byte. Bodies are read before a review slot is taken, so together they get a budget: 32 MiB (five of the
# largest reviews, or thousands of ordinary ones); past it, the bodies arriving longest are evicted.
LIMITS = serving.Limits(
    max_connections=128,
    handshake_timeout=2.0,
    header_timeout=5.0,
    body_timeout=3.0,
    max_body_bytes=MAX_BODY_BYTES,
    max_body_total=32 * 1024 * 1024,
)


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

    from .certs import subject_alt_names

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
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(subject_alt_names(hosts), critical=False)
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
                # Only a namespace label opts out; a workload's own label lowers its treatment to Audit,
                # so workloads are all sent (no objectSelector).
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": exempt},
                        {"key": OPT_OUT_LABEL, "operator": "NotIn", "values": ["true"]},
                    ]
                },
            }
        ],
    }


class AdmissionHandler(Component):
    """Turns AdmissionReviews into decisions using the operator's engagements and matrices."""

    def __init__(
        self,
        parts: Parts,
        exempt_namespaces: frozenset[str],
        limits: serving.Limits = LIMITS,
        deadline: float = DEADLINE_SECONDS,
    ) -> None:
        super().__init__(parts)
        self.exempt = exempt_namespaces
        self.limits = limits
        self.deadline = deadline
        self.audit = AuditLimiter()
        self._audit_exported: dict[str, int] = {}  # what the withheld counters already counted
        self._parser = ParserProcess()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="admission")
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def start(self) -> None:
        """Start the parser process now rather than on the first review (spawning takes a moment)."""
        await asyncio.wrap_future(self._parser.submit(len, b""))

    def close(self) -> None:
        self._parser.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def guards(self, namespace: str) -> list[Guard]:
        state = self.state
        labels = state.namespace_labels(namespace)
        return guards_for(namespace, labels, state.engagement_specs(), state.compiled_matrix, state.platform)

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one review; while this replica is not ready (draining after SIGTERM, or starting), close
        the connection after the answer.

        The API server keeps its connection to a pod open (and conntrack keeps it on that pod even after
        the Service has dropped it): without this, its reviews keep coming here until the server stops,
        and one sent at that moment fails with EOF. Closed, its next review opens a new connection, which
        the Service sends to a ready replica."""
        response = await self._handle(request)
        if not self.state.is_ready():
            response.force_close()
        return response

    async def _handle(self, request: web.Request) -> web.Response:
        """Answer one review: bounded body, bounded time, never a traceback, never a 500.

        The whole request (head and body) must arrive within ``deadline`` of its first byte, and only a
        review read completely waits for one of the ``MAX_IN_FLIGHT`` slots: a client that sends its body
        slowly holds a connection (which the cap may evict), never a slot that a real review needs."""
        loop = asyncio.get_running_loop()
        try:
            body = await serving.read_body(request, self.limits, serving.request_started(request) + self.deadline)
        except serving.BodyError as exc:
            bad_request("admission webhook: %s (from %s)", exc.text.strip(), request.remote)
            return web.Response(status=exc.status, text=exc.text)
        serving.answering(request)
        deadline = loop.time() + self.deadline
        try:  # at most MAX_IN_FLIGHT reviews parsed and judged at once; the others wait, within the deadline
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            self.metrics.errors.labels("admission_busy").inc()
            return web.Response(status=503, text="too many reviews at once\n")
        try:
            return await self._answer(body, deadline)
        finally:
            self._slots.release()

    async def _answer(self, body: bytes, deadline: float) -> web.Response:
        loop = asyncio.get_running_loop()
        try:
            # A review is parsed in a process of its own (see .parser), which hands back only what the
            # decision reads. The (small) decision runs in a thread.
            async with asyncio.timeout_at(deadline):
                uid, req = await asyncio.wrap_future(self._parser.submit(read_review, body))
        except ReviewError as exc:
            bad_request("admission webhook: not an AdmissionReview: %s", exc)
            return web.Response(status=400, text=f"not an AdmissionReview: {exc}\n")
        except BrokenProcessPool:  # the parser died (e.g. out of memory): start another, answer this one 503
            log.warning("admission webhook: the review parser stopped; starting another")
            self.metrics.errors.labels("admission").inc()
            self._parser.close()
            self._parser = ParserProcess()
            return web.Response(status=503, text="review parser restarting\n")
        except TimeoutError:
            self.metrics.errors.labels("admission_deadline").inc()
            log.warning("admission review not read within %.1f s; answering 503", self.deadline)
            return web.Response(status=503, text="review not read in time\n")
        namespace = str(req.get("namespace") or "")
        guards = self.guards(namespace)
        try:
            async with asyncio.timeout_at(deadline):
                decision = await loop.run_in_executor(self._pool, decide, req, guards, self.state.today(), self.exempt)
        except TimeoutError:
            self.metrics.errors.labels("admission_deadline").inc()
            log.warning("admission review %s not judged within %.1f s; allowing", uid, self.deadline)
            decision = Decision(warnings=[f"{WEBHOOK_NAME}: not judged within {self.deadline:g} s; allowed"])
        except Exception:  # a bug must not block deployments: allow, and say so in the log and metrics
            log.exception("admission review %s failed; allowing", uid)
            self.metrics.errors.labels("admission").inc()
            decision = Decision()
        if decision.mode is not None:
            self.metrics.admission_reviews.labels(str(decision.mode), decision.outcome).inc()
        if decision.audit and not req.get("dryRun"):
            self._audit(decision)
        return web.json_response(response(uid, decision))

    def _audit(self, decision: Decision) -> None:
        """Hand the findings to the limiter; post the Events it lets through (few, whatever the flood)."""
        now = time.monotonic()
        self.audit.retain(self.state.engagements.keys())  # deleted engagements' rate state goes
        events = [
            event
            for guard, message in decision.audit
            if (event := self.audit.admit((guard.namespace, guard.name, message), message, now)) is not None
        ]
        for reason, total in self.audit.withheld().items():
            counter = self.metrics.audit_withheld.labels(reason)
            counter.inc(total - self._audit_exported.get(reason, 0))
            self._audit_exported[reason] = total
        if events:
            self.tasks.start(self._record(events), name="admission-audit")

    async def _record(self, events: list[AuditEvent]) -> None:
        for event in events:
            try:
                record = self.state.engagement(event.engagement)
                if record is None:
                    continue
                await asyncio.to_thread(
                    self.kube.emit_event,
                    namespace=event.engagement[0],
                    name=event.engagement[1],
                    uid=record.uid,
                    kind="SupportEngagement",
                    reason="AdmissionAudit",
                    message=event.text(),
                    warning=True,
                )
                self.metrics.events_posted.inc()
            except Exception as exc:
                self.metrics.errors.labels("event").inc()
                log.warning("could not record an admission audit Event: %s", describe_error(exc))
            finally:
                self.audit.done()


def tls_context(cert: ServingCert, client_ca: Path | None = None) -> ssl.SSLContext:
    """The webhook's TLS context; with ``client_ca``, only clients with a certificate it signed get in."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert.certfile, cert.keyfile)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(client_ca))
    return context


async def serve(
    handler: AdmissionHandler,
    host: str,
    port: int,
    cert: ServingCert,
    client_ca: Path | None = None,
    keep_current: Callable[[ssl.SSLContext], Awaitable[None]] | None = None,
    listening: asyncio.Event | None = None,
) -> None:
    """Serve the webhook over TLS until cancelled; ``keep_current`` keeps the context's certificate current
    (default: reload the files when they change); ``listening`` is set once it accepts connections."""
    context = tls_context(cert, client_ca)
    app = web.Application(client_max_size=handler.limits.max_body_bytes)
    app.add_routes([web.post(PATH, handler.handle)])
    runner = serving.runner(app, handler.limits)
    await handler.start()
    await runner.setup()
    listener = await serving.start(
        runner, host, port, handler.limits, context, lambda: handler.metrics.errors.labels("admission_refused").inc()
    )
    mutual = " (mutual TLS)" if client_ca else ""
    log.info("admission webhook serving on https://%s:%d%s%s", host, port, PATH, mutual)
    if listening is not None:
        listening.set()
    draining = asyncio.create_task(_close_kept_alive_while_not_ready(handler, serving.connections(runner)))
    try:
        if keep_current is not None:
            await keep_current(context)
        else:
            await _reload_on_renewal(context, cert, client_ca)
    finally:
        draining.cancel()
        await serving.stop(listener, runner)
        handler.close()


async def _close_kept_alive_while_not_ready(
    handler: AdmissionHandler, table: serving.Connections, every: float = 0.2
) -> None:
    """While this replica is not ready (draining after SIGTERM), close the API server's pooled connections
    here as soon as they are idle: its next review then goes through the Service to a ready replica. (A
    review answered meanwhile closes its connection too: :meth:`AdmissionHandler.handle`.)"""
    while True:
        if not handler.state.is_ready():
            table.close_kept_alive()
        await asyncio.sleep(every)


async def _reload_on_renewal(
    context: ssl.SSLContext, cert: ServingCert, client_ca: Path | None = None, every: float = 30.0
) -> None:
    """Load a renewed certificate (cert-manager rotates key and CA) into the live TLS context.

    Without this the API server would stop trusting the old certificate after a renewal, and with
    failurePolicy Ignore every request would pass unjudged, silently, until the pod restarted.
    """

    def stamp() -> tuple[float, ...]:
        files = (cert.certfile, cert.keyfile, *((client_ca,) if client_ca else ()))
        return tuple(f.stat().st_mtime for f in files)

    seen = stamp()
    while True:
        await asyncio.sleep(every)
        try:
            current = stamp()
            if current != seen:
                context.load_cert_chain(cert.certfile, cert.keyfile)
                if client_ca is not None:
                    context.load_verify_locations(cafile=str(client_ca))  # adds the new CA; the old stays
                seen = current
                log.info("admission webhook: loaded the renewed serving certificate")
        except (OSError, ssl.SSLError) as exc:  # mid-rotation (files swapped one by one): next round
            log.warning("admission webhook: could not load the serving certificate yet: %s", exc)

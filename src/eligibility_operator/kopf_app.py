"""The thin Kopf shell: watches that feed the :class:`Reconciler`, and the operator's entry point.

Customer workloads are only read (LIST and WATCH), by the operator's own watches
(:mod:`workload_watch`, started here): Kopf's per-event machinery was most of the
start-up CPU for them. No annotation, finalizer or status is ever written to a
workload (``tests/test_operator.py`` checks that). Kopf's index handlers are not
used: their start-up gating costs O(N²) wake-ups with N objects (5,000 Deployments
took minutes); the reconciler primes itself instead (see ``Reconciler.prime``).

Our own resources and namespaces are watched by Kopf with low-level ``on.event`` handlers: the operator keeps no
per-object handler progress, so Kopf never writes annotations or finalizers to
engagements or matrices either; the reconciler writes their status itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kopf

from . import kubeconn
from .api.models import GROUP, VERSION
from .core.workloads import WATCHED_RESOURCES
from .kubeapi import KubeApi, describe_error
from .leadership import (
    AlwaysLeader,
    ElectionOptions,
    FencedKubeApi,
    KubeLeaseStore,
    LeaderElector,
    Leadership,
)
from .metrics import OperatorMetrics
from .metrics import build_registry as build_metrics_registry
from .reconciler import Reconciler
from .request_triager import RequestTriager
from .state import OperatorState
from .tasks import BackgroundTasks, Backoff
from .workload_watch import WatchOptions, WorkloadWatches

log = logging.getLogger("eligibility_operator")


class NoEssenceDiffBase(kopf.AnnotationsDiffBaseStorage):
    """Kopf builds an object's "essence" (a deep copy of it) on every event to detect changes for
    high-level handlers. This operator has none, so the essence is empty: that deep copy was a fifth of
    the CPU of a cold start with 10,000 workloads. Nothing is ever stored (``store`` is never called
    without change-detecting handlers)."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()


def _meta(body: Mapping[str, Any]) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def build_registry(
    reconciler: Reconciler, inactivity_timeout: float = 70.0, triager: RequestTriager | None = None
) -> kopf.OperatorRegistry:
    """Register every handler on a private registry bound to ``reconciler`` (and ``triager``)."""
    registry = kopf.OperatorRegistry()

    if triager is not None:

        @kopf.on.event(GROUP, VERSION, "supportrequests", registry=registry)
        async def request_event(event: kopf.RawEvent, **_: Any) -> None:
            body = event["object"]
            if event["type"] == "DELETED":
                triager.request_gone(*_meta(body))
            else:
                triager.request_seen(body)
                if event["type"] is None:
                    reconciler.relisted()

    # The workload kinds are watched by workload_watch (read only), not by Kopf.

    @kopf.on.event("", "v1", "namespaces", registry=registry)
    async def namespace_event(event: kopf.RawEvent, name: str, **_: Any) -> None:
        if event["type"] == "DELETED":
            reconciler.namespace_gone(name)
        else:
            reconciler.namespace_seen(name, dict((event["object"].get("metadata") or {}).get("labels") or {}))
            if event["type"] is None:
                reconciler.relisted()

    @kopf.on.event(GROUP, VERSION, "supportengagements", registry=registry)
    async def engagement_event(event: kopf.RawEvent, **_: Any) -> None:
        body = event["object"]
        if event["type"] == "DELETED":
            reconciler.engagement_gone(*_meta(body))
        else:
            reconciler.engagement_seen(body)
            if event["type"] is None:
                reconciler.relisted()

    @kopf.on.event(GROUP, VERSION, "compatibilitymatrices", registry=registry)
    async def matrix_event(event: kopf.RawEvent, **_: Any) -> None:
        body = event["object"]
        if event["type"] == "DELETED":
            reconciler.matrix_gone(_meta(body)[1])
        else:
            reconciler.matrix_seen(body)
            if event["type"] is None:
                reconciler.relisted()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # In-cluster service account, else $KUBECONFIG: the same login as the workload watches'.
        return kubeconn.login(**kwargs)

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Kopf posts Events for its own log lines; they would be about customer workloads. Ours go
        # through the reconciler, about engagements only.
        settings.posting.enabled = False
        settings.persistence.finalizer = f"{GROUP}/unused-finalizer"  # never set: no high-level handlers
        settings.persistence.diffbase_storage = NoEssenceDiffBase()
        # The server ends each watch after 5 minutes and Kopf resumes it from the last resource version;
        # the client gives up 30 s later if the server did not (a half-open connection).
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.watching.connect_timeout = 15
        # A watch that delivers nothing (not even a bookmark) for this long is presumed dead and reopened:
        # this is what notices a frozen API server or a silently dropped connection.
        settings.watching.inactivity_timeout = inactivity_timeout
        # Kopf's own API calls (listing, discovery) fail after a minute instead of five, and are retried.
        settings.networking.request_timeout = 60
        settings.networking.connect_timeout = 15
        # List in pages: a single LIST of 10,000 Deployments is tens of MB of JSON parsed at once.
        settings.watching.chunk_size = 500
        # Kopf keeps a worker per object for this long after its last event, and an idle worker still
        # references that event's full body: with the default 5 s, listing N objects holds N bodies.
        settings.queueing.idle_timeout = 0.2

    return registry


@dataclass(frozen=True)
class WebhookOptions:
    port: int
    host: str = "0.0.0.0"  # a pod serves on all its interfaces
    cert_dir: Path | None = None  # tls.crt and tls.key, e.g. from cert-manager
    self_signed_hosts: tuple[str, ...] = ()  # generate a CA and certificate for these at start
    manage_configuration: str | None = None  # name of a ValidatingWebhookConfiguration to create and remove
    url: str | None = None  # how the API server reaches us, for a managed configuration
    exempt_namespaces: frozenset[str] = frozenset({"kube-system"})
    timeout_seconds: int = 5
    client_ca: Path | None = None  # mutual TLS: only clients with a certificate signed by this CA


async def _run_webhook(
    state: OperatorState,
    kube: KubeApi,
    metrics: OperatorMetrics,
    tasks: BackgroundTasks,
    options: WebhookOptions,
    fenced: KubeApi,
    leadership: Leadership,
) -> None:
    """Serve admission (every replica, from its own state); the leader alone writes a managed configuration.

    Admission audit Events go through ``kube``, unfenced: each review reaches one replica, and only that
    one can record it."""
    from . import webhook

    if options.self_signed_hosts:
        cert = webhook.self_signed(Path(tempfile.mkdtemp(prefix="eo-webhook-")), list(options.self_signed_hosts))
    elif options.cert_dir is not None:
        cert = webhook.ServingCert(options.cert_dir / "tls.crt", options.cert_dir / "tls.key", b"")
    else:
        raise ValueError("the webhook needs --webhook-cert-dir or --webhook-self-signed")
    handler = webhook.AdmissionHandler(state, kube, metrics, tasks, options.exempt_namespaces)
    server = tasks.start(
        webhook.serve(handler, options.host, options.port, cert, options.client_ca), name="webhook-server"
    )
    name = options.manage_configuration
    try:
        if name:
            url = options.url or f"https://127.0.0.1:{options.port}"
            body = webhook.webhook_configuration(
                name, url, cert.ca_pem, sorted(options.exempt_namespaces), options.timeout_seconds
            )

            async def point_here() -> None:
                # The API server may be briefly away at start: retry while this replica leads.
                backoff = Backoff()
                while leadership.may_write():
                    try:
                        await asyncio.to_thread(fenced.apply_webhook_configuration, dict(body))
                    except Exception as exc:
                        metrics.errors.labels("webhook_configuration").inc()
                        log.warning("could not write ValidatingWebhookConfiguration %s: %s", name, describe_error(exc))
                        await asyncio.sleep(backoff.delay())
                        continue
                    log.info("ValidatingWebhookConfiguration %s points at %s", name, url)
                    return

            def on_leadership(leading: bool) -> None:
                if leading:
                    tasks.start(point_here(), name="webhook-configuration")

            leadership.on_change(on_leadership)
            on_leadership(leadership.may_write())
        await server
    finally:
        server.cancel()  # a managed configuration is removed by _shut_down, before the Lease is released


async def run_operator(
    kube: KubeApi,
    *,
    namespaces: list[str] | None = None,
    coalesce_seconds: float = 0.05,
    metrics_host: str = "0.0.0.0",  # a pod serves probes and metrics on all its interfaces
    metrics_port: int = 8080,
    inactivity_timeout: float = 70.0,
    webhook: WebhookOptions | None = None,
    stop_flag: asyncio.Event | None = None,
    cross_namespace: frozenset[str] = frozenset({"*"}),
    cluster_name: str = "",
    election: ElectionOptions | None = None,
    identity: str = "standalone",
    shutdown_drain: float = 0.0,
    user_agent: str = "eligibility-operator",
) -> None:
    """Run Kopf with our handlers, the reconciler's loops and the metrics/health server until stopped.

    ``cluster_name``: label every metric series with ``cluster`` (empty: no such label). With
    ``election``, writes wait for the Lease (:mod:`leadership`); without, this process always writes.
    """
    from . import http_server, kopf_patches

    state = OperatorState(namespaces=frozenset(namespaces or ()))
    metrics = OperatorMetrics(cluster=cluster_name)
    tasks = BackgroundTasks(lambda operation: metrics.errors.labels(operation).inc())
    elector: LeaderElector | None = None
    leadership: Leadership = AlwaysLeader(identity)
    if election is not None:
        api_client = getattr(kube, "api", None)
        elector = LeaderElector(
            KubeLeaseStore(api_client, election.namespace, election.name), election.identity, election.timing
        )
        leadership = elector
        log.info("leader election: candidate %s for Lease %s/%s", election.identity, election.namespace, election.name)
    metrics.leader.set_function(lambda: float(leadership.may_write()))
    fenced = FencedKubeApi(kube, leadership)
    reconciler = Reconciler(
        state,
        fenced,
        metrics,
        coalesce_seconds=coalesce_seconds,
        tasks=tasks,
        cross_namespace=cross_namespace,
        leadership=leadership,
    )
    leadership.on_change(reconciler.leadership_changed)
    kopf_patches.skip_spawning_without_daemons()
    triager = RequestTriager(
        state,
        fenced,
        metrics,
        tasks=tasks,
        coalesce_seconds=coalesce_seconds,
        leadership=leadership,
        seen=reconciler.seen,
    )
    reconciler.on_marked = triager.engagements_marked
    reconciler.on_request_gone = triager.request_gone
    registry = build_registry(reconciler, inactivity_timeout, triager)
    watches = WorkloadWatches(
        lambda: kubeconn.Connection.from_info(kubeconn.login(), user_agent),
        WATCHED_RESOURCES,
        reconciler,
        namespaces=state.namespaces,
        options=WatchOptions(inactivity_timeout=inactivity_timeout),
        count_error=reconciler.count_error,
    )
    reconciler.seen.delegate({kind for *_, kind in WATCHED_RESOURCES}, watches.listed)
    tasks.start(watches.run(), name="workload-watches", forever=True)
    # These must keep running (prime until it is done): /healthz fails if one has stopped.
    tasks.start(reconciler.run(), name="reconciler", forever=True)
    tasks.start(triager.run(), name="request-triager", forever=True)
    tasks.start(reconciler.resync_forever(), name="resync", forever=True)
    tasks.start(reconciler.watch_platform_forever(), name="platform", forever=True)
    tasks.start(reconciler.sweep_forever(), name="sweep", forever=True)
    tasks.start(reconciler.prime(), name="prime", critical=True)
    if webhook:
        tasks.start(
            _run_webhook(state, kube, metrics, tasks, webhook, fenced, leadership), name="webhook", forever=True
        )
    campaign = tasks.start(elector.run(), name="leader-election", forever=True) if elector else None
    app = http_server.make_app(state, build_metrics_registry(metrics, state), tasks.stopped)
    tasks.start(http_server.serve(app, metrics_host, metrics_port), name="http", forever=True)
    try:
        await kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces or [],
            stop_flag=stop_flag,
        )
    finally:
        managed = webhook.manage_configuration if webhook else None
        await _shut_down(state, tasks, fenced, elector, campaign, managed, shutdown_drain if webhook else 0.0)


async def _shut_down(
    state: OperatorState,
    tasks: BackgroundTasks,
    fenced: FencedKubeApi,
    elector: LeaderElector | None,
    campaign: asyncio.Task[Any] | None,
    managed_configuration: str | None,
    drain: float,
) -> None:
    """Stop without leaving a gap: fail readiness (the Service stops sending reviews here), hand the Lease
    over at once rather than after its duration, keep answering reviews already routed here for ``drain``
    seconds, then stop everything."""
    state.ready.clear()
    if campaign is not None:
        campaign.cancel()
        await asyncio.gather(campaign, return_exceptions=True)
    if managed_configuration and fenced.leadership.may_write():
        # A configuration left behind keeps being called (and, with Ignore, only slows requests down).
        # The next leader writes its own.
        with contextlib.suppress(Exception):
            await asyncio.to_thread(fenced.delete_webhook_configuration, managed_configuration)
    if elector is not None:
        await asyncio.to_thread(elector.release)
    if drain > 0:
        log.info("shutting down: answering admission for %.0f s more while the Service forgets this replica", drain)
        await asyncio.sleep(drain)
    await tasks.close()

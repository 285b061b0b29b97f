"""The operator's entry point: builds every part from the configuration, runs Kopf with the handlers
(:mod:`.handlers`), the controllers' loops, leader election, the webhook and the metrics server, and
shuts down without leaving a gap."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import kopf

from ..core.products.workloads import WATCHED_RESOURCES
from .config import OperatorConfig, WebhookConfig
from .controllers.matrix_store import ConfigMapStore
from .controllers.routes import Routes
from .handlers import build_registry
from .kube.api import KubeClient, describe_error
from .leadership import (
    AlwaysLeader,
    FencedKubeApi,
    KubeLeaseStore,
    LeaderElector,
    Leadership,
)
from .metrics import OperatorMetrics
from .metrics import build_registry as build_metrics_registry
from .parts import Parts
from .state import OperatorState
from .tasks import BackgroundTasks, Backoff
from .watches import WorkloadWatches

if TYPE_CHECKING:
    from .serving.certs import SecretCerts
    from .serving.webhook import ServingCert

log = logging.getLogger("eligibility_operator")


async def _run_webhook(parts: Parts, kube: KubeClient, options: WebhookConfig, listening: asyncio.Event) -> None:
    """Serve admission (every replica, from its own state); the leader alone writes a managed configuration
    (through ``parts.kube``, fenced).

    Admission audit Events go through ``kube``, unfenced: each review reaches one replica, and only that
    one can record it."""
    from .serving import webhook

    keeper = None
    if options.cert_mode == "self":
        keeper = await _secret_certs(parts, kube, options)
        cert = webhook.ServingCert(keeper.certfile, keeper.keyfile, keeper.trusted)
    elif options.cert_mode == "ephemeral":
        cert = webhook.self_signed(Path(tempfile.mkdtemp(prefix="eo-webhook-")), list(options.self_signed_hosts))
    elif options.cert_dir is not None:
        cert = _mounted_cert(options.cert_dir)
    else:
        raise ValueError(f"webhook certificate mode {options.cert_mode} needs --webhook-cert-dir")
    handler = webhook.AdmissionHandler(dataclasses.replace(parts, kube=kube), options.exempt_namespaces)
    server = parts.tasks.start(
        webhook.serve(
            handler,
            options.host,
            options.port,
            cert,
            options.client_ca,
            keeper.keep_current if keeper else None,
            listening,
        ),
        name="webhook-server",
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
                while parts.leadership.may_write():
                    try:
                        await asyncio.to_thread(parts.kube.apply_webhook_configuration, dict(body))
                    except Exception as exc:
                        parts.metrics.errors.labels("webhook_configuration").inc()
                        log.warning("could not write ValidatingWebhookConfiguration %s: %s", name, describe_error(exc))
                        await asyncio.sleep(backoff.delay())
                        continue
                    log.info("ValidatingWebhookConfiguration %s points at %s", name, url)
                    return

            def on_leadership(leading: bool) -> None:
                if leading:
                    parts.tasks.start(point_here(), name="webhook-configuration")

            parts.leadership.on_change(on_leadership)
            on_leadership(parts.leadership.may_write())
        await server
    finally:
        server.cancel()  # a managed configuration is removed by _shut_down, before the Lease is released


def _mounted_cert(directory: Path) -> ServingCert:
    """tls.crt and tls.key in ``directory``, or OLM's apiserver.crt and apiserver.key (apiservice-cert)."""
    from .serving.webhook import ServingCert

    if not (directory / "tls.crt").exists() and (directory / "apiserver.crt").exists():
        return ServingCert(directory / "apiserver.crt", directory / "apiserver.key", b"")
    return ServingCert(directory / "tls.crt", directory / "tls.key", b"")


async def _secret_certs(parts: Parts, kube: KubeClient, options: WebhookConfig) -> SecretCerts:
    """Cert mode self: wait for the Secret's certificate (the leader issues it), then serve it."""
    from .serving.certs import SecretCerts, service_hosts

    hosts = [*service_hosts(options.service, options.namespace), *options.self_signed_hosts]
    keeper = SecretCerts(
        kube,
        parts.leadership,
        options.namespace,
        options.secret,
        hosts,
        options.configuration,
        every=options.cert_check_seconds,
        on_error=lambda operation: parts.metrics.errors.labels(operation).inc(),
    )
    await keeper.first()
    log.info("admission webhook: serving the certificate of Secret %s/%s", options.namespace, options.secret)
    return keeper


async def run_operator(kube: KubeClient, config: OperatorConfig, stop_flag: asyncio.Event | None = None) -> None:
    """Run Kopf with our handlers, the controllers' loops and the metrics/health server until stopped.

    With ``config.election``, writes wait for the Lease (:mod:`leadership`); without, this process always
    writes. Each component gets its part of ``config``."""
    from .kube import kopf_patches
    from .serving import http as http_server

    watch, webhook, election = config.watch, config.webhook, config.election
    namespaces = list(watch.namespaces)
    state = OperatorState(namespaces=frozenset(namespaces))
    metrics = OperatorMetrics(cluster=config.serving.cluster_name)
    tasks = BackgroundTasks(lambda operation: metrics.errors.labels(operation).inc())
    elector: LeaderElector | None = None
    leadership: Leadership = AlwaysLeader(config.identity)
    if election is not None:
        elector = LeaderElector(
            KubeLeaseStore(kube, election.namespace, election.name), election.identity, election.timing
        )
        leadership = elector
        log.info("leader election: candidate %s for Lease %s/%s", election.identity, election.namespace, election.name)
    metrics.leader.set_function(lambda: float(leadership.may_write()))
    fenced = FencedKubeApi(kube, leadership)
    parts = Parts(state, fenced, metrics, tasks, leadership)
    routes = Routes(
        parts,
        ConfigMapStore(kube, config.matrix_store_namespace, parts.leadership),  # sourced matrices' last good copies
        coalesce_seconds=watch.coalesce_seconds,
        cross_namespace=watch.cross_namespace,
    )
    leadership.on_change(routes.leadership_changed)
    kopf_patches.skip_spawning_without_daemons()
    with contextlib.suppress(TimeoutError):  # the last good copies before the first watch event, if possible
        await asyncio.wait_for(routes.matrices.refresher.load_store(), 5)
    registry = build_registry(routes, watch)
    watches = WorkloadWatches(
        kube.session,  # the operator's one session: one connection pool and one login for every request
        WATCHED_RESOURCES,
        routes,
        namespaces=state.namespaces,
        options=watch,
        count_error=lambda operation: metrics.errors.labels(operation).inc(),
    )
    routes.seen.delegate({kind for *_, kind in WATCHED_RESOURCES}, watches.listed)
    tasks.start(watches.run(), name="workload-watches", forever=True)
    if webhook:
        state.webhook_listening = asyncio.Event()  # /readyz waits for it
        tasks.start(_run_webhook(parts, kube, webhook, state.webhook_listening), name="webhook", forever=True)
    routes.start(tasks)
    campaign = tasks.start(elector.run(), name="leader-election", forever=True) if elector else None
    app = http_server.make_app(state, build_metrics_registry(metrics, state), tasks.stopped)
    tasks.start(http_server.serve(app, config.serving.host, config.serving.port), name="http", forever=True)
    try:
        await kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces or [],
            stop_flag=stop_flag,
            # Kopf would otherwise derive one from the user name, which an arbitrary UID without a
            # passwd entry (OpenShift's restricted-v2) does not have: getpass raises KeyError.
            identity=cast(Any, config.identity),  # kopf's Identity, a NewType of str it does not export
        )
    finally:
        managed = webhook.manage_configuration if webhook else None
        await _shut_down(state, tasks, fenced, elector, campaign, managed, config.shutdown_drain if webhook else 0.0)


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
        try:
            await asyncio.to_thread(fenced.delete_webhook_configuration, managed_configuration)
        except Exception as exc:
            log.warning(
                "could not remove ValidatingWebhookConfiguration %s at shutdown (the next leader rewrites it; "
                "delete it by hand if no replica is left): %s",
                managed_configuration,
                describe_error(exc),
            )
    if elector is not None:
        await asyncio.to_thread(elector.release)
    if drain > 0:
        log.info("shutting down: answering admission for %.0f s more while the Service forgets this replica", drain)
        await asyncio.sleep(drain)
    await tasks.close()

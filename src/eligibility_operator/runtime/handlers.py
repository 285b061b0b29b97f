"""The thin Kopf shell: watches of engagements, SupportRequests, matrices and namespaces that tell the
routes (:mod:`.controllers.routes`, which pass each event to the controllers that react); workloads have
watches of their own.

Customer workloads are only read (LIST and WATCH), by the operator's own watches
(:mod:`.watches`, started by :mod:`.app`): Kopf's per-event machinery was most of the
start-up CPU for them. No annotation, finalizer or status is ever written to a
workload (``tests/cluster/test_operator.py`` checks that). Kopf's index handlers are not
used: their start-up gating costs O(N²) wake-ups with N objects (5,000 Deployments
took minutes); the operator primes itself instead (see ``Upkeep.prime``).

Our own resources and namespaces are watched by Kopf with low-level ``on.event`` handlers: the operator keeps no
per-object handler progress, so Kopf never writes annotations or finalizers to
engagements or matrices either; each kind's controller writes its status itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import kopf

from ..api.models import GROUP, VERSION
from .config import WatchConfig
from .controllers.routes import Routes
from .kube import connection as kubeconn


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


def _register(
    registry: kopf.OperatorRegistry,
    resource: tuple[str, str, str],
    handler_id: str,
    seen: Callable[[Mapping[str, Any]], None],
    gone: Callable[[Mapping[str, Any]], None],
    relisted: Callable[[], None],
) -> None:
    """One low-level watch handler: ``gone`` for a deletion, else ``seen``; a listing (event type None: at
    start, or again after a 410 Gone or a reconnect) also tells ``relisted`` (a sweep follows)."""
    group, version, plural = resource

    @kopf.on.event(group, version, plural, registry=registry, id=handler_id)
    async def on_event(event: kopf.RawEvent, **_: Any) -> None:
        body = event["object"]
        if event["type"] == "DELETED":
            gone(body)
        else:
            seen(body)
            if event["type"] is None:
                relisted()


def _labels(body: Mapping[str, Any]) -> dict[str, str]:
    return dict((body.get("metadata") or {}).get("labels") or {})


def build_registry(routes: Routes, watch: WatchConfig | None = None) -> kopf.OperatorRegistry:
    """Register every handler on a private registry that tells ``routes``."""
    registry = kopf.OperatorRegistry()
    r = routes
    _register(
        registry,
        (GROUP, VERSION, "supportrequests"),
        "request_event",
        r.request_seen,
        lambda body: r.request_gone(*_meta(body)),
        r.relisted,
    )
    # The workload kinds are watched by watches.py (read only), not by Kopf.
    _register(
        registry,
        ("", "v1", "namespaces"),
        "namespace_event",
        lambda body: r.namespace_seen(_meta(body)[1], _labels(body)),
        lambda body: r.namespace_gone(_meta(body)[1]),
        r.relisted,
    )
    _register(
        registry,
        (GROUP, VERSION, "supportengagements"),
        "engagement_event",
        r.engagement_seen,
        lambda body: r.engagement_gone(*_meta(body)),
        r.relisted,
    )
    _register(
        registry,
        (GROUP, VERSION, "compatibilitymatrices"),
        "matrix_event",
        r.matrix_seen,
        lambda body: r.matrix_gone(_meta(body)[1]),
        r.relisted,
    )
    _settings(registry, watch or WatchConfig())
    return registry


def _settings(registry: kopf.OperatorRegistry, watch: WatchConfig) -> None:
    """Kopf's login and settings (why each is set is said beside it)."""

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # In-cluster service account, else $KUBECONFIG: the same login as the workload watches'.
        return kubeconn.login(**kwargs)

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Kopf posts Events for its own log lines; they would be about customer workloads. Ours go
        # through the status writer, about our own objects only.
        settings.posting.enabled = False
        settings.persistence.finalizer = f"{GROUP}/unused-finalizer"  # never set: no high-level handlers
        settings.persistence.diffbase_storage = NoEssenceDiffBase()
        # The same watch timeouts and page size as the workload watches' (why each: on WatchConfig).
        settings.watching.server_timeout = watch.server_timeout
        settings.watching.client_timeout = watch.client_timeout
        settings.watching.connect_timeout = watch.connect_timeout
        settings.watching.inactivity_timeout = watch.inactivity_timeout
        settings.networking.request_timeout = watch.request_timeout
        settings.networking.connect_timeout = watch.connect_timeout
        settings.watching.chunk_size = watch.page_size
        # Kopf keeps a worker per object for this long after its last event, and an idle worker still
        # references that event's full body: with the default 5 s, listing N objects holds N bodies.
        settings.queueing.idle_timeout = 0.2

"""What reacts to what: every event the operator hears of, and the controllers it reaches.

One controller per kind, each owning its kind's status through the one :class:`~.writer.StatusWriter`:
:class:`~.engagements.Reconciler` (SupportEngagement), :class:`~.requests.RequestTriager` (SupportRequest)
and :class:`~.matrix_controller.MatrixController` (CompatibilityMatrix, with its
:class:`~.matrices.MatrixRefresher` for ``spec.source``). :class:`Routes` builds them and is the only thing
that tells them anything: the Kopf handlers (:mod:`..handlers`), the workload watches (:mod:`..watches`),
the leader election and :mod:`.upkeep` (priming, sweeps, resync, platform poll) call its methods, one per
event, and each method is one row of this table:

========================  ==============================  ===============================  ====================
event                     SupportEngagement               SupportRequest                   CompatibilityMatrix
========================  ==============================  ===============================  ====================
workload seen or gone     the engagements covering its    the requests naming it or a
(detections changed)      namespace                       product it ran or runs
namespace seen            (labels changed, and some       the requests under those
                          engagement selects by label:)
                          those covering it + selecting
namespace gone            -- (the inventory only; its workloads' deletions re-evaluate)
engagement seen           it (new or changed)             the requests under it
engagement gone           forgotten                       the requests under it
matrix seen               (through matrix changed)        (through matrix changed)         compiled, or its
                                                                                           source fetched
matrix changed            (content:) those using it       (content:) under those           its status
matrix gone               those using it                  under those                      forgotten
request seen / gone                                       it (triaged / forgotten)
platform seen (changed)   all                             all under them
resync (hourly)           all                             all under them
leadership changed        (leading:) all, held ones       all under them, held ones        all statuses; fetch
relisted (Kopf)           -- (a sweep soon: each object found deleted is its kind's "gone")
========================  ==============================  ===============================  ====================

"All under them" always includes the requests that fell under no engagement. Nothing is wired after
construction: the refresher is given :meth:`Routes.matrix_changed` when it is built, and the controllers
return the engagements they marked instead of calling each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ...core.products.coverage import ANY_NAMESPACE
from ...core.products.inventory import Key
from ...core.products.workloads import WorkloadFacts
from ...core.verdict.evaluation import Platform
from ..parts import Parts
from ..state import EngagementKey
from ..tasks import BackgroundTasks
from .engagements import Reconciler
from .matrix_controller import MatrixController
from .matrix_store import MatrixStore, MemoryStore
from .priming import SeenKey, SeenObjects, engagement_key, matrix_key, namespace_key, request_key, workload_key
from .requests import RequestTriager
from .upkeep import Upkeep
from .writer import StatusWriter


class Routes:
    """The three controllers, and the one table of which events reach which of them."""

    def __init__(
        self,
        parts: Parts,
        store: MatrixStore | None = None,
        *,
        coalesce_seconds: float = 0.05,
        retry_seconds: float = 2.0,
        resync_seconds: float = 3600.0,
        platform_seconds: float = 300.0,
        sweep_seconds: float = 600.0,
        cross_namespace: frozenset[str] = frozenset({ANY_NAMESPACE}),
    ) -> None:
        self.state, self.metrics = parts.state, parts.metrics
        self.coalesce_seconds = coalesce_seconds
        self.seen = SeenObjects(parts.kube, parts.state.namespaces)  # priming and sweeps, every kind
        self.writer = StatusWriter(parts.kube, parts.metrics)  # the one writer of our objects
        queues = {"coalesce_seconds": coalesce_seconds, "retry_seconds": retry_seconds}
        self.engagements = Reconciler(parts, self.writer, cross_namespace=cross_namespace, **queues)
        self.requests = RequestTriager(parts, writer=self.writer, **queues)
        self.matrices = MatrixController(
            parts, self.writer, store or MemoryStore(), changed=self.matrix_changed, **queues
        )
        self.upkeep = Upkeep(
            parts,
            self.seen,
            self,
            retry_seconds=retry_seconds,
            resync_seconds=resync_seconds,
            platform_seconds=platform_seconds,
            sweep_seconds=sweep_seconds,
        )

    def start(self, tasks: BackgroundTasks) -> None:
        """Start every controller's loop and upkeep. They must keep running (prime until it is done):
        /healthz fails if one has stopped."""
        tasks.start(self.matrices.refresher.run(), name="matrix-refresher", forever=True)
        tasks.start(self.engagements.run(), name="reconciler", forever=True)
        tasks.start(self.matrices.run(), name="matrix-status", forever=True)
        tasks.start(self.requests.run(), name="request-triager", forever=True)
        tasks.start(self.upkeep.resync_forever(), name="resync", forever=True)
        tasks.start(self.upkeep.watch_platform_forever(), name="platform", forever=True)
        tasks.start(self.upkeep.sweep_forever(), name="sweep", forever=True)
        tasks.start(self.upkeep.prime(), name="prime", critical=True)

    @property
    def idle(self) -> bool:
        """No controller has a batch pending (for tests and benchmarks)."""
        return self.engagements.idle and self.matrices.idle and self.requests.queue.idle

    def _heard(self, kind: str, key: SeenKey, gone: bool = False) -> None:
        self.metrics.watch_events.labels(kind).inc()
        if gone:
            self.seen.gone(key)
        else:
            self.seen.seen(key)

    def _under(self, engagements: Iterable[EngagementKey]) -> None:
        """Engagements re-evaluated for more than one workload: re-triage every request under them."""
        keys = list(engagements)
        if keys:
            self.requests.engagements_marked(keys)

    # ------------------------------------------------------------ workloads

    def workload_seen(self, namespace: str, kind: str, name: str, facts: WorkloadFacts | None) -> None:
        """A workload as the watches decoded it: its facts, None if it has none (e.g. OLM's copies of a
        ClusterServiceVersion, an Application of no chart)."""
        self._heard(kind, workload_key(namespace, kind, name))
        if facts is None:
            return
        inventory = self.state.inventory
        old = inventory.workloads.get(facts.key)
        before = self._products(facts.key, old.namespace) if old is not None else set()
        if inventory.upsert(facts):
            if old is not None and old.namespace != facts.namespace:
                self._workload_changed(facts.key, old.namespace, before)
            self._workload_changed(facts.key, facts.namespace, before)

    def workload_gone(self, namespace: str, kind: str, name: str) -> None:
        self._heard(kind, workload_key(namespace, kind, name), gone=True)
        key: Key = (namespace, kind, name)
        old = self.state.inventory.workloads.get(key)
        where = old.namespace if old is not None else namespace  # a GitOps object's target namespace
        before = self._products(key, where)
        if self.state.inventory.remove(key):
            self._workload_changed(key, where, before)

    def _workload_changed(self, key: Key, namespace: str, before: set[str]) -> None:
        """A workload's detections changed in ``namespace``: the engagements covering it, and only the
        requests whose inputs it is (not every request under those engagements)."""
        self.engagements.workload_changed(namespace)
        self.requests.workload_changed(key, frozenset(before | self._products(key, namespace)))

    def _products(self, key: Key, namespace: str) -> set[str]:
        """The products workload ``key`` runs under any matrix (a few matrices: cheap)."""
        return {
            d.product
            for record in self.state.inventory.matrices.values()
            for d in record.detections.get(namespace, {}).get(key, ())
        }

    # ----------------------------------------------------------- namespaces

    def namespace_seen(self, name: str, labels: Mapping[str, str]) -> None:
        self._heard("Namespace", namespace_key(name))
        if self.state.inventory.set_namespace(name, labels):
            self._under(self.engagements.namespace_relabelled(name))

    def namespace_gone(self, name: str) -> None:
        self._heard("Namespace", namespace_key(name), gone=True)
        self.state.inventory.remove_namespace(name)

    # ---------------------------------------------------------- engagements

    def engagement_seen(self, body: Mapping[str, Any]) -> None:
        self._heard("SupportEngagement", engagement_key(*_namespaced(body)))
        self._under(self.engagements.engagement_seen(body))

    def engagement_gone(self, namespace: str, name: str) -> None:
        self._heard("SupportEngagement", engagement_key(namespace, name), gone=True)
        self.engagements.engagement_gone(namespace, name)
        self._under([(namespace, name)])

    # ------------------------------------------------------------- matrices

    def matrix_seen(self, body: Mapping[str, Any]) -> None:
        self._heard("CompatibilityMatrix", matrix_key(str((body.get("metadata") or {}).get("name"))))
        self.matrices.matrix_seen(body)

    def matrix_changed(self, name: str, content: bool) -> None:
        """Matrix ``name``'s status changed, and (``content``) what it says too: a new generation compiled,
        a revision of its source applied, or no verified copy yet. Told by the matrix controller."""
        self.matrices.status_changed(name)
        if content:
            self._under(self.engagements.matrix_changed(name))

    def matrix_gone(self, name: str) -> None:
        self._heard("CompatibilityMatrix", matrix_key(name), gone=True)
        self.matrices.matrix_gone(name)
        self._under(self.engagements.matrix_changed(name))

    # ------------------------------------------------------ support requests

    def request_seen(self, body: Mapping[str, Any]) -> None:
        self._heard("SupportRequest", request_key(*_namespaced(body)))
        self.requests.request_seen(body)

    def request_gone(self, namespace: str, name: str) -> None:
        self._heard("SupportRequest", request_key(namespace, name), gone=True)
        self.requests.request_gone(namespace, name)

    # ---------------------------------------------- platform, time, leadership

    def platform_seen(self, platform: Platform) -> None:
        if platform != self.state.platform:
            self.state.platform = platform
            self._under(self.engagements.mark_all())

    def resync(self) -> None:
        self._under(self.engagements.mark_all())

    def leadership_changed(self, leading: bool) -> None:
        """A new term (or its end): what the old leader, or this replica before a lapse, left unwritten is
        written now; only statuses that differ from the server's are."""
        self.matrices.leadership_changed(leading)
        self._under(self.engagements.leadership_changed(leading))
        self.requests.leadership_changed(leading)

    def relisted(self) -> None:
        """Kopf lists a resource again (at start, after a 410 Gone or a reconnect): sweep soon."""
        self.upkeep.relisted()

    def gone(self, key: SeenKey) -> None:
        """A sweep found this object deleted: its kind's "gone"."""
        match key:
            case ("w", namespace, kind, name):
                self.workload_gone(namespace, kind, name)
            case ("e", namespace, name):
                self.engagement_gone(namespace, name)
            case ("r", namespace, name):
                self.request_gone(namespace, name)
            case ("m", name):
                self.matrix_gone(name)
            case ("n", name):
                self.namespace_gone(name)


def _namespaced(body: Mapping[str, Any]) -> tuple[str, str]:
    """(namespace, name) of one of our namespaced objects, as its record keys it."""
    meta = body.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))

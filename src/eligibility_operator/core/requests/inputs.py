"""What a SupportRequest's triage reads, gathered once for the operator and for ``triage`` offline. Pure.

The operator reads its in-memory state and ``eligibility-operator triage`` reads files, but both hand an
:class:`InventorySource` to :func:`gather`, so which engagement a request falls under, which workloads and
versions it concerns and which namespace labels count are decided by the same code: "as the operator
would" is structural, not a promise kept by two copies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...api.models import Coverage, SupportEngagementSpec
from ...api.requests import Diagnostics, SupportRequestSpec
from ..compat.matrix import CompiledMatrix
from ..products.coverage import covers
from ..products.detection import Detection
from ..products.inventory import Inventory
from ..verdict.evaluation import Platform


@dataclass(frozen=True)
class EngagementView:
    """The engagement a request falls under, as the shell read it."""

    namespace: str
    name: str
    spec: SupportEngagementSpec | None
    spec_error: str | None = None
    contracted_services: frozenset[str] = frozenset()

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def contracted_services_of(raw_spec: Mapping[str, Any] | None) -> frozenset[str]:
    """``spec.contractedServices`` of an engagement, read tolerantly (a list of strings; anything else: none)."""
    value = (raw_spec or {}).get("contractedServices")
    if not isinstance(value, list):
        return frozenset()
    return frozenset(str(v) for v in value if isinstance(v, str))


@dataclass
class TriageInput:
    request: SupportRequestSpec
    namespace: str  # the request's namespace
    engagement: EngagementView | None
    engagement_problem: str | None  # why no engagement was resolved (None with engagement None: none covers)
    matrix: CompiledMatrix | None
    # spec.workloads[i] -> its detections under the engagement's matrix; None when the workload does not exist
    workloads: Mapping[str, Sequence[Detection] | None]
    # when spec.product is set: (workload ref, detection) of that product in the engagement's covered namespaces
    product_found: Sequence[tuple[str, Detection]] = ()
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    platform: Platform = field(default_factory=Platform)
    opened_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    today: dt.date | None = None
    generation: int | None = None
    diagnostics: Diagnostics | None = None


PRODUCT_VERSIONS_LIMIT = 20  # distinct versions of a product named by spec.product that a triage lists


def one_per_version(
    found: Iterable[tuple[str, Detection]], product: str, limit: int = PRODUCT_VERSIONS_LIMIT
) -> list[tuple[str, Detection]]:
    """The detections of ``product`` with one workload per distinct version (the first by name), in version
    order, at most ``limit``. Capping workloads instead would drop versions at random: a request about a
    product installed in 30 places must list all of its versions, whichever order they were found in."""
    first: dict[tuple[str, str], tuple[str, Detection]] = {}
    for ref, d in found:
        if d.product != product:
            continue
        key = (d.version_text, d.edition or "")
        if key not in first or ref < first[key][0]:
            first[key] = (ref, d)

    def order(item: tuple[str, Detection]) -> tuple[bool, tuple[int, ...], str, str]:
        d = item[1]
        return (d.version is None, d.version.core if d.version else (), d.version_text, d.edition or "")

    return sorted(first.values(), key=order)[:limit]


# ----------------------------------------------------------- engagement choice


def resolve_engagement(
    ref_name: str | None,
    ref_namespace: str | None,
    request_namespace: str,
    engagements: Iterable[EngagementView],
    namespace_labels: Mapping[str, Mapping[str, str]],
) -> tuple[EngagementView | None, str | None]:
    """The engagement a request falls under, or (None, problem). (None, None): no engagement covers it.

    Without a reference: the engagement covering the request's namespace; if several do, the one in
    that namespace, else the request must name one.
    """
    if ref_name:
        namespace = ref_namespace or request_namespace
        for view in engagements:
            if view.namespace == namespace and view.name == ref_name:
                return view, None
        return None, (
            f"spec.engagementRef: SupportEngagement {namespace}/{ref_name} not found; "
            f"create it or name an existing engagement"
        )
    labels = namespace_labels.get(request_namespace)
    covering = [v for v in engagements if v.spec is not None and covers(v.spec.coverage, request_namespace, labels)]
    if len(covering) == 1:
        return covering[0], None
    local = [v for v in covering if v.namespace == request_namespace]
    if len(local) == 1:
        return local[0], None
    if covering:
        names = ", ".join(sorted(v.ref for v in covering)[:5])
        return None, (
            f"spec.engagementRef: {len(covering)} engagements cover namespace {request_namespace!r} ({names}); "
            f"name one in spec.engagementRef"
        )
    return None, None


# ------------------------------------------------------------------ gathering

EngagementCandidates = Callable[[str, tuple[str, str] | None], list[EngagementView]]


class InventorySource:
    """A triage's inputs from an :class:`~.inventory.Inventory` and the engagements: the operator's own, or
    one that ``triage`` builds from manifests and an engagement file (the same class either way)."""

    def __init__(self, inventory: Inventory, engagements: EngagementCandidates) -> None:
        self.inventory = inventory
        # (request namespace, (namespace, name) the request names or None) -> the candidate engagements
        self.engagements = engagements

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        return self.inventory.namespace_labels.get(namespace) or {}

    def matrix(self, name: str) -> CompiledMatrix | None:
        record = self.inventory.matrices.get(name)
        return record.compiled if record is not None else None

    def workload_detections(self, matrix: str | None, ref: str) -> list[Detection] | None:
        """Detections of the workload ``namespace/Kind/name`` under ``matrix`` (none without one); None
        when the workload does not exist."""
        namespace, kind, name = ref.split("/", 2)
        if (namespace, kind, name) not in self.inventory.workloads:
            return None
        record = self.inventory.matrices.get(matrix) if matrix else None
        return list(record.detections.get(namespace, {}).get((namespace, kind, name), [])) if record else []

    def installations(self, matrix: str, coverage: Coverage) -> Iterator[tuple[str, Detection]]:
        """(workload ref, detection) of every product found in the namespaces ``coverage`` covers."""
        namespaces = [
            ns for ns in self.inventory.product_namespaces(matrix) if covers(coverage, ns, self.namespace_labels(ns))
        ]
        return self.inventory.found_in(matrix, iter(namespaces))


def gather(
    request: SupportRequestSpec,
    namespace: str,
    source: InventorySource,
    *,
    platform: Platform,
    opened_at: dt.datetime,
    today: dt.date,
    generation: int | None = None,
    given: EngagementView | None = None,
) -> TriageInput:
    """Everything :func:`~.triage.triage` needs about ``request`` (in ``namespace``), from ``source``.

    ``given``: the engagement the request falls under, as the caller was told (``triage --engagement``);
    without it, the engagement is resolved from the request's reference or its namespace, as in the cluster.
    """
    ref = request.engagement_ref
    named = (ref.namespace or namespace, ref.name) if ref is not None else None
    labels: dict[str, Mapping[str, str]] = {namespace: source.namespace_labels(namespace)}
    view: EngagementView | None = given
    problem: str | None = None
    if view is None:
        view, problem = resolve_engagement(
            ref.name if ref else None,
            ref.namespace if ref else None,
            namespace,
            source.engagements(namespace, named),
            labels,
        )
    matrix_name = view.spec.matrix_name if view is not None and view.spec is not None else None
    matrix = source.matrix(matrix_name) if matrix_name else None
    workloads: dict[str, list[Detection] | None] = {}
    for ref_text in request.workloads:
        workload_namespace = ref_text.split("/", 1)[0]
        labels.setdefault(workload_namespace, source.namespace_labels(workload_namespace))
        workloads[ref_text] = source.workload_detections(matrix_name, ref_text)
    product_found: list[tuple[str, Detection]] = []
    listed = {d.product for found in workloads.values() for d in found or ()}
    if request.product and request.product not in listed and view is not None and view.spec and matrix_name:
        product_found = one_per_version(source.installations(matrix_name, view.spec.coverage), request.product)
    return TriageInput(
        request=request,
        namespace=namespace,
        engagement=view,
        engagement_problem=problem,
        matrix=matrix,
        workloads=workloads,
        product_found=product_found,
        namespace_labels=labels,
        platform=platform,
        opened_at=opened_at,
        today=today,
        generation=generation,
    )


@dataclass
class Affected:
    """What a request is about: the listed workloads' detections, the products, and the customer's own apps."""

    found: list[tuple[str, Detection]]
    products: set[str]
    customer_apps: list[str]  # listed workloads that run no product

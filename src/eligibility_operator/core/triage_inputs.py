"""What a SupportRequest's triage reads, gathered once for the operator and for ``triage`` offline. Pure.

The operator reads its in-memory state and ``eligibility-operator triage`` reads files, but both hand an
:class:`InventorySource` to :func:`gather`, so which engagement a request falls under, which workloads and
versions it concerns and which namespace labels count are decided by the same code: "as the operator
would" is structural, not a promise kept by two copies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping

from ..api.models import Coverage
from ..api.requests import SupportRequestSpec
from .coverage import covers
from .detection import Detection
from .evaluation import Platform
from .inventory import Inventory
from .matrix import CompiledMatrix
from .triage import EngagementView, TriageInput, one_per_version, resolve_engagement

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

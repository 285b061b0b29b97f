"""The operator's memory of the cluster: workload facts, namespace labels, matrices.

Sized for 10,000 workloads: each workload is kept as a small WorkloadFacts, and
detections are cached per matrix and grouped by namespace, holding only the
workloads that run a product (a few percent). An engagement's evaluation walks
the product workloads of its namespaces, never the whole cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..compat.matrix import CompiledMatrix
from .detection import Detection, detect, installation_ref
from .gitops import SourceKey, rendered_by, renders_key
from .olm_settle import OLM_INTENTS, NamespaceOlm
from .workloads import WorkloadFacts

Key = tuple[str, str, str]  # namespace, kind, name


@dataclass
class MatrixRecord:
    """Everything the operator keeps of one CompatibilityMatrix.

    The last good compiled version (if any), the current problem (if any) and the detections it
    yields; and, for the runtime, the object's identity and the status on the server.
    """

    name: str = ""
    compiled: CompiledMatrix | None = None
    error: str | None = None
    # The error is only that spec.source has given no verified copy yet (the matrix is not invalid).
    waiting_for_source: bool = False
    # namespace -> workload key -> detections (only non-empty)
    detections: dict[str, dict[Key, list[Detection]]] = field(default_factory=dict)
    uid: str = ""
    generation: int | None = None  # the generation compiled last; None until the first compilation
    written: dict[str, Any] | None = None  # status as last seen on or written to the server


class Inventory:
    def __init__(self) -> None:
        self.workloads: dict[Key, WorkloadFacts] = {}
        self.namespace_labels: dict[str, dict[str, str]] = {}
        self.matrices: dict[str, MatrixRecord] = {}
        # GitOps objects with running workloads (by their labels): their own findings no longer count
        self.rendering: dict[SourceKey, int] = {}
        # namespace -> workloads whose containers or images exceeded the caps (only the first were read)
        self.capped: dict[str, set[Key]] = {}
        # (matrix, namespace) -> what found_in yields there: one summary per namespace, shared by every
        # engagement covering it (100 overlapping engagements walked 5,000 workloads each; issue 37).
        # Dropped when a detection in that namespace changes, all at once when GitOps rendering changes.
        self._found: dict[tuple[str, str], list[tuple[str, Detection]]] = {}
        # bumped by every change an evaluation can see (detections, namespace labels, caps, matrices)
        self.version = 0

    def _changed(self, matrix: str, namespace: str) -> None:
        self._found.pop((matrix, namespace), None)
        self.version += 1

    # ----------------------------------------------------------- workloads

    def upsert(self, facts: WorkloadFacts, key: Key | None = None) -> bool:
        """Store ``facts`` under ``key`` (by default ``facts.key``); True if its detections changed under
        any matrix. ``check`` files a second, different definition of one object (a GitOps repository's
        per-environment copies) under a key of its own, so that each is judged."""
        key = key or facts.key
        old = self.workloads.get(key)
        if old == facts:
            return False
        self.workloads[key] = facts
        self._note_rendering(old, -1)
        self._note_rendering(facts, +1)
        self._note_capped(key, facts.capped)
        # a GitOps object whose target namespace changed: its findings move with it
        changed = old is not None and old.namespace != facts.namespace and self._forget(key, old.namespace)
        for state in self.matrices.values():
            changed |= self._redetect(state, key, facts)
        return changed

    def remove(self, key: Key) -> bool:
        """Forget a workload; True if it ran a product under any matrix."""
        facts = self.workloads.pop(key, None)
        if facts is None:
            return False
        self._note_rendering(facts, -1)
        self._note_capped(key, False)
        return self._forget(key, facts.namespace)

    def _note_rendering(self, facts: WorkloadFacts | None, step: int) -> None:
        for owner in rendered_by(facts) if facts is not None else ():
            self._found.clear()  # which chart findings count may change anywhere
            self.version += 1
            count = self.rendering.get(owner, 0) + step
            if count > 0:
                self.rendering[owner] = count
            else:
                self.rendering.pop(owner, None)

    def _forget(self, key: Key, namespace: str) -> bool:
        """Drop ``key``'s detections filed under ``namespace`` (a GitOps object's target namespace)."""
        changed = False
        for state in self.matrices.values():
            by_key = state.detections.get(namespace)
            if by_key is not None and by_key.pop(key, None) is not None:
                changed = True
                self._changed(state.name, namespace)
                if not by_key:
                    del state.detections[namespace]
        return changed

    def _note_capped(self, key: Key, capped: bool) -> None:
        self.version += 1 if capped or key[0] in self.capped else 0
        if capped:
            self.capped.setdefault(key[0], set()).add(key)
        elif key[0] in self.capped:
            self.capped[key[0]].discard(key)
            if not self.capped[key[0]]:
                del self.capped[key[0]]

    def capped_in(self, covered: Callable[[str], bool]) -> list[str]:
        """``namespace/Kind/name`` of capped workloads in the namespaces ``covered`` accepts (few: a cap is rare)."""
        return sorted({self.workloads[k].ref for ns, keys in self.capped.items() if covered(ns) for k in keys})

    def _redetect(self, state: MatrixRecord, key: Key, facts: WorkloadFacts) -> bool:
        if state.compiled is None:
            return False
        found = detect(state.compiled, facts)
        by_key = state.detections.get(facts.namespace)
        before = by_key.get(key) if by_key else None
        if found:
            state.detections.setdefault(facts.namespace, {})[key] = found
        elif by_key is not None and key in by_key:
            del by_key[key]
            if not by_key:
                del state.detections[facts.namespace]
        if (before or []) != found or found:  # a changed detection, or a changed workload ref behind one
            self._changed(state.name, facts.namespace)
        return (before or []) != found

    # ---------------------------------------------------------- namespaces

    def set_namespace(self, name: str, labels: Mapping[str, str]) -> bool:
        new = dict(labels)
        if self.namespace_labels.get(name) == new:
            return False
        self.namespace_labels[name] = new
        self.version += 1
        return True

    def remove_namespace(self, name: str) -> bool:
        self.version += 1
        return self.namespace_labels.pop(name, None) is not None

    # ------------------------------------------------------------ matrices

    def matrix_record(self, name: str) -> MatrixRecord:
        """The record of matrix ``name``, created empty if there is none."""
        return self.matrices.setdefault(name, MatrixRecord(name))

    def set_matrix(self, compiled: CompiledMatrix) -> None:
        """Install a valid matrix and re-detect every workload against it (rare: matrix edits)."""
        state = self.matrix_record(compiled.name)
        state.compiled, state.error, state.detections = compiled, None, {}
        state.waiting_for_source = False
        self._found = {k: v for k, v in self._found.items() if k[0] != compiled.name}
        self.version += 1
        for key, facts in self.workloads.items():
            self._redetect(state, key, facts)

    def set_matrix_error(self, name: str, error: str, *, waiting_for_source: bool = False) -> None:
        """Record that the matrix cannot be used as it is (invalid, or ``waiting_for_source``: no verified
        copy of its spec.source yet); its last good version stays in use."""
        state = self.matrix_record(name)
        state.error, state.waiting_for_source = error, waiting_for_source
        self.version += 1

    def remove_matrix(self, name: str) -> None:
        self.matrices.pop(name, None)
        self._found = {k: v for k, v in self._found.items() if k[0] != name}
        self.version += 1

    # -------------------------------------------------------------- queries

    def found_in(self, matrix: str, namespaces: Iterator[str] | None = None) -> Iterator[tuple[str, Detection]]:
        """(``namespace/Kind/name``, detection) for product workloads, optionally in ``namespaces`` only."""
        state = self.matrices.get(matrix)
        if state is None:
            return
        names = state.detections.keys() if namespaces is None else namespaces
        for namespace in list(names):
            summary = self._found.get((matrix, namespace))
            if summary is None:
                summary = self._found[(matrix, namespace)] = list(self._found_here(state, namespace))
            yield from summary

    def _found_here(self, state: MatrixRecord, namespace: str) -> Iterator[tuple[str, Detection]]:
        entries = state.detections.get(namespace, {})
        olm = NamespaceOlm((self.workloads[key], found) for key, found in entries.items())
        # The running workload is the truth: a chart's finding (HelmRelease, Application) counts only
        # where no workload in the namespace shows the same product.
        for key, found in entries.items():
            facts = self.workloads[key]
            for detection in found:
                if detection.via == "chart" and (
                    detection.product in olm.running or renders_key(facts) in self.rendering
                ):
                    continue
                settled = olm.settled(detection) if detection.via in OLM_INTENTS else detection
                if settled is not None:
                    yield installation_ref(facts.ref, settled), settled

    def product_namespaces(self, matrix: str) -> list[str]:
        state = self.matrices.get(matrix)
        return list(state.detections) if state else []

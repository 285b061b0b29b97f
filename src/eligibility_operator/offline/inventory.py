"""Manifests as the operator's watches would leave its inventory: what ``check`` and ``triage`` judge from.

Both commands then read the :class:`~..core.inventory.Inventory` with the operator's own code
(:func:`~..core.engagements.assess`, :func:`~..core.triage_inputs.gather`), so "as the operator
would" is structural. What only files need happens here: Flux chart sources are filled in from the
HelmRepository/OCIRepository objects read alongside, a Flux Kustomization's ``targetNamespace``
applies to the objects read under its ``path``, the same object read from several files counts
once, and different definitions of one object (per-environment copies in a GitOps repository) are
each kept, so that none of them escapes the verdict.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from ..core.compat.matrix import CompiledMatrix
from ..core.products.gitops import SourceKey, resolve_sources, retarget, retarget_source
from ..core.products.inventory import Inventory, Key
from ..core.products.workloads import WorkloadFacts
from .files import FluxTarget, Manifests, Problem

_MAX_ANCESTORS = 32


@dataclass
class ReadInventory:
    inventory: Inventory
    problems: list[Problem] = field(default_factory=list)  # objects that could not be judged
    files_of: dict[WorkloadFacts, list[str]] = field(default_factory=dict)  # each definition -> its files


def inventory_of(manifests: Manifests, matrix: CompiledMatrix, matrix_name: str) -> ReadInventory:
    """The inventory of ``manifests``, with ``matrix`` filed as ``matrix_name`` (the engagement's
    ``matrixRef``: the matrix given on the command line is the one meant, whatever it is called)."""
    read = ReadInventory(Inventory())
    for namespace, labels in manifests.namespace_labels.items():
        read.inventory.set_namespace(namespace, labels)
    read.inventory.set_matrix(dataclasses.replace(matrix, name=matrix_name))
    definitions: dict[Key, int] = {}
    targets = _target_directories(manifests.flux_targets)
    sources: dict[SourceKey, tuple[str, str | None]] = {}
    for source_key, value in manifests.chart_sources.items():
        moved = _target_of(manifests.source_files.get(source_key, ""), targets)
        sources[retarget_source(source_key, moved) if moved else source_key] = value
    for item in manifests.workloads:
        moved = _target_of(item.file, targets)
        facts = resolve_sources(retarget(item.facts, moved) if moved else item.facts, sources)
        files = read.files_of.get(facts)
        if files is not None:
            files.append(item.file)
            continue
        read.files_of[facts] = [item.file]
        count = definitions.get(facts.key, 0)
        definitions[facts.key] = count + 1
        # a NUL cannot occur in a Kubernetes name, so a second definition's key collides with nothing
        key = facts.key if count == 0 else (facts.key[0], facts.key[1], f"{facts.key[2]}\0{count}")
        try:
            read.inventory.upsert(facts, key)
        except Exception as exc:  # one odd object is its document's error, never a crash
            read.problems.append(Problem(item.file, item.document, f"cannot evaluate {facts.ref}: {exc!r}"[:300]))
    return read


def _target_directories(targets: list[FluxTarget]) -> list[tuple[str, str]]:
    """(directory, namespace) of each Flux Kustomization's ``path`` found in the input, deepest first.

    ``spec.path`` is relative to the root of the Kustomization's source repository: the nearest
    ancestor of the Kustomization's own file that holds ``.git`` and the path, else the nearest that
    holds the path. A path found nowhere in the input changes nothing."""
    found: dict[str, str] = {}
    for target in targets:
        relative = target.path.lstrip("/")
        directory = os.path.dirname(os.path.abspath(target.file))
        nearest = None
        for _ in range(_MAX_ANCESTORS):
            candidate = os.path.normpath(os.path.join(directory, relative))
            is_root = os.path.exists(os.path.join(directory, ".git"))
            if os.path.isdir(candidate) and (nearest is None or is_root):
                nearest = candidate
            if is_root:  # the repository's root: the path is relative to it, nothing above counts
                break
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        if nearest is not None:
            found.setdefault(nearest, target.namespace)
    return sorted(found.items(), key=lambda item: len(item[0]), reverse=True)


def _target_of(file: str, targets: list[tuple[str, str]]) -> str | None:
    """The ``targetNamespace`` that applies to an object read from ``file``, if any."""
    if not targets or not file:
        return None
    path = os.path.abspath(file)
    return next((namespace for directory, namespace in targets if path.startswith(directory + os.sep)), None)

"""Manifests as the operator's watches would leave its inventory: what ``check`` and ``triage`` judge from.

Both commands then read the :class:`~..core.inventory.Inventory` with the operator's own code
(:func:`~..core.engagements.assess`, :func:`~..core.triage_inputs.gather`), so "as the operator
would" is structural. What only files need happens here: Flux chart sources are filled in from the
HelmRepository/OCIRepository objects read alongside, the same object read from several files counts
once, and different definitions of one object (per-environment copies in a GitOps repository) are
each kept, so that none of them escapes the verdict.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..core.gitops import resolve_sources
from ..core.inventory import Inventory, Key
from ..core.matrix import CompiledMatrix
from ..core.workloads import WorkloadFacts
from .files import Manifests, Problem


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
    for item in manifests.workloads:
        facts = resolve_sources(item.facts, manifests.chart_sources)
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

"""What the inventory keeps of any object it reads: the one entry point for every input.

The operator's watches (``runtime/kube/wire.py``), its Kopf-fed path and ``check``'s file reader
all call :func:`facts_of`, so a kind is read the same way wherever it comes from. Which kinds:
workloads and ClusterServiceVersions (:mod:`.workloads`), Flux HelmReleases and Argo CD
Applications (:mod:`.gitops`), OLM Subscriptions and InstallPlans (:mod:`.olm`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .gitops import gitops_facts
from .olm import olm_facts
from .workloads import WorkloadFacts, facts_from_object


def facts_of(obj: Mapping[str, Any], default_namespace: str = "default") -> WorkloadFacts | None:
    """The facts of ``obj`` for detection; None for a kind (or an object) that holds none."""
    return (
        facts_from_object(obj, default_namespace)
        or gitops_facts(obj, default_namespace)
        or olm_facts(obj, default_namespace)
    )

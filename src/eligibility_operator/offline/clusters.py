"""``check --cluster``: the verdicts on live clusters, judged and rendered like files.

The listing is the runtime's (``runtime/scan.py``, wired by the command line); what it found arrives
here as plain core data (workload facts, namespace labels, engagement objects, the platform), so this
module, like every offline one, never touches a cluster. Each cluster (and, with
``--engagements-from-cluster``, each engagement in it) is one :class:`Verdict`; several make one table
with a cluster column, one JSON list, one SARIF run and one JUnit suite each.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

from pydantic import ValidationError

from ..api.models import SupportEngagementSpec, SupportEngagementStatus
from ..core.base.specs import describe_validation_error
from ..core.compat.matrix import CompiledMatrix
from ..core.products.workloads import WorkloadFacts
from ..core.verdict.evaluation import Platform
from .check import EXIT_INPUT_ERROR, CheckResult, judge
from .check import render_table as render_one
from .cluster_matrices import ClusterMatrices
from .files import Found, InputError, Manifests, Problem
from .inventory import ReadInventory, inventory_of
from .reports import render_junit, render_sarif


@dataclass(frozen=True)
class Verdict:
    cluster: str
    engagement: str | None  # namespace/name of the engagement judged by, None: an engagement covering all
    result: CheckResult

    @property
    def label(self) -> str:
        return self.cluster + (f" {self.engagement}" if self.engagement else "")


def manifests_of(workloads: Iterable[WorkloadFacts], namespace_labels: dict[str, dict[str, str]]) -> Manifests:
    """What was listed, as read manifests (no file, no line: the cluster is the source)."""
    out = Manifests(namespace_labels=dict(namespace_labels))
    out.workloads = [Found(facts, "", 0) for facts in workloads]
    out.objects = out.documents = len(out.workloads) + len(namespace_labels)
    return out


def engagement_spec(obj: dict[str, Any]) -> tuple[str, SupportEngagementSpec]:
    """(namespace/name, spec) of a SupportEngagement listed from a cluster; InputError when invalid."""
    meta = obj.get("metadata") or {}
    ref = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    try:
        return ref, SupportEngagementSpec.model_validate(obj.get("spec") or {})
    except ValidationError as exc:
        raise InputError(f"SupportEngagement {ref}: invalid: {describe_validation_error(exc)}") from None


def judge_cluster(
    cluster: str,
    workloads: list[WorkloadFacts],
    namespace_labels: dict[str, dict[str, str]],
    platform: Platform,
    matrix: CompiledMatrix,
    spec: SupportEngagementSpec | None,
    engagements: Sequence[dict[str, Any]] | None,
    matrices: ClusterMatrices | None = None,
) -> list[Verdict]:
    """One verdict per engagement found (``engagements`` given), else one by ``spec`` or for everything.

    With ``matrices`` (the cluster's own), each engagement is judged against the matrix its matrixRef
    names there, as the operator judges it; without, against ``matrix``."""
    manifests = manifests_of(workloads, namespace_labels)
    if engagements is None:
        return [Verdict(cluster, None, judge(manifests, spec, matrix, platform, where=cluster))]
    if not engagements:
        raise InputError(f"{cluster}: --engagements-from-cluster: no SupportEngagement in the cluster")
    verdicts = []
    inventories: dict[str, ReadInventory] = {}  # one per matrix name, whatever the number of engagements
    for obj in engagements:
        ref, found = engagement_spec(obj)
        named = matrices.get(found.matrix_name) if matrices is not None else matrix
        if isinstance(named, str):
            verdicts.append(Verdict(cluster, ref, no_verdict(manifests, f"{cluster} {ref}", named)))
            continue
        read = inventories.get(found.matrix_name)
        if read is None:
            read = inventories[found.matrix_name] = inventory_of(manifests, named, found.matrix_name)
        verdicts.append(Verdict(cluster, ref, judge(manifests, found, named, platform, where=cluster, read=read)))
    return verdicts


def no_verdict(manifests: Manifests, where: str, problem: str) -> CheckResult:
    """An engagement that cannot be judged (its matrix is unusable): exit 4 with the reason, never a verdict."""
    status = SupportEngagementStatus(reason="no verdict: matrix not usable")
    return CheckResult(
        status=status,
        problems=[Problem(where, 0, problem)],
        documents=manifests.documents,
        workloads=len(manifests.workloads),
    )


_WORST = {0: 0, 1: 1, 3: 2, EXIT_INPUT_ERROR: 3}


def exit_code(verdicts: Sequence[Verdict]) -> int:
    """The worst: any input error 4, else Ineligible 3, Limited 1, Eligible 0."""
    return max((v.result.exit_code for v in verdicts), key=lambda code: _WORST.get(code, 3), default=EXIT_INPUT_ERROR)


def render_table(verdicts: Sequence[Verdict]) -> str:
    """One cluster: its full table; several (clusters or engagements): one product table with a CLUSTER
    column, then each verdict's line."""
    if len(verdicts) == 1:
        v = verdicts[0]
        return f"Cluster: {v.label}\n" + render_one(v.result)
    rows = [("CLUSTER", "ENGAGEMENT", "PRODUCT", "VERSION", "LIFECYCLE", "ELIGIBILITY", "OWNER", "WORKLOADS")]
    for v in verdicts:
        for p in (*v.result.status.products, *v.result.status.uncovered_products):
            codes = f" [{', '.join(p.codes)}]" if p.codes else ""
            rows.append(
                (
                    v.cluster,
                    v.engagement or "-",
                    p.product,
                    p.version,
                    str(p.lifecycle or "not covered"),
                    str(p.eligibility or "-") + codes,
                    str(p.action_owner or "-"),
                    str(p.workload_count),
                )
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]
    lines.append("")
    for v in verdicts:
        status = v.result.status
        lines.append(f"{v.label}: {status.eligibility} ({status.reason}); {v.result.workloads} workloads")
        lines.extend(f"{v.label}: error: {p.error}" for p in v.result.problems)
    return "\n".join(lines)


def render_json(verdicts: Sequence[Verdict]) -> str:
    return json.dumps(
        [{"cluster": v.cluster, "engagementRef": v.engagement, **v.result.as_json()} for v in verdicts], indent=2
    )


def render_sarif_runs(verdicts: Sequence[Verdict]) -> str:
    """One SARIF log with a run per verdict (the cluster and engagement in the run's properties)."""
    runs = []
    for v in verdicts:
        run = json.loads(render_sarif(v.result))["runs"][0]
        run["properties"].update({"cluster": v.cluster, "engagementRef": v.engagement})
        runs.append(run)
    doc = json.loads(render_sarif(verdicts[0].result))
    doc["runs"] = runs
    return json.dumps(doc, indent=2)


def render_junit_suites(verdicts: Sequence[Verdict]) -> str:
    """One JUnit document with a testsuite per verdict, named after the cluster (and engagement)."""
    root = ET.Element("testsuites", name="eligibility-operator")
    tests = failures = 0
    for v in verdicts:
        suite = ET.fromstring(render_junit(v.result)).find("testsuite")
        assert suite is not None
        suite.set("name", f"eligibility-operator check {v.label}")
        tests += int(suite.get("tests", "0"))
        failures += int(suite.get("failures", "0"))
        root.append(suite)
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

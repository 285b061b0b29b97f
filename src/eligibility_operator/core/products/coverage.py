"""Which namespaces an engagement covers (label-selector semantics of metav1.LabelSelector)."""

from __future__ import annotations

from collections.abc import Mapping

from ...api.models import Coverage, LabelSelector, LabelSelectorRequirement

NAME_LABEL = "kubernetes.io/metadata.name"


def selector_problems(selector: LabelSelector | None) -> list[str]:
    """What the API server would refuse in a LabelSelector but a CRD schema cannot check."""
    if selector is None:
        return []
    problems = []
    for i, req in enumerate(selector.match_expressions):
        where = f"spec.coverage.namespaceSelector.matchExpressions[{i}]"
        if req.operator in ("In", "NotIn") and not req.values:
            problems.append(f"{where}: operator {req.operator} needs at least one value")
        if req.operator in ("Exists", "DoesNotExist") and req.values:
            problems.append(f"{where}: operator {req.operator} takes no values")
    return problems


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    for key, value in selector.match_labels.items():
        if labels.get(key) != value:
            return False
    for req in selector.match_expressions:
        present = req.key in labels
        if req.operator == "In" and (not present or labels[req.key] not in req.values):
            return False
        if req.operator == "NotIn" and present and labels[req.key] in req.values:
            return False
        if req.operator == "Exists" and not present:
            return False
        if req.operator == "DoesNotExist" and present:
            return False
    return True


def covers_everything(coverage: Coverage) -> bool:
    return not coverage.namespaces and coverage.namespace_selector is None


def covers(coverage: Coverage, namespace: str, labels: Mapping[str, str] | None) -> bool:
    """Whether ``namespace`` (with ``labels``; None when unknown) is covered."""
    if covers_everything(coverage) or namespace in coverage.namespaces:
        return True
    if coverage.namespace_selector is None:
        return False
    effective = {**(labels or {}), NAME_LABEL: namespace}
    return selector_matches(coverage.namespace_selector, effective)


ANY_NAMESPACE = "*"


def confined(coverage: Coverage, own: str, trusted: frozenset[str]) -> Coverage:
    """The coverage an engagement in namespace ``own`` gets.

    Engagements in a ``trusted`` namespace (or every namespace, with ``*``) get what they ask for.
    Elsewhere an engagement covers at most its own namespace: otherwise anybody who may create an
    engagement in some namespace could deny other teams' deployments (Enforce) and read the names
    of their workloads in its status.
    """
    if ANY_NAMESPACE in trusted or own in trusted:
        return coverage
    if covers_everything(coverage) or own in coverage.namespaces:
        return Coverage(namespaces=[own])
    nothing = LabelSelectorRequirement(key=NAME_LABEL, operator="In", values=[])  # matches no namespace
    if coverage.namespace_selector is None:
        return Coverage(namespace_selector=LabelSelector(match_expressions=[nothing]))
    selector = coverage.namespace_selector
    return Coverage(
        namespace_selector=LabelSelector(
            match_labels={**selector.match_labels, NAME_LABEL: own}, match_expressions=selector.match_expressions
        )
    )

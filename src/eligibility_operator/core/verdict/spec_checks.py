"""Semantic checks of a SupportEngagement spec that its CRD schema cannot express. Pure."""

from __future__ import annotations

from ...api.models import EngagementType, SupportEngagementSpec, VersionOwner
from ..base.business_calendar import check_calendar
from ..compat.matrix import CompiledMatrix
from ..products.coverage import selector_problems


def spec_problems(spec: SupportEngagementSpec, matrix: CompiledMatrix) -> list[str]:
    """Semantic problems the CRD schema cannot catch; each names the field and the fix."""
    problems = selector_problems(spec.coverage.namespace_selector)
    problems += check_calendar(spec.agreement.time_zone, spec.agreement.holiday_calendar)
    if spec.version_management == VersionOwner.STAKATER and spec.type != EngagementType.MANAGED_SERVICE:
        problems.append(
            "spec.versionManagement: Stakater maintains versions only under a ManagedService agreement; "
            "set spec.type to ManagedService or versionManagement to Customer"
        )
    seen: set[str] = set()
    for i, product in enumerate(spec.products):
        if product.name in seen:
            problems.append(f"spec.products[{i}].name: {product.name!r} is listed twice")
        seen.add(product.name)
        if product.name not in matrix.products:
            known = ", ".join(sorted(matrix.products))
            problems.append(
                f"spec.products[{i}].name: {product.name!r} is not in CompatibilityMatrix {matrix.name!r} "
                f"(known: {known})"
            )
    return problems

"""What a SupportRequest lacks that the policy asks it to carry (section 3: timely and complete
information), per category. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from ...api.requests import AffectedProduct, RequestCategory, SupportRequestSpec

_C = RequestCategory

# What the policy asks a request to carry (section 3: timely and complete information), per category.
WORKLOADS, VERSIONS, IMPACT, WORKAROUND, REPRODUCTION, VENDOR, DESCRIPTION, PRODUCT = (
    "affected workloads (spec.workloads)",
    "versions of the affected products (no workload shows one; set spec.version)",
    "impact (spec.impact)",
    "workaround (spec.workaround)",
    "steps to reproduce (spec.reproduction)",
    "the third-party vendor (spec.vendor)",
    "a description (spec.description)",
    "the affected product or workloads (spec.product or spec.workloads)",
)
_INCIDENT_NEEDS = (WORKLOADS, VERSIONS, IMPACT, WORKAROUND, REPRODUCTION)
_NEEDS: dict[RequestCategory, tuple[str, ...]] = {
    _C.INCIDENT: _INCIDENT_NEEDS,
    _C.THIRD_PARTY: (*_INCIDENT_NEEDS, VENDOR),
    _C.QUESTION: (PRODUCT, VERSIONS),
    _C.UPGRADE_GUIDANCE: (PRODUCT, VERSIONS),
    _C.INFRASTRUCTURE: (IMPACT, WORKAROUND, DESCRIPTION),
    _C.APPLICATION_CODE: (WORKLOADS, IMPACT, WORKAROUND, REPRODUCTION),
    _C.PERFORMANCE_TUNING: (WORKLOADS, IMPACT, DESCRIPTION),
}


def missing_information(req: SupportRequestSpec, products: Sequence[AffectedProduct]) -> list[str]:
    """What the policy asks for (section 3) that the request does not carry."""
    needs = _NEEDS.get(RequestCategory(req.category), (DESCRIPTION,))
    missing = []
    for need in needs:
        if need == WORKLOADS and req.workloads:
            continue
        if need == PRODUCT and (req.workloads or req.product):
            continue
        if need == VERSIONS and (req.version or (products and all(p.version != "Unknown" for p in products))):
            continue
        if need == VERSIONS and not products and not req.product:
            continue  # no product is involved: nothing to version
        if need == IMPACT and req.impact is not None:
            continue
        if need == WORKAROUND and req.workaround is not None:
            continue
        if need == REPRODUCTION and req.reproduction:
            continue
        if need == VENDOR and req.vendor:
            continue
        if need == DESCRIPTION and req.description:
            continue
        missing.append(need)
    return missing

"""The shipped default matrix as data (issue 11, class 7): every release line says where it came from,
and the installs seen in the field get a lifecycle that is true (no downgrade advice, no Unknown for a
line that exists)."""

from __future__ import annotations

import datetime as dt

import pytest

from eligibility_operator.api.models import Lifecycle, SupportEngagementSpec
from eligibility_operator.core.compat.versions import parse_version
from eligibility_operator.core.products.detection import Detection
from eligibility_operator.core.verdict.evaluation import Platform, evaluate
from eligibility_operator.offline.loading import default_matrix

from ..builders import default_compiled, engagement_spec

MATRIX = default_compiled()
AFTER_MTO_1_9 = dt.date(2026, 11, 1)  # MTO 1.9.0 was released on 2026-07-16


def test_every_release_line_of_the_default_matrix_names_its_source() -> None:
    lines = [
        (product["name"], release["version"], release.get("source"))
        for product in default_matrix()["spec"]["products"]
        for release in product["releases"]
    ]
    assert lines
    assert [(name, version) for name, version, source in lines if not (source or "").strip()] == []


@pytest.mark.parametrize(
    ("version", "lifecycle"),
    [
        ("1.9.1", Lifecycle.SUPPORTED),  # seen installed (OLM CSV tenant-operator.v1.9.1): was told "upgrade to 1.9.0"
        ("1.10.0", Lifecycle.SUPPORTED),  # seen installed: was Unknown
        ("1.8.3", Lifecycle.SUPPORTED),
        ("1.0.0", Lifecycle.END_OF_LIFE),
    ],
)
def test_multi_tenant_operator_versions_seen_in_the_field(version: str, lifecycle: Lifecycle) -> None:
    detection = Detection("multi-tenant-operator", None, parse_version(version), "olm", "", "ClusterServiceVersion")
    found = [("multi-tenant-operator/ClusterServiceVersion/x", detection)]
    spec = SupportEngagementSpec.model_validate(engagement_spec())
    [product] = evaluate(spec, MATRIX, found, Platform(), AFTER_MTO_1_9).status.products
    assert product.lifecycle == lifecycle, product.reason
    running, target = parse_version(version), parse_version(product.recommended_version or "")
    assert running is not None
    assert target is None or target.core >= running.core, product.recommended_version

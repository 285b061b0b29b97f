"""Status stays bounded on the real API server: a workload author creating hundreds of product versions
(and workloads over the container cap) gets a capped, worst-first status that the API server accepts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eligibility_operator.api.models import MAX_STATUS_PRODUCTS

from ..builders import engagement, matrix, workload
from ..conftest import Kubectl, OperatorProcess, wait_for


@pytest.fixture
def bounded_matrix(kubectl: Kubectl, namespace: str) -> Iterator[str]:
    name = f"m-{namespace}"
    kubectl.apply(matrix(name))
    yield name
    kubectl.run("delete", "compatibilitymatrix", name, "--wait=false", check=False)


def test_hundreds_of_versions_give_a_capped_status(
    kubectl: Kubectl, namespace: str, bounded_matrix: str, operator: OperatorProcess
) -> None:
    versions = [workload(namespace, f"r{i}", f"stakater/reloader:v1.4.{i}") for i in range(150)]
    eol = workload(namespace, "old", "stakater/reloader:v1.1.0")
    huge = workload(namespace, "huge", *(f"example.com/app/c{i}:v1" for i in range(300)))
    kubectl.apply(*versions, eol, huge)
    kubectl.apply(engagement(namespace, matrixRef={"name": bounded_matrix}))

    def capped() -> dict | None:  # type: ignore[type-arg]
        st = kubectl.get("se", "contract", "-n", namespace).get("status") or {}
        return st if st.get("productsTotal") == 151 else None

    st = wait_for(capped, timeout=60, what="a status with all 151 versions counted")
    assert len(st["products"]) == MAX_STATUS_PRODUCTS
    assert (st["products"][0]["version"], st["products"][0]["lifecycle"]) == ("1.1.0", "EndOfLife")
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and f"{namespace}/Deployment/huge" in ready["message"]
    assert "StatusWriteFailed" not in str(st)

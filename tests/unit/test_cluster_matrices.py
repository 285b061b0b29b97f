"""``check --cluster --engagements-from-cluster``: the matrix each engagement names, from the cluster's
own CompatibilityMatrix objects (the real fetch is in tests/cluster/test_check_cluster.py)."""

from __future__ import annotations

from typing import Any

from eligibility_operator.api.models import MatrixSource
from eligibility_operator.core.compat.matrix import CompiledMatrix, load_matrix
from eligibility_operator.matrix_source import Reason, SourceError
from eligibility_operator.offline.cluster_matrices import ClusterMatrices

from ..builders import matrix

SOURCE = {"url": "https://stakater.example/matrix.yaml", "digest": "sha256:" + "a" * 64}


def sourced(name: str, **source: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "generation": 3}, "spec": {"source": {**SOURCE, **source}}}


def test_inline_sourced_missing_and_invalid_matrices() -> None:
    fetched: list[str] = []

    def fetcher(name: str, source: MatrixSource, generation: int) -> CompiledMatrix:
        fetched.append(source.url)
        if "down" in name:
            raise SourceError(Reason.SOURCE_UNREACHABLE, "connection refused")
        return load_matrix(name, generation, matrix(name)["spec"])

    invalid = matrix("invalid")
    invalid["spec"]["products"].append(invalid["spec"]["products"][0])  # listed twice
    mixed = sourced("mixed")
    mixed["spec"]["products"] = matrix("x")["spec"]["products"]
    found = ClusterMatrices(
        [matrix("inline"), sourced("remote"), sourced("down"), invalid, mixed, sourced("bare", digest=None)],
        fetcher,
    )

    inline = found.get("inline")
    assert isinstance(inline, CompiledMatrix) and set(inline.products) == {"reloader", "forecastle"}
    remote = found.get("remote")
    assert isinstance(remote, CompiledMatrix) and remote.generation == 3
    assert found.get("remote") is remote and fetched == [SOURCE["url"]]  # fetched once
    assert (
        found.get("down")
        == f"CompatibilityMatrix 'down': spec.source {SOURCE['url']} not usable: SourceUnreachable: connection refused"
    )
    assert "not found; create it or set spec.matrixRef.name" in str(found.get("nowhere"))
    assert "'reloader' is listed twice" in str(found.get("invalid"))
    assert "come from the fetched document" in str(found.get("mixed"))
    assert "needs digest or publicKey" in str(found.get("bare"))
    assert fetched == [SOURCE["url"], SOURCE["url"]]  # invalid settings are never fetched

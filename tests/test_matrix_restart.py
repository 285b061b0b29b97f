"""A restart with the matrix source down: the operator evaluates with the last good copy kept in the
cluster (a module of its own: no other operator may run beside the one that is restarted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eligibility_operator.matrix_source import digest_of, sign
from eligibility_operator.webhook import ServingCert

from .conftest import Kubectl, running_operator, wait_for
from .matrix_servers import REGISTRY, oci_registry, serving_cert
from .test_matrix_refresh import PRIVATE, PUBLIC, _condition, _document, _engaged, _sourced, _status

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> ServingCert:
    return serving_cert(tmp_path_factory.mktemp("cert"))


def test_oci_source_then_restart_with_the_registry_down_uses_the_stored_copy(
    kubectl: Kubectl,
    namespace: str,
    kubeconfig: Path,
    cert: ServingCert,
    tmp_path: Path,
) -> None:
    """Its own operator and registry: the registry is stopped before the operator restarts."""
    if not REGISTRY:
        pytest.skip("Debian package docker-registry not installed (make system-deps)")
    name = f"oci-{namespace}"
    doc = _document()
    with oci_registry(cert, tmp_path / "registry") as reg:
        url = reg.push(f"stakater/{namespace}:1", doc, sign(doc, PRIVATE))
        kubectl.apply(_sourced(name, url, publicKey=PUBLIC.decode(), caBundle=reg.ca_pem, maxAge="1h"))
        _engaged(kubectl, namespace, name)
        with running_operator(kubeconfig, tmp_path / "first.log"):
            before = wait_for(
                lambda: (s := _status(kubectl, namespace)).get("matrixRevision") == digest_of(doc) and s,
                what="judged against the OCI revision",
            )
            wait_for(
                lambda: (
                    name + ".json"
                    in (
                        kubectl.get("cm", "eligibility-operator-matrices", "-n", "eligibility-operator").get("data")
                        or {}
                    )
                ),
                what="the last good copy kept in the cluster",
            )
    # The registry is gone: the restarted operator evaluates with the stored copy and writes nothing new.
    stored = kubectl.get("se", "contract", "-n", namespace)
    with running_operator(kubeconfig, tmp_path / "second.log") as proc:
        cmx = wait_for(
            lambda: (m := kubectl.get("cmx", name)) and _condition(m, "Fetched").get("status") == "False" and m,
            timeout=40,
            what="Fetched=False after the restart",
        )
        assert _condition(cmx, "Fetched")["reason"] == "SourceUnreachable"
        assert _condition(cmx, "Ready")["status"] == "True" and cmx["status"]["revision"] == digest_of(doc)
        assert "using the stored copy" in proc.log()
        after = kubectl.get("se", "contract", "-n", namespace)
        assert after["status"]["eligibility"] == before["eligibility"]
        assert after["status"]["matrixRevision"] == digest_of(doc)
        assert _condition(after, "Ready")["status"] == "True"
        assert after["status"]["products"] == stored["status"]["products"]
    kubectl.run("delete", "cmx", name, check=False)

"""A restart with the matrix source down: the operator evaluates with the last good copy kept in the
cluster (a module of its own: no other operator may run beside the one that is restarted)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from eligibility_operator.matrix_source import digest_of, sign
from eligibility_operator.runtime.serving.webhook import ServingCert

from ..conftest import Kubectl, OperatorProcess, running_operator, wait_for
from ..matrix_servers import REGISTRY, https_server, oci_registry, serving_cert
from .test_matrix_refresh import PRIVATE, PUBLIC, _condition, _document, _engaged, _scrape, _sourced, _status


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


def test_failover_with_the_source_down_the_new_leader_keeps_the_last_good_copy(
    kubectl: Kubectl, namespace: str, kubeconfig: Path, cert: ServingCert, tmp_path: Path
) -> None:
    """The leader is killed (-9) while the HTTPS source is gone: the follower takes the Lease, evaluates
    with the copy it read from the cluster, and reports the source unreachable; no verdict changes."""
    name = f"failover-{namespace}"
    doc = _document()
    timing = ("--lease-duration", "4", "--renew-deadline", "3", "--retry-period", "1")
    with https_server(cert) as files:
        path = f"/{namespace}/matrix.yaml"
        files.files[path], files.files[path + ".sig"] = doc, sign(doc, PRIVATE)
        kubectl.apply(_sourced(name, files.url(path), publicKey=PUBLIC.decode(), caBundle=files.ca_pem))
        _engaged(kubectl, namespace, name)
        leader = OperatorProcess(kubeconfig, tmp_path / "leader.log", *timing)
        try:
            leader.wait_healthy()
            before = wait_for(
                lambda: (s := _status(kubectl, namespace)).get("matrixRevision") == digest_of(doc) and s,
                what="judged against the fetched revision",
            )
            wait_for(lambda: _stored(kubectl, name), what="the copy kept in the cluster")
            follower = OperatorProcess(kubeconfig, tmp_path / "follower.log", *timing)
            try:
                follower.wait_healthy()
                wait_for(lambda: "using the stored copy" in follower.log(), what="the follower loads the copy")
                files.files.clear()  # the source is gone ...
                leader.proc.send_signal(signal.SIGKILL)  # ... and so is the leader
                leader.proc.wait()
                cmx = wait_for(
                    lambda: (m := kubectl.get("cmx", name)) and _condition(m, "Fetched").get("status") == "False" and m,
                    timeout=40,
                    what="the new leader reports the source",
                )
                assert _condition(cmx, "Fetched")["reason"] == "SourceUnreachable"
                assert _condition(cmx, "Ready")["status"] == "True" and cmx["status"]["revision"] == digest_of(doc)
                assert "404" in _condition(cmx, "Fetched")["message"]
                # the new leader itself tried the source (the old one may have seen the 404 before it died)
                wait_for(lambda: f"{name}: {files.url(path)} not applied" in follower.log(), what="follower fetches")
                assert "stakater_support_leader 1.0" in _scrape(follower.metrics_port)
                after = _status(kubectl, namespace)
                assert (after["eligibility"], after["matrixRevision"]) == (before["eligibility"], digest_of(doc))
                assert _condition({"status": after}, "Ready")["status"] == "True"
            finally:
                follower.stop()
        finally:
            leader.stop()
    kubectl.run("delete", "cmx", name, check=False)


def _stored(kubectl: Kubectl, name: str) -> bool:
    data = kubectl.get("cm", "eligibility-operator-matrices", "-n", "eligibility-operator").get("data") or {}
    return f"{name}.json" in data

"""The operator keeps a matrix with spec.source current, against the real kube-apiserver, a real HTTPS
server and Debian's docker-registry: applies only verified, valid documents, keeps the last good copy
through every fault and through a restart with the source down, and says why in the conditions."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from eligibility_operator.matrix_source import digest_of, generate_key, sign
from eligibility_operator.runtime.controllers.matrix_store import CONFIGMAP as STORE
from eligibility_operator.runtime.serving.webhook import ServingCert
from eligibility_operator_dev.controlplane import free_port

from ..builders import engagement, matrix, workload
from ..conftest import Kubectl, OperatorProcess, wait_for
from ..matrix_servers import (
    REGISTRY,
    FileServer,
    Registry,
    https_server,
    misbehaving_server,
    oci_registry,
    serving_cert,
)

API = "support.stakater.com/v1alpha1"
PRIVATE, PUBLIC = generate_key()


def _document(extra_line: bool = False) -> bytes:
    doc = matrix("published")
    if extra_line:
        releases = doc["spec"]["products"][0]["releases"]
        releases.append({"version": "1.5", "released": "2026-11-01", "latest": "1.5.0"})
    return yaml.safe_dump(doc).encode()


def _sourced(name: str, url: str, **source: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "CompatibilityMatrix",
        "metadata": {"name": name},
        "spec": {"source": {"url": url, "interval": "1s", **source}},
    }


def _kept(kubectl: Kubectl) -> dict[str, str]:
    """The data of the ConfigMap that keeps the last good copies (empty while there is none)."""
    found = kubectl.run("get", "cm", STORE, "-n", "eligibility-operator", "-o", "yaml", check=False)
    return (yaml.safe_load(found.stdout) or {}).get("data") or {} if found.returncode == 0 else {}


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> ServingCert:
    return serving_cert(tmp_path_factory.mktemp("cert"))


@pytest.fixture(scope="module")
def files(cert: ServingCert) -> Iterator[FileServer]:
    with https_server(cert) as server:
        yield server


@pytest.fixture(scope="module")
def registry(cert: ServingCert, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    if not REGISTRY:
        pytest.skip("Debian package docker-registry not installed (make system-deps)")
    with oci_registry(cert, tmp_path_factory.mktemp("registry")) as reg:
        yield reg


def _engaged(kubectl: Kubectl, namespace: str, matrix_name: str) -> None:
    kubectl.apply(
        workload(namespace, "current", "ghcr.io/stakater/reloader:v1.4.21"),
        workload(namespace, "old", "stakater/reloader:v1.1.0"),
        engagement(namespace, "contract", matrixRef={"name": matrix_name}),
    )


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
    return text


def _status(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    return (kubectl.get("se", "contract", "-n", namespace).get("status")) or {}


def test_https_source_applied_changed_and_every_fault_keeps_the_last_good_copy(
    kubectl: Kubectl, namespace: str, operator: OperatorProcess, files: FileServer
) -> None:
    name = f"https-{namespace}"
    path = f"/{namespace}/matrix.yaml"
    doc = _document()
    files.files[path], files.files[path + ".sig"] = doc, sign(doc, PRIVATE)
    kubectl.apply(_sourced(name, files.url(path), publicKey=PUBLIC.decode(), caBundle=files.ca_pem))
    _engaged(kubectl, namespace, name)
    try:
        first = wait_for(
            lambda: (s := _status(kubectl, namespace)).get("matrixRevision") == digest_of(doc) and s,
            what="the engagement judged against the fetched revision",
        )
        assert first["eligibility"] == "Limited"  # reloader 1.1.0 is end of life in the published matrix
        cmx = kubectl.get("cmx", name)
        assert cmx["status"]["revision"] == digest_of(doc) and cmx["status"]["products"] == 2
        assert _condition(cmx, "Fetched")["status"] == "True" and _condition(cmx, "Current")["status"] == "True"
        assert _condition(cmx, "Ready")["status"] == "True"

        # A new release: applied, and the Event names it.
        newer = _document(extra_line=True)
        files.files[path], files.files[path + ".sig"] = newer, sign(newer, PRIVATE)
        wait_for(lambda: _status(kubectl, namespace).get("matrixRevision") == digest_of(newer), what="new revision")
        events = kubectl.get("events", "-n", "default", "--field-selector", f"involvedObject.name={name}")["items"]
        assert any("reloader 1.5 added" in e["message"] for e in events), [e["message"] for e in events]
        good = _status(kubectl, namespace)

        other, _ = generate_key()
        faults: list[tuple[str, bytes | None, bytes | None]] = [
            ("SourceUnreachable", None, None),  # 404
            ("SignatureInvalid", newer + b"# tampered\n", sign(newer, PRIVATE)),
            ("SignatureInvalid", newer, sign(newer, other)),
            ("TooLarge", b"#" * (5 * 1024 * 1024), None),
            ("Invalid", b"kind: CompatibilityMatrix\nspec: {products: [", None),
            ("Invalid", b"kind: CompatibilityMatrix\nspec: {products: [{name: Bad_Name}]}\n", None),
        ]
        for reason, body, signature in faults:
            files.files.pop(path, None)
            files.files.pop(path + ".sig", None)
            if body is not None:
                files.files[path] = body
                files.files[path + ".sig"] = signature if signature is not None else sign(body, PRIVATE)
            cmx = wait_for(
                lambda r=reason: (m := kubectl.get("cmx", name)) and _condition(m, "Fetched").get("reason") == r and m,
                what=f"Fetched=False/{reason}",
            )
            assert _condition(cmx, "Fetched")["status"] == "False"
            current = _condition(cmx, "Current")
            assert (current["status"], current["reason"]) == ("False", reason), current
            assert digest_of(newer) in current["message"]  # still using the last good revision
            assert cmx["status"]["revision"] == digest_of(newer) and _condition(cmx, "Ready")["status"] == "True"
            now = _status(kubectl, namespace)
            assert (now["eligibility"], now["matrixRevision"]) == (good["eligibility"], good["matrixRevision"])
            assert _condition({"status": now}, "Ready")["status"] == "True", now["conditions"]
        files.files[path], files.files[path + ".sig"] = newer, sign(newer, PRIVATE)
        wait_for(lambda: _condition(kubectl.get("cmx", name), "Current").get("status") == "True", what="recovered")
        wait_for(lambda: name + ".json" in _kept(kubectl), what="the last good copy kept in the cluster")
        exposition = _scrape(operator.metrics_port)
        assert f'stakater_support_matrix_max_age_seconds{{matrix="{name}"}} 604800.0' in exposition
        stamp = re.search(
            rf'stakater_support_matrix_last_refresh_timestamp_seconds{{matrix="{name}"}} (\S+)', exposition
        )
        assert stamp and abs(float(stamp.group(1)) - time.time()) < 30, exposition
        for reason in ("SourceUnreachable", "SignatureInvalid", "TooLarge", "Invalid"):
            errors = re.search(rf'stakater_support_matrix_refresh_errors_total{{reason="{reason}"}} (\S+)', exposition)
            assert errors and float(errors.group(1)) >= 1, reason
        # Deleted: its kept copy goes too (the ConfigMap holds only matrices that exist).
        kubectl.run("delete", "cmx", name)
        wait_for(lambda: name + ".json" not in _kept(kubectl), what="the deleted matrix's copy dropped")
    finally:
        kubectl.run("delete", "cmx", name, check=False)


def test_sources_that_never_verify_apply_nothing(
    kubectl: Kubectl, namespace: str, operator: OperatorProcess, files: FileServer, tmp_path: Path
) -> None:
    path = f"/{namespace}/matrix.yaml"
    doc = _document()
    files.files[path], files.files[path + ".sig"] = doc, sign(doc, PRIVATE)
    other_ca = serving_cert(tmp_path / "other").ca_pem.decode()
    cases = {
        "tls": (_sourced("tls-" + namespace, files.url(path), digest=digest_of(doc), caBundle=other_ca), "TLS failure"),
        "down": (
            _sourced("down-" + namespace, f"https://127.0.0.1:{free_port()}/m.yaml", digest=digest_of(doc)),
            "unreachable",
        ),
        "digest": (
            _sourced("digest-" + namespace, files.url(path), digest="sha256:" + "0" * 64, caBundle=files.ca_pem),
            "digest mismatch",
        ),
    }
    kubectl.apply(*(body for body, _ in cases.values()))
    try:
        for body, words in cases.values():
            name = body["metadata"]["name"]
            cmx = wait_for(
                lambda n=name: (m := kubectl.get("cmx", n)) and _condition(m, "Fetched").get("status") == "False" and m,
                what=f"{name} Fetched=False",
            )
            assert words in _condition(cmx, "Fetched")["message"], cmx["status"]
            assert "revision" not in cmx["status"] and cmx["status"]["products"] == 0
            # Not invalid: it waits for a verified copy, and says where to look.
            ready = _condition(cmx, "Ready")
            assert (ready["status"], ready["reason"]) == ("False", "WaitingForSource"), ready
            assert "see the Fetched condition" in ready["message"], ready
        # An engagement on such a matrix waits too, and is not told to fix the matrix.
        waiting = cases["down"][0]["metadata"]["name"]
        kubectl.apply(engagement(namespace, "waits", matrixRef={"name": waiting}))
        eng_ready = wait_for(
            lambda: (
                (c := _condition(kubectl.get("se", "waits", "-n", namespace), "Ready")).get("reason")
                == "MatrixWaitingForSource"
                and c
            ),
            what="engagement MatrixWaitingForSource",
        )
        assert eng_ready["message"].startswith(f"CompatibilityMatrix {waiting!r} has no verified copy yet"), eng_ready
        # A spec.source without digest or publicKey is refused: nothing unverified is ever fetched and applied.
        kubectl.apply(_sourced("unpinned-" + namespace, files.url(path), caBundle=files.ca_pem))
        ready = wait_for(
            lambda: (
                _condition(kubectl.get("cmx", "unpinned-" + namespace), "Ready").get("status") == "False"
                and _condition(kubectl.get("cmx", "unpinned-" + namespace), "Ready")
            ),
            what="unpinned refused",
        )
        assert "digest or publicKey" in ready["message"] and ready["reason"] == "Invalid", ready
    finally:
        for body, _ in cases.values():
            kubectl.run("delete", "cmx", body["metadata"]["name"], check=False)
        kubectl.run("delete", "cmx", "unpinned-" + namespace, check=False)


def test_a_stalled_source_delays_no_other_matrix(
    kubectl: Kubectl, namespace: str, operator: OperatorProcess, files: FileServer, cert: ServingCert
) -> None:
    """Two sourced matrices; one source accepts the request and never answers (timeout 20s). Meanwhile the
    other's new revision is applied, and its copy turns Stale on time once its source is gone; then the
    stalled one fails with TimedOut, in its condition and in the metric."""
    healthy, stalled = f"healthy-{namespace}", f"stalled-{namespace}"
    path = f"/{namespace}/healthy.yaml"
    doc = _document()
    files.files[path], files.files[path + ".sig"] = doc, sign(doc, PRIVATE)
    with misbehaving_server(cert) as slow:
        kubectl.apply(_sourced(healthy, files.url(path), publicKey=PUBLIC.decode(), caBundle=files.ca_pem, maxAge="6s"))
        try:
            wait_for(lambda: kubectl.get("cmx", healthy).get("status", {}).get("revision") == digest_of(doc), what="A")
            kubectl.apply(
                _sourced(
                    stalled, slow.url("/stall/m.yaml"), digest="sha256:" + "0" * 64, caBundle=slow.ca_pem, timeout="20s"
                )
            )
            wait_for(lambda: slow.requests, what="the stalled source asked")
            started = time.monotonic()
            newer = _document(extra_line=True)
            files.files[path], files.files[path + ".sig"] = newer, sign(newer, PRIVATE)
            wait_for(
                lambda: kubectl.get("cmx", healthy)["status"].get("revision") == digest_of(newer),
                timeout=10,
                what="the other matrix's new revision applied while one source stalls",
            )
            assert time.monotonic() - started < 8
            files.files.pop(path)
            files.files.pop(path + ".sig")
            stale = wait_for(
                lambda: (c := _condition(kubectl.get("cmx", healthy), "Current")).get("reason") == "Stale" and c,
                timeout=12,
                what="Current=False/Stale after maxAge 6s, while the other source stalls",
            )
            assert stale["status"] == "False" and time.monotonic() - started < 16, stale
            waiting = _condition(kubectl.get("cmx", stalled), "Fetched")
            assert waiting.get("reason") != "TimedOut", waiting  # still inside its 20 s: it was not waited for
            timed_out = wait_for(
                lambda: (c := _condition(kubectl.get("cmx", stalled), "Fetched")).get("reason") == "TimedOut" and c,
                timeout=25,
                what="Fetched=False/TimedOut",
            )
            assert timed_out["status"] == "False" and "within 20 s" in timed_out["message"], timed_out
            assert time.monotonic() - started < 20 + 2 + 3, "20 s deadline, 2 s slack, the status write"
            errors = re.search(
                r'stakater_support_matrix_refresh_errors_total{reason="TimedOut"} (\S+)', _scrape(operator.metrics_port)
            )
            assert errors and float(errors.group(1)) >= 1
        finally:
            kubectl.run("delete", "cmx", healthy, stalled, check=False)

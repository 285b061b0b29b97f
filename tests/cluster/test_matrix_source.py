"""Fetching and verifying matrix documents against real servers on 127.0.0.1: an HTTPS file server and
Debian's docker-registry (OCI, TLS), with every fault the issue names."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eligibility_operator.matrix_source import (
    Integrity,
    Reason,
    SourceError,
    compile_document,
    digest_of,
    fetch,
    generate_key,
    sign,
    verified,
)
from eligibility_operator.offline.loading import default_matrix_text
from eligibility_operator.runtime.serving.webhook import ServingCert
from eligibility_operator_dev.controlplane import free_port

from ..matrix_servers import REGISTRY, FileServer, Registry, https_server, oci_registry, serving_cert

DOC = default_matrix_text().encode()
PRIVATE, PUBLIC = generate_key()


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> ServingCert:
    return serving_cert(tmp_path_factory.mktemp("cert"))


@pytest.fixture
def files(cert: ServingCert) -> Iterator[FileServer]:
    with https_server(cert) as server:
        server.files["/matrix.yaml"] = DOC
        server.files["/matrix.yaml.sig"] = sign(DOC, PRIVATE)
        yield server


@pytest.fixture(scope="module")
def registry(cert: ServingCert, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    if not REGISTRY:
        pytest.skip("Debian package docker-registry not installed (make system-deps)")
    with oci_registry(cert, tmp_path_factory.mktemp("registry")) as reg:
        yield reg


def _reason(call: object) -> tuple[Reason, str]:
    with pytest.raises(SourceError) as err:
        call()  # type: ignore[operator]
    return err.value.reason, err.value.message


# ------------------------------------------------------------------ https


def test_https_document_and_signature_verify_and_compile(files: FileServer) -> None:
    fetched = fetch(files.url("/matrix.yaml"), ca_bundle=files.ca_pem)
    assert fetched.document == DOC
    assert verified(fetched, Integrity(public_key=PUBLIC.decode())) == digest_of(DOC)
    assert verified(fetched, Integrity(digest=digest_of(DOC))) == digest_of(DOC)
    assert "reloader" in compile_document(fetched.document, "m", 1, "x").products


def test_https_404_is_source_unreachable(files: FileServer) -> None:
    reason, message = _reason(lambda: fetch(files.url("/nope.yaml"), ca_bundle=files.ca_pem))
    assert reason == Reason.SOURCE_UNREACHABLE and "HTTP 404" in message


def test_https_nothing_listening_is_source_unreachable() -> None:
    reason, message = _reason(lambda: fetch(f"https://127.0.0.1:{free_port()}/matrix.yaml", timeout=5))
    assert reason == Reason.SOURCE_UNREACHABLE and "unreachable" in message


def test_https_untrusted_certificate_is_a_tls_failure(files: FileServer, tmp_path: Path) -> None:
    # The system trust store does not know the test CA; neither does another CA.
    reason, message = _reason(lambda: fetch(files.url("/matrix.yaml")))
    assert reason == Reason.SOURCE_UNREACHABLE and "TLS failure" in message
    other = serving_cert(tmp_path / "other")
    reason, message = _reason(lambda: fetch(files.url("/matrix.yaml"), ca_bundle=other.ca_pem.decode()))
    assert reason == Reason.SOURCE_UNREACHABLE and "TLS failure" in message
    reason, message = _reason(lambda: fetch(files.url("/matrix.yaml"), ca_bundle="not a certificate"))
    assert "caBundle" in message


def test_https_oversized_document_is_refused_while_reading(files: FileServer) -> None:
    files.files["/big.yaml"] = b"# padding\n" * 100_000  # 1 MB
    reason, message = _reason(lambda: fetch(files.url("/big.yaml"), ca_bundle=files.ca_pem, max_bytes=64 * 1024))
    assert reason == Reason.TOO_LARGE and "cap" in message


def test_https_wrong_signature_missing_signature_and_wrong_digest(files: FileServer) -> None:
    other, _ = generate_key()
    files.files["/matrix.yaml.sig"] = sign(DOC, other)
    fetched = fetch(files.url("/matrix.yaml"), ca_bundle=files.ca_pem)
    assert _reason(lambda: verified(fetched, Integrity(public_key=PUBLIC.decode())))[0] == Reason.SIGNATURE_INVALID
    del files.files["/matrix.yaml.sig"]
    fetched = fetch(files.url("/matrix.yaml"), ca_bundle=files.ca_pem)
    assert fetched.signature is None
    reason, message = _reason(lambda: verified(fetched, Integrity(public_key=PUBLIC.decode())))
    assert reason == Reason.SIGNATURE_INVALID and "no signature" in message
    reason, _ = _reason(lambda: verified(fetched, Integrity(digest="sha256:" + "a" * 64)))
    assert reason == Reason.SIGNATURE_INVALID


def test_https_invalid_yaml_and_invalid_matrix_are_invalid(files: FileServer) -> None:
    for body in (b"kind: CompatibilityMatrix\nspec: {products: [", b"kind: CompatibilityMatrix\nspec: {products: 3}\n"):
        files.files["/bad.yaml"] = body
        fetched = fetch(files.url("/bad.yaml"), ca_bundle=files.ca_pem)
        assert _reason(lambda f=fetched: compile_document(f.document, "m", 1, "bad"))[0] == Reason.INVALID


def test_only_https_and_oci_are_fetched() -> None:
    for url in ("http://127.0.0.1/matrix.yaml", "file:///etc/passwd", "matrix.yaml"):
        assert _reason(lambda u=url: fetch(u))[0] == Reason.SOURCE_UNREACHABLE


# -------------------------------------------------------------------- OCI


def test_oci_artifact_with_signature_layer_verifies(registry: Registry) -> None:
    url = registry.push("stakater/matrix:1", DOC, sign(DOC, PRIVATE))
    fetched = fetch(url, ca_bundle=registry.ca_pem)
    assert fetched.document == DOC
    assert verified(fetched, Integrity(public_key=PUBLIC.decode(), digest=digest_of(DOC))) == digest_of(DOC)


def test_oci_wrong_signature_unsigned_and_missing_tag(registry: Registry) -> None:
    other, _ = generate_key()
    url = registry.push("stakater/matrix:forged", DOC, sign(DOC, other))
    fetched = fetch(url, ca_bundle=registry.ca_pem)
    assert _reason(lambda: verified(fetched, Integrity(public_key=PUBLIC.decode())))[0] == Reason.SIGNATURE_INVALID
    unsigned = fetch(registry.push("stakater/matrix:unsigned", DOC), ca_bundle=registry.ca_pem)
    assert unsigned.signature is None
    assert _reason(lambda: verified(unsigned, Integrity(public_key=PUBLIC.decode())))[0] == Reason.SIGNATURE_INVALID
    reason, message = _reason(lambda: fetch(registry.ref("stakater/matrix:absent"), ca_bundle=registry.ca_pem))
    assert reason == Reason.SOURCE_UNREACHABLE and "404" in message


def test_oci_oversized_layer_is_refused_before_download(registry: Registry) -> None:
    url = registry.push("stakater/matrix:big", b"# padding\n" * 100_000)
    assert _reason(lambda: fetch(url, ca_bundle=registry.ca_pem, max_bytes=64 * 1024))[0] == Reason.TOO_LARGE


def test_oci_untrusted_registry_and_registry_down(registry: Registry) -> None:
    url = registry.push("stakater/matrix:1", DOC)
    reason, message = _reason(lambda: fetch(url))
    assert reason == Reason.SOURCE_UNREACHABLE and "TLS" in message
    reason, _ = _reason(lambda: fetch(f"oci://127.0.0.1:{free_port()}/stakater/matrix:1", timeout=5))
    assert reason == Reason.SOURCE_UNREACHABLE


# -------------------------------------------------------------------- CLI

SAMPLES = Path(__file__).resolve().parents[2] / "deploy/samples"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eligibility_operator.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
        env={k: v for k, v in os.environ.items() if "proxy" not in k.lower()},
    )


def _check(*matrix_args: str) -> subprocess.CompletedProcess[str]:
    return _cli(
        "check",
        "-f",
        str(SAMPLES / "workloads.yaml"),
        "-f",
        str(SAMPLES / "namespaces.yaml"),
        "--engagement",
        str(SAMPLES / "engagement.yaml"),
        *matrix_args,
    )


def test_cli_keygen_sign_verify_round_trip_and_tampering(tmp_path: Path) -> None:
    doc = tmp_path / "matrix.yaml"
    doc.write_bytes(DOC)
    assert _cli("matrix", "keygen", "--private-key", "k.pem", "--public-key", "p.pem", cwd=tmp_path).returncode == 0
    assert (tmp_path / "k.pem").stat().st_mode & 0o077 == 0
    again = _cli("matrix", "keygen", "--private-key", "k.pem", "--public-key", "p.pem", cwd=tmp_path)
    assert again.returncode == 4 and "not overwriting" in again.stderr
    signed = _cli("matrix", "sign", "--key", str(tmp_path / "k.pem"), str(doc))
    assert signed.returncode == 0, signed.stderr
    assert (tmp_path / "matrix.yaml.sig").exists()
    ok = _cli("matrix", "verify", "--public-key", str(tmp_path / "p.pem"), str(doc))
    assert ok.returncode == 0 and digest_of(DOC) in ok.stdout, ok.stderr
    pinned = _cli("matrix", "verify", "--digest", digest_of(DOC), str(doc))
    assert pinned.returncode == 0, pinned.stderr
    doc.write_bytes(DOC.replace(b"reloader", b"reloaderx", 1))
    bad = _cli("matrix", "verify", "--public-key", str(tmp_path / "p.pem"), str(doc))
    assert bad.returncode == 4 and "SignatureInvalid" in bad.stderr


def test_cli_refuses_to_sign_an_invalid_matrix(tmp_path: Path) -> None:
    (tmp_path / "k.pem").write_bytes(PRIVATE)
    doc = tmp_path / "bad.yaml"
    doc.write_bytes(b"kind: CompatibilityMatrix\nspec: {products: 3}\n")
    result = _cli("matrix", "sign", "--key", str(tmp_path / "k.pem"), str(doc))
    assert result.returncode == 4 and "Invalid" in result.stderr
    assert not (tmp_path / "bad.yaml.sig").exists()


def test_check_with_a_verified_remote_matrix_gives_the_same_verdict(files: FileServer, tmp_path: Path) -> None:
    key = tmp_path / "p.pem"
    key.write_bytes(PUBLIC)
    ca = tmp_path / "ca.pem"
    ca.write_text(files.ca_pem)
    local = _check()
    remote = _check(
        "--matrix", files.url("/matrix.yaml"), "--matrix-public-key", str(key), "--matrix-ca-bundle", str(ca)
    )
    assert local.returncode == remote.returncode == 1, remote.stderr  # Limited, judged against the same matrix
    assert remote.stdout == local.stdout


def test_check_exits_4_without_a_verdict_when_the_remote_matrix_fails(
    files: FileServer, registry: Registry, tmp_path: Path
) -> None:
    key = tmp_path / "p.pem"
    key.write_bytes(PUBLIC)
    ca = tmp_path / "ca.pem"
    ca.write_text(files.ca_pem)
    other, _ = generate_key()
    files.files["/forged.yaml"] = DOC
    files.files["/forged.yaml.sig"] = sign(DOC, other)
    oci_forged = registry.push("stakater/matrix:cli-forged", DOC, sign(DOC, other))
    cases = {
        "SignatureInvalid": ["--matrix", files.url("/forged.yaml"), "--matrix-public-key", str(key)],
        "HTTP 404": ["--matrix", files.url("/missing.yaml"), "--matrix-public-key", str(key)],
        "digest mismatch": ["--matrix", files.url("/matrix.yaml"), "--matrix-digest", "sha256:" + "0" * 64],
        "does not match": ["--matrix", oci_forged, "--matrix-public-key", str(key)],
    }
    for words, args in cases.items():
        result = _check(*args, "--matrix-ca-bundle", str(ca))
        assert result.returncode == 4, (words, result.stderr)
        assert words in result.stderr and result.stdout == "", (words, result.stderr)
    tls = _check("--matrix", files.url("/matrix.yaml"), "--matrix-public-key", str(key))  # no CA: untrusted
    assert tls.returncode == 4 and "TLS failure" in tls.stderr
    unverified = _check("--matrix", files.url("/matrix.yaml"))
    assert unverified.returncode == 4 and "needs --matrix-digest or --matrix-public-key" in unverified.stderr


# -------------------------------------------------------- the refresher, in memory


def test_refresher_applies_keeps_and_forgets_a_deleted_matrix(files: FileServer) -> None:
    import asyncio

    from eligibility_operator.runtime.controllers.matrices import MatrixRefresher
    from eligibility_operator.runtime.controllers.matrix_store import MemoryStore
    from eligibility_operator.runtime.leadership import AlwaysLeader
    from eligibility_operator.runtime.metrics import OperatorMetrics
    from eligibility_operator.runtime.parts import Parts
    from eligibility_operator.runtime.state import OperatorState
    from eligibility_operator.runtime.tasks import BackgroundTasks

    from ..fake_kube import FakeKubeApi

    state, store, kube = OperatorState(), MemoryStore(), FakeKubeApi()
    parts = Parts(state, kube, OperatorMetrics(), BackgroundTasks(), AlwaysLeader())  # type: ignore[arg-type]
    refresher = MatrixRefresher(parts, store, changed=lambda name, content: None)
    body = {
        "metadata": {"name": "m", "uid": "u1", "generation": 1},
        "spec": {"source": {"url": files.url("/matrix.yaml"), "publicKey": PUBLIC.decode(), "caBundle": files.ca_pem}},
    }
    state.inventory.matrix_record("m")  # as the matrix controller does before offering it
    assert refresher.source_seen("m", body)

    async def scenario() -> None:
        assert await refresher.load_store()  # as the operator does at start: nothing kept yet
        await refresher.refresh(refresher.sources["m"])
        assert state.compiled_matrix("m") is not None and state.compiled_matrix("m").revision == digest_of(DOC)  # type: ignore[union-attr]
        assert store.load()["m"].revision == digest_of(DOC)
        assert [e.reason for e in kube.events] == ["MatrixChanged"]
        # A forged document later: not applied, the good one stays.
        other, _ = generate_key()
        files.files["/matrix.yaml.sig"] = sign(DOC + b"#", other)
        files.files["/matrix.yaml"] = DOC + b"#"
        await refresher.refresh(refresher.sources["m"])
        assert state.compiled_matrix("m").revision == digest_of(DOC)  # type: ignore[union-attr]
        assert refresher.sources["m"].failure is not None
        # Deleted while fetching: nothing comes back.
        state.inventory.remove_matrix("m")
        files.files["/matrix.yaml"], files.files["/matrix.yaml.sig"] = DOC, sign(DOC, PRIVATE)
        await refresher.refresh(refresher.sources["m"])
        assert state.matrix("m") is None
        # Absent from the state is not deleted (a matrix not delivered yet after a restart): its copy stays.
        state.ready.set()
        await refresher.drop_copies_of_deleted()
        assert "m" in store.load()
        # Seen deleted, then created again before the pass: the new one may use the copy.
        refresher.matrix_gone("m")
        state.inventory.matrix_record("m")
        await refresher.drop_copies_of_deleted()
        assert "m" in store.load()
        # Seen deleted: its kept copy goes (and a second pass has nothing to do).
        state.inventory.remove_matrix("m")
        refresher.matrix_gone("m")
        await refresher.drop_copies_of_deleted()
        assert "m" not in store.load() and "m" not in refresher.stored
        await refresher.drop_copies_of_deleted()

    asyncio.run(scenario())

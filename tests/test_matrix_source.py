"""Fetching and verifying matrix documents against real servers on 127.0.0.1: an HTTPS file server and
Debian's docker-registry (OCI, TLS), with every fault the issue names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eligibility_operator.default_matrix import default_matrix_text
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
from eligibility_operator.webhook import ServingCert
from eligibility_operator_dev.controlplane import free_port

from .matrix_servers import REGISTRY, FileServer, Registry, https_server, oci_registry, serving_cert

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

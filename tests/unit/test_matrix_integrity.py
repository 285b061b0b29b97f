"""Pure parts of the matrix source: digests, Ed25519 signatures, the size cap, document validation."""

from __future__ import annotations

import io

import pytest

from eligibility_operator.matrix_source import (
    Reason,
    SourceError,
    compile_document,
    digest_of,
    generate_key,
    sign,
    verify,
)
from eligibility_operator.matrix_source.deadline import Deadline
from eligibility_operator.matrix_source.https import read_capped
from eligibility_operator.matrix_source.oci import split_reference
from eligibility_operator.offline.loading import default_matrix_text

DOC = default_matrix_text().encode()


def test_a_signed_document_verifies_and_yields_its_digest() -> None:
    private, public = generate_key()
    assert verify(DOC, public_key=public, signature=sign(DOC, private)) == digest_of(DOC)
    assert verify(DOC, digest=digest_of(DOC)) == digest_of(DOC)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d + b"\n# appended\n",
        lambda d: d.replace(b"reloader", b"relaoder", 1),
        lambda d: d[:-1],
    ],
)
def test_any_change_to_the_document_fails_the_signature(tamper: object) -> None:
    private, public = generate_key()
    signature = sign(DOC, private)
    with pytest.raises(SourceError) as err:
        verify(tamper(DOC), public_key=public, signature=signature)  # type: ignore[operator]
    assert err.value.reason == Reason.SIGNATURE_INVALID


def test_another_keys_signature_missing_or_garbled_signature_is_refused() -> None:
    private, _ = generate_key()
    _, other_public = generate_key()
    for signature, words in (
        (sign(DOC, private), "does not match"),
        (None, "no signature"),
        (b"not base64 !!!", "not base64"),
        (b"A" * 5000, "larger than"),
    ):
        with pytest.raises(SourceError, match=words) as err:
            verify(DOC, public_key=other_public, signature=signature)
        assert err.value.reason == Reason.SIGNATURE_INVALID


def test_a_wrong_pinned_digest_is_refused_and_names_both() -> None:
    wrong = "sha256:" + "0" * 64
    with pytest.raises(SourceError) as err:
        verify(DOC, digest=wrong)
    assert err.value.reason == Reason.SIGNATURE_INVALID
    assert wrong in err.value.message and digest_of(DOC) in err.value.message


def test_an_unusable_public_key_is_a_signature_failure_not_a_crash() -> None:
    private, _ = generate_key()
    with pytest.raises(SourceError, match="public key unusable"):
        verify(
            DOC, public_key="-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", signature=sign(DOC, private)
        )


def test_read_capped_stops_at_the_cap_and_at_the_deadline() -> None:
    assert read_capped(io.BytesIO(b"x" * 100), 100, Deadline(5, "doc"), "doc") == b"x" * 100
    with pytest.raises(SourceError) as err:
        read_capped(io.BytesIO(b"x" * 101), 100, Deadline(5, "doc"), "doc")
    assert err.value.reason == Reason.TOO_LARGE
    with pytest.raises(SourceError, match="did not finish within") as err:
        read_capped(io.BytesIO(b"x"), 100, Deadline(-1, "doc"), "doc")
    assert err.value.reason == Reason.TIMED_OUT


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (b"kind: CompatibilityMatrix\nspec: [unclosed", "not a YAML document"),
        (b"\xff\xfe\x00garbage", "not a YAML document"),
        (b"kind: ConfigMap\n", "expected a CompatibilityMatrix"),
        (b"kind: CompatibilityMatrix\nspec: 3\n", "spec must be a mapping"),
        (b"kind: CompatibilityMatrix\nspec:\n  source: {url: https://x}\n  products: []\n", "may not name a source"),
        (
            b"kind: CompatibilityMatrix\nspec:\n  products:\n  - name: a\n    releases:\n"
            b"    - {version: '1.0', released: 2024-01-01}\n    - {version: '1.0', released: 2024-02-01}\n",
            "listed twice",
        ),
        (b"kind: CompatibilityMatrix\nspec:\n  products:\n  - name: Not_A_Name\n", "invalid CompatibilityMatrix"),
    ],
)
def test_documents_that_are_not_valid_matrices_are_invalid(document: bytes, words: str) -> None:
    with pytest.raises(SourceError, match=words) as err:
        compile_document(document, "m", 1, "https://example/m.yaml")
    assert err.value.reason == Reason.INVALID


def test_a_valid_document_compiles_under_the_name_given() -> None:
    compiled = compile_document(DOC, "fetched", 3, "x")
    assert compiled.name == "fetched" and compiled.generation == 3 and "reloader" in compiled.products


def test_oci_references_are_split_into_host_and_reference() -> None:
    assert split_reference("oci://registry.example:5000/stakater/matrix:1.2") == (
        "registry.example:5000",
        "registry.example:5000/stakater/matrix:1.2",
    )
    with pytest.raises(SourceError):
        split_reference("oci://justahost")

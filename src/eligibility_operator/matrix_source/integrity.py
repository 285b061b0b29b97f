"""Integrity of a matrix document: a pinned sha256 digest, or a detached Ed25519 signature.

The signature file (``FILE.sig`` next to the document, or the second layer of the OCI artifact) holds
the base64 of the 64-byte Ed25519 signature over the document's exact bytes, and a newline. Keys are
PEM: PKCS#8 private keys, SubjectPublicKeyInfo public keys (``openssl genpkey -algorithm ed25519``
makes the same).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import TYPE_CHECKING

from .errors import Reason, SourceError

# cryptography is imported where a key is used, not here: about 7 MiB the operator needs only once a
# matrix's source pins a public key (docs/performance.md, "Memory").
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")
MAX_SIGNATURE_BYTES = 4096


def digest_of(document: bytes) -> str:
    """``sha256:<hex>`` of the exact bytes (the revision of a document)."""
    return "sha256:" + hashlib.sha256(document).hexdigest()


def generate_key() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as (private PEM, public PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return private, public_pem(key)


def public_pem(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"not an Ed25519 key but {type(key).__name__}")
    return key


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"not an Ed25519 public key but {type(key).__name__}")
    return key


def sign(document: bytes, private_pem: bytes) -> bytes:
    """The signature file's content for ``document``."""
    return base64.b64encode(load_private_key(private_pem).sign(document)) + b"\n"


def verify(
    document: bytes, *, digest: str | None = None, public_key: str | bytes | None = None, signature: bytes | None = None
) -> str:
    """Check ``document`` against a pinned ``digest`` and/or ``public_key`` + ``signature``; return its digest.

    Raises :class:`SourceError` (``SignatureInvalid``) on any mismatch, a missing signature, a malformed
    signature file or an unusable public key. With neither digest nor key, nothing is checked.
    """
    actual = digest_of(document)
    if digest is not None and not hmac.compare_digest(actual, digest.strip().lower()):
        raise SourceError(Reason.SIGNATURE_INVALID, f"digest mismatch: pinned {digest}, document is {actual}")
    if public_key is not None:
        from cryptography.exceptions import InvalidSignature

        try:
            key = load_public_key(public_key)
        except ValueError as exc:
            raise SourceError(Reason.SIGNATURE_INVALID, f"public key unusable: {exc}") from None
        if signature is None:
            raise SourceError(Reason.SIGNATURE_INVALID, "no signature found next to the document")
        if len(signature) > MAX_SIGNATURE_BYTES:
            raise SourceError(Reason.SIGNATURE_INVALID, f"signature file larger than {MAX_SIGNATURE_BYTES} bytes")
        try:
            raw = base64.b64decode(signature.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SourceError(Reason.SIGNATURE_INVALID, "signature file is not base64") from None
        try:
            key.verify(raw, document)
        except InvalidSignature:
            raise SourceError(
                Reason.SIGNATURE_INVALID, f"Ed25519 signature does not match the document ({actual})"
            ) from None
    return actual

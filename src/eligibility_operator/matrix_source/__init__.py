"""A CompatibilityMatrix document fetched from https:// or oci://, verified (pinned digest or Ed25519
signature) and validated like an applied matrix before anything uses it.

Pure apart from the network: no Kubernetes client, no Kopf. ``matrix_refresher`` runs it in the operator,
``matrix_cli`` on the command line.
"""

from .errors import Reason, SourceError
from .fetch import (
    MAX_DOCUMENT_BYTES,
    Fetched,
    Integrity,
    compile_document,
    fetch,
    fetch_matrix,
    parse_document,
    verified,
)
from .integrity import digest_of, generate_key, sign, verify

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "Fetched",
    "Integrity",
    "Reason",
    "SourceError",
    "compile_document",
    "digest_of",
    "fetch",
    "fetch_matrix",
    "generate_key",
    "parse_document",
    "sign",
    "verified",
    "verify",
]

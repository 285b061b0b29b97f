"""One entry point: fetch a matrix document (and its signature) from https:// or oci://, verify it, and
compile it exactly as an applied matrix is compiled. Nothing returned from here has failed a check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from ..core.compat.matrix import CompiledMatrix, MatrixError, load_matrix
from . import https
from .deadline import Deadline, within
from .errors import Reason, SourceError
from .integrity import MAX_SIGNATURE_BYTES, verify

MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # the default matrix is 10 KB; a 4 MiB cap leaves room, and bounds memory
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Integrity:
    """What a document must satisfy: a pinned digest, a public key (then a signature is required), or both."""

    digest: str | None = None
    public_key: str | None = None

    @property
    def required(self) -> bool:
        return bool(self.digest or self.public_key)


@dataclass(frozen=True)
class Fetched:
    document: bytes
    signature: bytes | None


def fetch(
    url: str,
    *,
    ca_bundle: str | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    with_signature: bool = True,
) -> Fetched:
    """The document at ``url`` and, when ``with_signature``, its detached signature (None when absent).

    ``timeout`` bounds the whole fetch, document and signature together, however the source sends."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "https":

        def over_https(deadline: Deadline) -> Fetched:
            document = https.get(url, ca_bundle=ca_bundle, cap=max_bytes, deadline=deadline)
            assert document is not None  # missing_ok is False: a 404 raised
            signature = None
            if with_signature:
                signature = https.get(
                    url + ".sig", ca_bundle=ca_bundle, cap=MAX_SIGNATURE_BYTES, deadline=deadline, missing_ok=True
                )
            return Fetched(document, signature)

        return within(timeout, url, over_https)
    if scheme == "oci":
        from . import oci  # oras, jsonschema: about 3 MiB, imported once a source is oci://

        def over_oci(deadline: Deadline) -> Fetched:
            document, signature = oci.get(
                url, ca_bundle=ca_bundle, cap=max_bytes, deadline=deadline, signature_cap=MAX_SIGNATURE_BYTES
            )
            return Fetched(document, signature)

        return within(timeout, url, over_oci)
    raise SourceError(Reason.SOURCE_UNREACHABLE, f"{url}: only https:// and oci:// sources are fetched")


def parse_document(document: bytes, where: str) -> tuple[str, dict[str, Any]]:
    """(metadata.name, spec) of a CompatibilityMatrix document; Invalid if it is not one."""
    try:
        doc = yaml.safe_load(document.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SourceError(Reason.INVALID, f"{where}: not a YAML document: {str(exc)[:300]}") from None
    except RecursionError:
        raise SourceError(Reason.INVALID, f"{where}: nested too deeply") from None
    if not isinstance(doc, dict) or doc.get("kind") != "CompatibilityMatrix":
        raise SourceError(Reason.INVALID, f"{where}: expected a CompatibilityMatrix document")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise SourceError(Reason.INVALID, f"{where}: spec must be a mapping")
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return (name if isinstance(name, str) and name else "default"), spec


def compile_document(document: bytes, name: str | None, generation: int, where: str) -> CompiledMatrix:
    """Validate and compile a fetched document as matrix ``name`` (default: its own name)."""
    own, spec = parse_document(document, where)
    if "source" in spec:
        raise SourceError(Reason.INVALID, f"{where}: a fetched matrix may not name a source itself")
    try:
        return load_matrix(name or own, generation, spec)
    except MatrixError as exc:
        raise SourceError(Reason.INVALID, f"{where}: invalid CompatibilityMatrix: {exc}") from None


def fetch_matrix(
    url: str, integrity: Integrity, *, ca_bundle: str | None, timeout: float, name: str | None, generation: int
) -> CompiledMatrix:
    """Fetch, verify and compile in one step: the document at ``url`` as matrix ``name`` (default: its own),
    with its digest as the revision. SourceError when any step fails."""
    fetched = fetch(url, ca_bundle=ca_bundle, timeout=timeout, with_signature=integrity.public_key is not None)
    revision = verified(fetched, integrity)
    compiled = compile_document(fetched.document, name, generation, url)
    compiled.revision = revision
    return compiled


def verified(fetched: Fetched, integrity: Integrity) -> str:
    """The document's digest once it satisfies ``integrity`` (SourceError otherwise)."""
    return verify(
        fetched.document,
        digest=integrity.digest,
        public_key=integrity.public_key,
        signature=fetched.signature,
    )

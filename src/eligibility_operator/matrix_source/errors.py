"""Typed failures of fetching and verifying a matrix document: a ``reason`` for conditions and metrics,
and a message a human can act on."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a fetched document was not applied (the ``Current`` condition's reason, the metric's label)."""

    SOURCE_UNREACHABLE = "SourceUnreachable"  # network, TLS, HTTP error status, 404, registry refusal
    TIMED_OUT = "TimedOut"  # the whole fetch (document and signature) did not end within spec.source.timeout
    TOO_LARGE = "TooLarge"  # over the size cap
    SIGNATURE_INVALID = "SignatureInvalid"  # pinned digest or Ed25519 signature do not match, or no signature
    INVALID = "Invalid"  # not YAML, not a CompatibilityMatrix, or refused by the matrix validation


class SourceError(Exception):
    """A document that must not be applied, and why."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"

"""Reading an AdmissionReview from the wire: what is not one is refused before any work. Pure.

Anything that reaches the webhook's port can send a body; only a well-formed
``admission.k8s.io/v1`` AdmissionReview with a request and a plausible uid is judged.
Everything else is a :class:`ReviewError`, which the webhook answers with 400 (never 500,
never a traceback): invalid JSON or UTF-8, nesting deeper than the parser's recursion limit,
a wrong apiVersion or kind, a missing request, a uid that is not a short token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..products.workloads import essentials

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
_UID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # the API server sends a UUID


class ReviewError(ValueError):
    """The body is not an AdmissionReview this webhook answers."""


def parse_review(body: bytes) -> tuple[str, Mapping[str, Any]]:
    """The uid and the ``request`` of an AdmissionReview; :class:`ReviewError` for anything else."""
    try:
        review = json.loads(body)
    except RecursionError:
        raise ReviewError("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ReviewError(f"not JSON: {type(exc).__name__}") from None
    if not isinstance(review, dict):
        raise ReviewError("not a JSON object")
    if review.get("apiVersion") != API_VERSION or review.get("kind") != KIND:
        raise ReviewError(f"not an {API_VERSION} {KIND}")
    request = review.get("request")
    if not isinstance(request, dict):
        raise ReviewError("no request in the AdmissionReview")
    uid = request.get("uid")
    if not isinstance(uid, str) or not _UID.fullmatch(uid):
        raise ReviewError("request.uid is missing or not a uid")
    return uid, request


_REQUEST_FIELDS = ("uid", "operation", "namespace", "subResource", "dryRun", "kind", "resource", "name")


def read_review(body: bytes) -> tuple[str, dict[str, Any]]:
    """:func:`parse_review`, with the objects reduced to what the decision reads (see ``essentials``).

    Runs in the webhook's parser process: the result is small, so handing it back costs little,
    however large the review was.
    """
    uid, request = parse_review(body)
    small: dict[str, Any] = {k: request[k] for k in _REQUEST_FIELDS if isinstance(request.get(k), str | bool)}
    for key in ("object", "oldObject"):
        if isinstance(request.get(key), Mapping):
            small[key] = essentials(request[key])
    return uid, small

"""Tolerant parsing of container image references.

Follows the grammar of distribution/reference loosely: whatever the input, the
parser returns an :class:`ImageRef` and never raises. Parsed references are
cached because the same few hundred images repeat across thousands of workloads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_DIGEST = re.compile(r"@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,})$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image reference split into its parts. ``path`` has no registry host."""

    raw: str
    registry: str | None
    path: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """Last path segment, e.g. ``reloader``."""
        return self.path.rsplit("/", 1)[-1]

    def path_ends_with(self, repository: str) -> bool:
        """True if ``repository`` (e.g. ``stakater/reloader``) is a whole-segment suffix of the path."""
        repo = repository.strip("/").lower()
        return self.path == repo or self.path.endswith("/" + repo)


def _looks_like_registry(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def registry_host(repository: str) -> str | None:
    """The registry host ``repository`` starts with (``ghcr.io`` of ``ghcr.io/stakater/reloader``), if any:
    a matrix's repositories are paths without one, which match whatever registry or mirror precedes them."""
    first, _, rest = repository.strip("/").partition("/")
    return first if rest and _looks_like_registry(first) else None


_DOCKER_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io"}


def parse_image(reference: object) -> ImageRef:
    """Parse ``reference``; anything unparseable (or not a string) yields an ImageRef with what could be read."""
    return _parse(reference if isinstance(reference, str) else "")


@lru_cache(maxsize=8192)
def _parse(raw: str) -> ImageRef:
    text = raw.strip()
    digest = None
    match = _DIGEST.search(text)
    if match:
        digest = match.group(1).lower()
        text = text[: match.start()]
    elif "@" in text:  # malformed digest: drop it, keep what precedes
        text = text.split("@", 1)[0]
    registry = None
    first, sep, rest = text.partition("/")
    if sep and _looks_like_registry(first):
        registry, text = first.lower(), rest
    tag = None
    last_slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > last_slash:
        candidate = text[colon + 1 :]
        text = text[:colon]
        tag = candidate if _TAG.match(candidate) else None
    path = text.strip("/").lower()
    if (registry is None or registry in _DOCKER_HUB) and path and "/" not in path:
        path = f"library/{path}"  # Docker Hub official image, as the runtime resolves it
    return ImageRef(raw=raw, registry=registry, path=path, tag=tag, digest=digest)

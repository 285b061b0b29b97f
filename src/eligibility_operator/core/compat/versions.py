"""Product versions as found in image tags and labels.

Tags look like ``v1.4.21``, ``1.4.21``, ``v1.4.21-ubi``, ``0.10.0-alpha-2``, ``latest`` or ``merge-123``.
Only the numeric ``major.minor[.patch]`` core is compared; a suffix after ``-``
or ``+`` that is a build flavour (``ubi``, ``alpine``) is ignored in comparisons
and display. A pre-release suffix (``-alpha-2``, ``-rc.1``, ``-beta``) is kept
whole: ``0.10.0-alpha-2`` is shown as such, is not release ``0.10.0`` and belongs
to no release line. Anything else is not a version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# SemVer pre-release identifiers as projects name them; anything else after `-` is a build flavour.
_PRERELEASE = re.compile(r"^(?:alpha|beta|rc|pre|preview|dev|snapshot|canary|nightly|milestone|m\d|a\d|b\d)", re.I)
_VERSION = re.compile(r"^[vV]?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?(?:([-+_])([0-9A-Za-z.-]*))?$")


@dataclass(frozen=True, slots=True, order=True)
class Version:
    major: int
    minor: int
    patch: int
    parts: int  # how many numeric parts were given: 1, 2 or 3
    suffix: str = ""
    suffix_separator: str = ""  # "-", "+" or "_": only "-" starts a pre-release

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    @property
    def prerelease(self) -> str:
        """The pre-release suffix (``alpha-2`` of ``0.10.0-alpha-2``), or "" for a release."""
        return self.suffix if self.suffix and self.suffix_separator == "-" and _PRERELEASE.match(self.suffix) else ""

    def __str__(self) -> str:
        """The numeric version, and a pre-release suffix: ``v1.4.21-ubi`` is release 1.4.21 whatever its build
        flavour; ``0.10.0-alpha-2`` stays itself."""
        number = ".".join(str(n) for n in [self.major, self.minor, self.patch][: self.parts])
        return f"{number}-{self.prerelease}" if self.prerelease else number

    def within(self, line: Version) -> bool:
        """True if this version belongs to ``line`` ('1.4' contains 1.4.x; '2.0.1' only itself); a
        pre-release belongs to no release line (only to the same pre-release)."""
        if self.prerelease != line.prerelease and (self.prerelease or line.parts == 3):
            return False
        return self.core[: line.parts] == line.core[: line.parts]


def parse_version(text: object) -> Version | None:
    """Parse a version string; None when it is not one (``latest``, ``merge-12``, ``""``, not a string)."""
    return _parse(text) if isinstance(text, str) else None


@lru_cache(maxsize=8192)
def _parse(text: str) -> Version | None:
    match = _VERSION.match(text.strip())
    if not match:
        return None
    major, minor, patch, separator, suffix = match.groups()
    parts = 1 + (minor is not None) + (patch is not None)
    return Version(int(major), int(minor or 0), int(patch or 0), parts, suffix or "", separator or "")


def version_key(text: str) -> tuple[int, int, int]:
    """Sort key for version strings; non-versions sort first."""
    parsed = parse_version(text)
    return parsed.core if parsed else (-1, -1, -1)

"""The C allocator's settings for the operator process (``run`` applies them before any thread starts).

Measured at 10,000 workloads and 100 engagements (docs/performance.md, "Memory"):

- :func:`fix_mmap_threshold`: glibc raises its mmap threshold to the size of each large block freed, after
  which such blocks (response bodies, big lists and dicts) come from the heap and leave holes there.
  Keeping it fixed saved 4.2 MiB of steady RSS.
- :func:`limit_arenas`: glibc gives each thread that allocates an arena of its own, up to 8 per core of
  the node (not of the CPU limit), each keeping what was freed in it; the API calls run in a thread pool
  of ``min(32, cores + 4)``. Capped at 2: no difference measured on 2 cores (7 arenas held little there),
  kept so that the figure does not depend on the node's core count.

An environment variable glibc reads itself (``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_``) was applied
at start and wins. Nothing is done where the C library is not glibc (musl, macOS).
"""

from __future__ import annotations

import ctypes
import os
import platform
from functools import cache

ARENA_MAX = 2
MMAP_THRESHOLD = 128 * 1024  # glibc's initial value, kept fixed
_M_MMAP_THRESHOLD = -3  # mallopt() parameters, <malloc.h>
_M_ARENA_MAX = -8


@cache
def _glibc() -> ctypes.CDLL | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")  # glibc's soname on every Linux architecture
    except OSError:
        return None


def limit_arenas(arenas: int = ARENA_MAX) -> bool:
    """Cap glibc's malloc arenas (call before threads start); False where not applied."""
    libc = _glibc()
    if libc is None or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, arenas))


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Keep large blocks (response bodies, big lists and dicts) in mappings of their own, returned when
    freed. glibc raises the threshold to the size of each such block freed (up to 32 MiB), after which
    those blocks come from the heap and leave holes in it; a fixed threshold stops that."""
    libc = _glibc()
    if libc is None or os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))

"""Where the operator's memory goes: ``python -m benchmarks.memprobe OUT run ...`` runs the operator's
CLI under tracemalloc and, after its imports and on each SIGUSR1, appends one snapshot to OUT (JSON lines).

A snapshot: /proc/self/smaps_rollup (anonymous vs file-backed), threads, glibc's per-arena figures
(``malloc_info``), gc counts, and the Python allocations still alive, grouped by package and by the
operator's own files. ``make bench`` starts the operator through it with ``--probe`` and signals it
after the cold start and at steady state. tracemalloc costs memory of its own (its traces), so the RSS of
a probed run is not the benchmark's figure: run without ``--probe`` for that.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import os
import re
import signal
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any


def rollup() -> dict[str, int]:
    """/proc/self/smaps_rollup in KiB: Rss, Anonymous, file-backed (Rss - Anonymous), AnonHugePages."""
    values: dict[str, int] = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            values[parts[0].rstrip(":")] = int(parts[1])
    return {
        "rss_kib": values.get("Rss", 0),
        "anonymous_kib": values.get("Anonymous", 0),
        "file_kib": values.get("Rss", 0) - values.get("Anonymous", 0),
        "anon_huge_kib": values.get("AnonHugePages", 0),
    }


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL("libc.so.6")


def arenas() -> list[dict[str, int]]:
    """glibc malloc_info: per arena (heap), the bytes it holds from the system and those free in it."""
    libc = _libc()
    with tempfile.NamedTemporaryFile("r", suffix=".xml") as out:
        libc.fopen.restype = ctypes.c_void_p
        stream = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        xml = Path(out.name).read_text()
    heaps = []
    for heap in re.findall(r'<heap nr="\d+">(.*?)</heap>', xml, re.S):
        system = re.search(r'<system type="current" size="(\d+)"', heap)
        free = sum(int(size) for size in re.findall(r'<total type="(?:fast|rest)" count="\d+" size="(\d+)"', heap))
        heaps.append({"system": int(system.group(1)) if system else 0, "free": free})
    return heaps


def _group(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/eligibility_operator/" in filename:
        return "eligibility_operator/" + filename.split("/eligibility_operator/", 1)[1]
    if "python3" in filename and "/lib/" in filename:
        return "stdlib"
    return filename


def snapshot(label: str) -> dict[str, Any]:
    taken = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
    by_group: collections.Counter[str] = collections.Counter()
    lines: dict[str, int] = {}
    if taken is not None:
        for stat in taken.statistics("filename"):
            by_group[_group(stat.traceback[0].filename)] += stat.size
        for stat in taken.statistics("lineno")[:40]:
            frame = stat.traceback[0]
            lines[f"{_group(frame.filename)}:{frame.lineno}"] = stat.size // 1024
    del taken
    heaps = arenas()
    before_trim = rollup()["rss_kib"]
    _libc().malloc_trim(0)
    return {
        "label": label,
        **rollup(),
        "threads": len(os.listdir("/proc/self/task")),
        "arenas": len(heaps),
        "arena_system_kib": [h["system"] // 1024 for h in heaps],
        "arena_free_kib": [h["free"] // 1024 for h in heaps],
        "gc_objects": len(gc.get_objects()),
        "traced_kib": sum(by_group.values()) // 1024,
        "top_kib": {k: v // 1024 for k, v in by_group.most_common(30)},
        "top_lines_kib": lines,
        "rss_before_trim_kib": before_trim,
        "rss_after_trim_kib": rollup()["rss_kib"],  # what malloc_trim(0) would hand back at this moment
    }


def main() -> None:
    out = Path(sys.argv[1])
    tracemalloc.start(1)

    def write(label: str) -> None:
        with out.open("a") as f:
            f.write(json.dumps(snapshot(label)) + "\n")

    count = iter(range(1, 1000))
    signal.signal(signal.SIGUSR1, lambda *_: write(f"signal-{next(count)}"))
    # What `run` imports before it starts (cli.run).
    import kopf  # noqa: F401

    from eligibility_operator.runtime.app import run_operator  # noqa: F401
    from eligibility_operator.runtime.kube.api import KubeClient  # noqa: F401
    from eligibility_operator.runtime.leadership import default_identity  # noqa: F401

    write("imports")
    from eligibility_operator.cli import main as cli

    sys.argv = ["eligibility-operator", *sys.argv[2:]]
    cli()


if __name__ == "__main__":
    main()

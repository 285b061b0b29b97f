"""Memory and process of a container on this node, read from the host: the pod's cgroup and /proc.

Pure parsing (unit-tested in tests/unit/test_bench_podmemory.py) and small readers. cgroup v1 and v2 with
the kubelet's cgroupfs driver, as ``make node-up`` runs it: ``kubepods[/burstable|/besteffort]/pod<uid>/<id>``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")
MIB = 1 << 20


def parse_memory_stat(text: str) -> dict[str, int]:
    """``memory.stat`` (v1 or v2): ``key value`` per line; lines that are not that are skipped."""
    stat: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            stat[parts[0]] = int(parts[1])
    return stat


def working_set(usage: int, stat: dict[str, int]) -> int:
    """The kubelet's working set (cAdvisor's): usage minus inactive file pages, never below 0. v1 names the
    hierarchical counter ``total_inactive_file``, v2 ``inactive_file``."""
    inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
    return max(0, usage - inactive)


def container_id(pod: dict[str, Any], container: str) -> str:
    """The runtime's id of ``container`` in a pod (``containerd://<id>`` in its status), or ''."""
    for status in pod.get("status", {}).get("containerStatuses", []):
        if status.get("name") == container:
            return str(status.get("containerID", "")).split("://", 1)[-1]
    return ""


def pod_cgroup(pod: dict[str, Any]) -> Path:
    """The pod's cgroup below the hierarchy root, from its UID and QoS class (cgroupfs driver)."""
    uid = pod["metadata"]["uid"]
    qos = pod.get("status", {}).get("qosClass", "BestEffort")
    tier = {"Guaranteed": (), "Burstable": ("burstable",), "BestEffort": ("besteffort",)}[qos]
    return Path("kubepods", *tier, f"pod{uid}")


def memory_dir(relative: Path, root: Path = CGROUP_ROOT) -> Path:
    """The cgroup's directory in the memory hierarchy: ``memory/`` on v1, the unified root on v2."""
    v1 = root / "memory" / relative
    return v1 if (root / "memory").is_dir() else root / relative


def cgroup_memory(directory: Path) -> dict[str, float | None]:
    """Usage, working set, peak and limit in MiB, and the anonymous and file parts, of one cgroup.
    v1: ``memory.usage_in_bytes``, ``memory.max_usage_in_bytes``, ``memory.limit_in_bytes``; v2:
    ``memory.current``, ``memory.peak`` (kernel >= 5.19, else None), ``memory.max``."""
    v1 = (directory / "memory.usage_in_bytes").exists()
    names = (
        ("memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.limit_in_bytes")
        if v1
        else ("memory.current", "memory.peak", "memory.max")
    )
    usage, peak, limit = (_read_int(directory / name) for name in names)
    stat = parse_memory_stat((directory / "memory.stat").read_text())
    anon = stat.get("total_rss", stat.get("anon")) if v1 else stat.get("anon")
    file = stat.get("total_cache", stat.get("file")) if v1 else stat.get("file")
    return {
        "usage_mib": _mib(usage),
        "working_set_mib": _mib(working_set(usage, stat)) if usage is not None else None,
        "peak_mib": _mib(peak),
        "limit_mib": _mib(limit),
        "anonymous_mib": _mib(anon),
        "file_mib": _mib(file),
    }


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # v2's "max" means no limit


def _mib(value: int | None) -> float | None:
    return None if value is None else round(value / MIB, 1)


def main_process(parents: dict[int, int]) -> int:
    """The container's first process: the one whose parent (the runtime's shim) is outside the container.
    ``parents`` maps each pid in the container's cgroup to its parent pid."""
    roots = sorted(pid for pid, parent in parents.items() if parent not in parents)
    if len(roots) != 1:
        raise ValueError(f"expected one process whose parent is outside the container, found {roots}")
    return roots[0]


def cgroup_processes(directory: Path) -> dict[int, int]:
    """pid -> parent pid of every process in a cgroup (``cgroup.procs``), from /proc."""
    parents = {}
    for line in (directory / "cgroup.procs").read_text().split():
        try:
            stat = Path(f"/proc/{line}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        parents[int(line)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def process_age(pid: int, proc: Path = Path("/proc")) -> float:
    """Seconds since the process started: /proc/uptime minus its start time (field 22 of its stat, in clock
    ticks since boot); the same clock for every process of the kernel, in a container or not."""
    uptime = float((proc / "uptime").read_text().split()[0])
    ticks = int((proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19])
    return uptime - ticks / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def describe(pid: int) -> dict[str, Any]:
    """A process's pid, RSS and command line (shortened), for the record."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        command = " ".join(a.decode(errors="replace") for a in argv if a)[:160]
        return {"pid": pid, "rss_mib": rss_mib(pid), "command": command}
    except OSError:
        return {"pid": pid, "rss_mib": None, "command": "(ended)"}


def summary_working_set(summary: dict[str, Any], namespace: str, pod: str, container: str) -> float | None:
    """The kubelet's own figure for a container (its ``/stats/summary``), in MiB; None when not reported."""
    for entry in summary.get("pods", []):
        ref = entry.get("podRef", {})
        if ref.get("namespace") == namespace and ref.get("name") == pod:
            for c in entry.get("containers", []):
                if c.get("name") == container:
                    value = c.get("memory", {}).get("workingSetBytes")
                    return _mib(int(value)) if value is not None else None
    return None


def holder_pod(holder_identity: str) -> str:
    """The pod that holds the Lease: the operator names itself ``<pod name>_<random suffix>``."""
    return holder_identity.rsplit("_", 1)[0] if "_" in holder_identity else holder_identity

"""Process checks for tests that kill things: is a process still running, which children it has."""

from __future__ import annotations

import time
from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...


def running(pid: int) -> bool:
    """True while the process exists and is not a zombie (an exited orphan may wait for its reaper)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not running(pid):
            return True
        time.sleep(0.05)
    return False


def children_of(pid: int) -> list[int]:
    """The running processes whose parent is ``pid``."""
    stats = {int(e.name): _stat(int(e.name)) for e in Path("/proc").iterdir() if e.name.isdigit()}
    return [child for child, fields in stats.items() if fields and fields[1] == str(pid) and fields[0] != "Z"]

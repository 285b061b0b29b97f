"""The lock files agree with pyproject.toml (run `make lock` after changing dependencies)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT = canonicalize_name(PYPROJECT["project"]["name"])


@dataclass
class Pin:
    version: str
    hashes: int = 0
    via: set[str] = field(default_factory=set)


def read_lock(path: Path) -> dict[str, Pin]:
    """{package: Pin} from a `uv pip compile --generate-hashes` output."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    via_block = False
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if match := re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s\\;]+)\s*\\?", raw):
            current = pins[canonicalize_name(match[1])] = Pin(match[2])
            via_block = False
        elif current is not None and line.startswith("--hash=sha256:"):
            current.hashes += 1
        elif current is not None and line.startswith("# via"):
            rest = line.removeprefix("# via").strip()
            via_block = not rest
            if rest:
                current.via.add(rest)
        elif current is not None and via_block and line.startswith("#   "):
            current.via.add(line.removeprefix("#").strip())
        elif line and not line.startswith("#"):
            raise AssertionError(f"{path.name}: unexpected line {raw!r}")
    return pins


def parents(pin: Pin) -> set[str]:
    """The `# via` entries as package names; the project itself is `<name> (pyproject.toml)`."""
    return {canonicalize_name(v.split(" ")[0]) for v in pin.via}


def check(requirements: list[str], lock: Path, root: str = PROJECT) -> None:
    """Direct pins are those `# via` the project, or with no `# via` at all (requirements from stdin)."""
    pins = read_lock(lock)
    assert pins, f"{lock.name} pins nothing"
    direct = {canonicalize_name(Requirement(r).name): Requirement(r) for r in requirements}
    for name, req in direct.items():
        assert name in pins, f"{lock.name} lacks {req}: run `make lock`"
        assert req.specifier.contains(pins[name].version, prereleases=True), (
            f"{lock.name} pins {name}=={pins[name].version}, pyproject.toml asks for {req}: run `make lock`"
        )
    from_root = {n for n, p in pins.items() if not p.via or root in parents(p)}
    assert from_root == set(direct), (
        f"{lock.name} was locked for other direct dependencies than pyproject.toml's: "
        f"extra {sorted(from_root - set(direct))}, missing {sorted(set(direct) - from_root)}: run `make lock`"
    )
    for name, pin in pins.items():
        assert pin.hashes, f"{lock.name}: {name} has no --hash"
        unknown = parents(pin) - set(pins) - {root}
        assert not unknown, f"{lock.name}: {name} is needed by {unknown}, which the lock does not pin"


def test_runtime_lock_matches_pyproject() -> None:
    check(PYPROJECT["project"]["dependencies"], REPO / "requirements.lock")


def test_build_lock_matches_build_system() -> None:
    check(PYPROJECT["build-system"]["requires"], REPO / "requirements-build.lock")


def test_a_dependency_added_to_pyproject_is_noticed() -> None:
    """The check above can fail: a new or tightened requirement that the lock does not satisfy."""
    lock = REPO / "requirements.lock"
    with pytest.raises(AssertionError, match="make lock"):
        check([*PYPROJECT["project"]["dependencies"], "rich>=13"], lock)
    first, *rest = PYPROJECT["project"]["dependencies"]
    with pytest.raises(AssertionError, match="make lock"):
        check([f"{Requirement(first).name}>=9999", *rest], lock)
    with pytest.raises(AssertionError, match="other direct dependencies"):
        check(rest, lock)

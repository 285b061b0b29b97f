"""Print pip constraints that pin every runtime dependency to the lowest version its range allows.

``make test-lowest`` installs the package with them and runs the fast tier, so that the lower bounds
in pyproject.toml stay true (what uv calls ``--resolution lowest-direct``). A dependency without a
lower bound is an error: its range would allow anything.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_LOWER = re.compile(r"^\s*([A-Za-z0-9_.\[\]-]+)\s*(?:\[[^\]]*\])?\s*([^;#]*)")


def lowest(requirement: str) -> str:
    match = _LOWER.match(requirement)
    if match is None:
        raise SystemExit(f"cannot read requirement {requirement!r}")
    name, spec = match.group(1), match.group(2)
    bound = re.search(r">=\s*([0-9][^,\s]*)", spec)
    if bound is None:
        raise SystemExit(f"{name}: no lower bound (>=) in {requirement!r}")
    return f"{name.split('[')[0]}=={bound.group(1)}"


def main() -> None:
    pyproject = Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")
    project = tomllib.loads(pyproject.read_text())["project"]
    for requirement in project["dependencies"]:
        print(lowest(requirement))


if __name__ == "__main__":
    main()

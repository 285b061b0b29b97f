"""make node-up on a machine that lacks what a node needs: it stops at once and names the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def node_up(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eligibility_operator_dev", "node", "up"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="as non-root node-up stops earlier, at the root check")
def test_missing_packages_are_named_with_the_command_that_installs_them(tmp_path: Path) -> None:
    # A PATH with only kubectl-less, containerd-less tools: nothing is started, nothing is built.
    env = {**os.environ, "PATH": str(tmp_path), "EO_NODE_DIR": str(tmp_path / "node")}
    result = node_up(env)
    assert result.returncode != 0
    assert "containerd (Debian package containerd)" in result.stderr, result.stderr
    assert "socat (Debian package socat)" in result.stderr
    assert "make system-deps" in result.stderr
    assert not (tmp_path / "node").exists()


def test_without_root_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """As another user (pretended when the tests run as root: a process dropped to nobody may not even
    read the checkout), node-up stops at its first check and says why."""
    if os.geteuid() == 0:
        from eligibility_operator_dev import node

        monkeypatch.setattr(node.os, "geteuid", lambda: 65534)
        with pytest.raises(node.NodeError, match="a node needs root"):
            node.preflight()
        return
    result = node_up(dict(os.environ))
    assert result.returncode != 0
    assert "a node needs root" in result.stderr, result.stderr

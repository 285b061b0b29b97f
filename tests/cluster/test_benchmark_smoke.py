"""The benchmark keeps working: a small run (N=500) that prints its figures. Nothing is asserted
about the figures themselves; they are measured by `make bench`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.run import main


def test_benchmark_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--workloads",
            "500",
            "--engagements",
            "20",
            "--flips",
            "20",
            "--burst",
            "100",
            "--idle",
            "3",
            "--check-manifests",
            "500",
            "--replicas",
            "2",
            "--output",
            str(tmp_path),
        ]
    )
    assert code == 0
    report = json.loads(next(tmp_path.glob("bench-*.json")).read_text())
    result = report["results"][0]
    # Every phase produced a figure (the run completed end to end); the values are only printed.
    assert result["cold_start_seconds"] is not None, "engagements never matched the pure evaluation"
    assert result["reaction"]["samples"] == 20
    assert result["burst"]["converged_seconds"] is not None
    assert {"status_writes", "cpu_seconds"} <= set(result["idle"])
    assert report["check"]["seconds"] > 0
    # The follower became ready and did not lead (the first replica holds the Lease throughout).
    assert result["follower"]["ready_seconds"] is not None and result["follower"]["leader_metric"] == 0
    print(capsys.readouterr().out)

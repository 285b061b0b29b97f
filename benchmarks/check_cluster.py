"""``check --cluster`` against cluster size: wall time, CPU and peak memory of one scan.

    .venv/bin/python -m benchmarks.check_cluster --workloads 1000 10000

Starts a local control plane, creates the benchmark's workloads (benchmarks/fixture.py: 100
engagements, a few percent Stakater products) in steps, and after each step runs
``eligibility-operator check --cluster`` as users do, under ``/usr/bin/time`` for the peak RSS.
Figures are printed, never asserted (docs/performance.md keeps them).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

from kubernetes import client, config

from eligibility_operator_dev.cluster import apply_defaults
from eligibility_operator_dev.controlplane import ControlPlane

from .fixture import ENGAGEMENT_NS, Fixture, _parallel, build


def scan(kubeconfig: Path, *extra: str) -> tuple[float, float, int, int]:
    """(wall s, CPU s, peak RSS KiB, exit code) of one ``check --cluster``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [
            "/usr/bin/time",
            "-f",
            "%M",
            str(Path(sys.executable).parent / "eligibility-operator"),
            "check",
            "--cluster",
            "--kubeconfig",
            str(kubeconfig),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = int(done.stderr.strip().splitlines()[-1])
    return wall, cpu, peak, done.returncode


def create(api_client: client.ApiClient, fixture: Fixture, start: int, stop: int) -> None:
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    if start == 0:
        core.create_namespace({"metadata": {"name": ENGAGEMENT_NS}})
        _parallel(
            lambda item: core.create_namespace({"metadata": {"name": item[0], "labels": item[1]}}),
            list(fixture.namespaces.items()),
        )
        _parallel(
            lambda e: custom.create_namespaced_custom_object(
                "support.stakater.com", "v1alpha1", ENGAGEMENT_NS, "supportengagements", e
            ),
            fixture.engagements,
        )
    _parallel(lambda w: apps.create_namespaced_deployment(w.namespace, w.body()), fixture.workloads[start:stop])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    fixture = build(max(args.workloads))
    with ControlPlane() as plane:
        apply_defaults(plane.kubeconfig)
        api_client = config.new_client_from_config(str(plane.kubeconfig))
        print(f"{'workloads':>9}  {'mode':<26}  {'wall s':>6}  {'CPU s':>5}  {'peak RSS MiB':>12}  exit")
        done = 0
        for n in sorted(args.workloads):
            create(api_client, fixture, done, n)
            done = n
            for mode, extra in (
                ("no engagement, -o json", ("-o", "json")),
                ("--engagements-from-cluster", ("--engagements-from-cluster",)),
            ):
                wall, cpu, peak, code = scan(plane.kubeconfig, *extra)
                print(f"{n:>9}  {mode:<26}  {wall:>6.1f}  {cpu:>5.1f}  {peak / 1024:>12.0f}  {code}", flush=True)


if __name__ == "__main__":
    main()

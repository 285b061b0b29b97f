"""``make bench``: the operator at cluster scale, measured against the real local control plane.

For each N: build the fixture, create it (in parallel, before the operator starts), start the operator
as users do, and measure cold start, reaction latency (with the raw watch floor), a burst, idle cost,
memory, and the offline ``check``. Prints a table and writes it, with machine facts, to
benchmarks/results/. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config

from eligibility_operator_dev.controlplane import ControlPlane, die_with_parent, free_port

from . import fixture as fx
from .observe import DeploymentWatch, EngagementWatch, Expected, ProcessStats

RESULTS = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def operator_metric(port: int | str, name: str) -> float:
    """Sum of the samples of ``name`` at the operator's /metrics (``port`` on loopback, or a base URL)."""
    base = port if isinstance(port, str) else f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def start_operator(
    kubeconfig: Path, log: Path, port: int, env: dict[str, str] | None = None, probe: Path | None = None
) -> subprocess.Popen[bytes]:
    """The operator as users start it; with ``probe``, under benchmarks.memprobe (snapshots to that file)."""
    entry = ["-m", "benchmarks.memprobe", str(probe)] if probe else ["-m", "eligibility_operator.cli"]
    return subprocess.Popen(
        [sys.executable, *entry, "run", "--metrics-port", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
        env={**os.environ, **(env or {}), "KUBECONFIG": str(kubeconfig)},
        cwd=Path(__file__).resolve().parent.parent,
    )


def probe_signal(operator: subprocess.Popen[bytes], probe: Path | None) -> None:
    """Ask a probed operator for a snapshot and wait (up to 30 s) until it is written."""
    if probe is None:
        return
    lines = len(probe.read_text().splitlines()) if probe.exists() else 0
    operator.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (len(probe.read_text().splitlines()) if probe.exists() else 0) <= lines:
        time.sleep(0.2)


def wait_ready(port: int, timeout: float) -> bool:
    """Until the operator's /readyz answers 200 (its state is complete)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def list_pages(api_client: client.ApiClient, path: str) -> Iterator[dict[str, Any]]:
    """LIST ``path`` in pages of 500 (as the operator does), each decoded with the standard library's json."""
    token = ""
    while True:
        query: list[tuple[str, Any]] = [("limit", 500)] + ([("continue", token)] if token else [])
        method, url, headers, _, _ = api_client.param_serialize(
            "GET", path, query_params=query, header_params={"Accept": "application/json"}, auth_settings=["BearerToken"]
        )
        response = api_client.call_api(method, url, header_params=headers, _request_timeout=60)
        response.read()
        page: dict[str, Any] = json.loads(response.data)
        yield page
        token = page["metadata"].get("continue") or ""
        if not token:
            return


def list_floor(api_client: client.ApiClient) -> float:
    """Seconds to LIST every Deployment and decode it: what any client must pay before it knows the cluster."""
    started = time.monotonic()
    for _ in list_pages(api_client, "/apis/apps/v1/deployments"):
        pass
    return time.monotonic() - started


def bench_check(n: int) -> float:
    """Seconds for `check` over n manifests (100 per file, a realistic mix)."""
    fixture = fx.build(n, engagements=10)
    with tempfile.TemporaryDirectory() as tmp:
        for i, chunk in enumerate(fx.chunks(fixture.workloads, 100)):
            Path(tmp, f"m{i:04d}.yaml").write_text(yaml.safe_dump_all([w.body() for w in chunk]))
        engagement = Path(tmp, "se.yaml")
        engagement.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "support.stakater.com/v1alpha1",
                    "kind": "SupportEngagement",
                    "metadata": {"name": "x"},
                    "spec": {"customer": "x", "type": "ProductSupport", "plan": "Standard"},
                }
            )
        )
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "eligibility_operator.cli",
                "check",
                "-f",
                tmp,
                "--engagement",
                str(engagement),
                "-o",
                "json",
            ],
            capture_output=True,
            check=False,
        )
        return time.monotonic() - started


@dataclass
class Scene:
    """A cluster with the fixture created and the benchmark's watches running."""

    api_client: client.ApiClient
    fixture: fx.Fixture
    expected: Expected
    engagements: EngagementWatch
    deployments: DeploymentWatch

    def stop(self) -> None:
        self.engagements.stop()
        self.deployments.stop()


def prepare(kubeconfig: Path, fixture: fx.Fixture, result: dict[str, Any]) -> Scene:
    """Create the fixture (in parallel) and the list floor into ``result``; start the watches."""
    api_client = config.new_client_from_config(str(kubeconfig))
    api_client.configuration.connection_pool_maxsize = 32
    started = time.monotonic()
    fx.create(api_client, fixture)
    result["create_seconds"] = round(time.monotonic() - started, 1)
    floors = [list_floor(api_client) for _ in range(3)]
    result["list_floor_seconds"] = round(min(floors), 2)  # the best of three: the floor
    kube_version = client.VersionApi(api_client).get_code().git_version
    expected = Expected(fixture, kube_version)
    watch = EngagementWatch(api_client, fixture.engagement_ns)
    return Scene(api_client, fixture, expected, watch, DeploymentWatch(api_client))


def run_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """The operator as a host process against a fresh local control plane (``make bench``)."""
    result: dict[str, Any] = {"workloads": n, "engagements": args.engagements}
    fixture = fx.build(n, engagements=args.engagements)
    with ControlPlane() as plane:
        from eligibility_operator_dev.cluster import apply_defaults

        apply_defaults(plane.kubeconfig)
        scene = prepare(plane.kubeconfig, fixture, result)
        try:
            result.update(run_host_operator(scene, plane.kubeconfig, args, result["list_floor_seconds"]))
        finally:
            scene.stop()
    return result


def run_host_operator(
    scene: Scene, kubeconfig: Path, args: argparse.Namespace, list_floor_seconds: float
) -> dict[str, Any]:
    """Start the operator as a host process (and a follower with ``--replicas 2``), measure, stop it."""
    result: dict[str, Any] = {}
    want = scene.expected.all()
    engagements = scene.engagements
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="eo-bench-")) / "operator.log"
    probe = log.with_name("memprobe.jsonl") if args.probe else None
    operator_env = dict(item.split("=", 1) for item in args.operator_env)
    result["operator_env"] = operator_env

    # Cold start: operator start until every engagement's status equals the pure evaluation.
    started = time.monotonic()
    operator = start_operator(kubeconfig, log, port, operator_env, probe)
    stats = ProcessStats(operator.pid)
    follower: subprocess.Popen[bytes] | None = None
    follower_stats: ProcessStats | None = None
    try:
        waited = engagements.wait(lambda cur: all(cur.get(k) == v for k, v in want.items()), args.timeout)
        result["cold_start_seconds"] = round(time.monotonic() - started, 2) if waited is not None else None
        result["rss_after_start_mib"] = round(stats.rss_mib(), 1)
        result["cold_start_cpu_seconds"] = round(stats.cpu_seconds(), 2)
        result["process_after_start"] = stats.memory_facts()
        probe_signal(operator, probe)
        if result["cold_start_seconds"] is not None:
            result["cold_start_floor_ratio"] = round(result["cold_start_seconds"] / list_floor_seconds, 1)
        if args.replicas > 1:
            # High availability: a second replica joins as follower; it keeps its state warm and writes nothing.
            follower_port = free_port()
            started = time.monotonic()
            follower = start_operator(kubeconfig, log.with_name("follower.log"), follower_port, operator_env)
            follower_stats = ProcessStats(follower.pid)
            ready = wait_ready(follower_port, args.timeout)
            result["follower"] = {"ready_seconds": round(time.monotonic() - started, 2) if ready else None}
        result.update(measure_changes(scene, lambda name: operator_metric(port, name), stats, args))
        probe_signal(operator, probe)
        if probe is not None:
            result["memprobe"] = [json.loads(line) for line in probe.read_text().splitlines()]
        if follower is not None and follower_stats is not None:
            result["follower"].update(
                leader_metric=operator_metric(follower_port, "stakater_support_leader"),
                rss_steady_mib=round(follower_stats.rss_mib(), 1),
                rss_peak_mib=round(follower_stats.hwm_mib(), 1),
                cpu_seconds=round(follower_stats.cpu_seconds(), 2),
            )
    finally:
        stats.stop()
        if follower is not None:
            if follower_stats is not None:
                follower_stats.stop()
            follower.terminate()
            try:
                follower.wait(15)
            except subprocess.TimeoutExpired:
                follower.kill()
        operator.terminate()
        try:
            operator.wait(15)
        except subprocess.TimeoutExpired:
            operator.kill()
    return result


def measure_changes(
    scene: Scene, metric: Callable[[str], float], stats: ProcessStats, args: argparse.Namespace
) -> dict[str, Any]:
    """Reaction latency, a burst, idle cost and steady memory of a running operator (the one that writes).
    ``metric`` reads a metric of that operator; ``stats`` is its process."""
    result: dict[str, Any] = {}
    fixture, expected, engagements, deployments = scene.fixture, scene.expected, scene.engagements, scene.deployments
    apps = client.AppsV1Api(scene.api_client)

    # Reaction latency: single image changes that flip an engagement's eligibility.
    latencies, floors = [], []
    retries = 0
    flips = fixture.flippable
    for i in range(args.flips):
        name, workload = flips[i % len(flips)]
        to_eol = workload.images[0] == fx.FLIP_SUPPORTED
        # An end-of-life version makes the engagement Limited (or Ineligible if it was its only product).
        image, eligibility = (fx.FLIP_EOL, ("Limited", "Ineligible")) if to_eol else (fx.FLIP_SUPPORTED, ("Eligible",))
        # Both figures run from just before the patch is sent to the moment the watch delivers.
        sent = time.monotonic()
        retries += fx.set_image(apps, workload, image)
        if deployments.wait_image(workload.namespace, workload.name, image, 10) is not None:
            floors.append(time.monotonic() - sent)
        if engagements.wait(lambda cur, n=name, e=eligibility: (cur.get(n) or ("",))[0] in e, 10) is not None:
            latencies.append(time.monotonic() - sent)
    reaction: dict[str, Any] = {
        "samples": len(latencies),
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "max": max(latencies, default=float("nan")),
        "floor_p50": percentile(floors, 50),
        "floor_p99": percentile(floors, 99),
    }
    reaction = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in reaction.items()}
    reaction["ratio_p50"] = round(reaction["p50"] / max(reaction["floor_p50"], 1e-6), 1)
    result["reaction"] = reaction

    # Burst: many workloads changed at once.
    patches_before = metric('stakater_support_status_patches_total{resource="supportengagements"')
    modified_before = dict(engagements.modified)
    burst = fixture.workloads[: args.burst]
    changes = []
    for w in burst:
        if w.images[0] in fx.SUPPORTED:
            changes.append((w, fx.END_OF_LIFE[0]))
        elif w.images[0] in fx.END_OF_LIFE:
            changes.append((w, fx.SUPPORTED[0]))
        else:
            changes.append((w, w.images[0].rsplit(":", 1)[0] + ":v9.9.9"))
    started = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        retries += sum(pool.map(lambda c: fx.set_image(apps, c[0], c[1]), changes))
    sent_all = time.monotonic() - started
    want = expected.all()
    waited = engagements.wait(lambda cur: all(cur.get(k) == v for k, v in want.items()), args.timeout)
    converged = time.monotonic() - started if waited is not None else None
    patches = metric('stakater_support_status_patches_total{resource="supportengagements"')
    per_engagement = [engagements.modified.get(k, 0) - modified_before.get(k, 0) for k in engagements.current]
    result["burst"] = {
        "changes": len(changes),
        "send_seconds": round(sent_all, 2),
        "converged_seconds": round(converged, 2) if converged is not None else None,
        "status_writes": int(patches - patches_before),
        "max_writes_per_engagement": max(per_engagement, default=0),
    }

    # Steady state: nothing changes for a while.
    time.sleep(2)
    patches_before = metric("stakater_support_status_patches_total")
    cpu_before = stats.cpu_seconds()
    time.sleep(args.idle)
    result["idle"] = {
        "seconds": args.idle,
        "status_writes": int(metric("stakater_support_status_patches_total") - patches_before),
        "cpu_seconds": round(stats.cpu_seconds() - cpu_before, 2),
    }
    result["rss_steady_mib"] = round(stats.rss_mib(), 1)
    result["rss_peak_mib"] = round(stats.hwm_mib(), 1)
    result["process_steady"] = stats.memory_facts()
    # Patches retried because the API server could not call an admission webhook (0 without one).
    result["webhook_call_retries"] = retries
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]  # the machine's, at the end of the idle phase
    return result


# What the memory figure depends on besides the code (docs/performance.md, "What the figure depends on").
PACKAGES = (
    "kopf",
    "kubernetes",
    "aiohttp",
    "pydantic",
    "pydantic-core",
    "msgspec",
    "prometheus-client",
    "PyYAML",
    "holidays",
    "oras",
    "cryptography",
    "requests",
    "click",
)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def machine() -> dict[str, Any]:
    from importlib import metadata

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "libc": "-".join(platform.libc_ver()),
        "platform": platform.platform(),
        "transparent_hugepage": _read("/sys/kernel/mm/transparent_hugepage/enabled"),
        "transparent_hugepage_defrag": _read("/sys/kernel/mm/transparent_hugepage/defrag"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_") or k == "GLIBC_TUNABLES"},
        "packages": versions,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def facts(report: dict[str, Any]) -> str:
    """The machine and what the memory figure depends on, as lines for latest.md."""
    m = report["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    envs = sorted({json.dumps(r.get("operator_env", {}), sort_keys=True) for r in report["results"]})
    return "\n".join(
        (
            f"Machine: {m['cores']} cores, {m['platform']}, {m['date']}; load average {m.get('load_average')}"
            f" (1/5/15 min) at the end, per phase {[r.get('load_average') for r in report['results']]}",
            f"Python {m['python']}, {m['libc']}; transparent huge pages: {m['transparent_hugepage']}"
            f" (defrag: {m['transparent_hugepage_defrag']})",
            f"malloc environment of the benchmark: {m['malloc_env'] or 'none'}; operator's own: {', '.join(envs)}",
            f"Packages: {packages}",
        )
    )


def table(results: list[dict[str, Any]], check_seconds: float | None, check_n: int) -> str:
    where = any("where" in r for r in results)
    head = (
        *(("where",) if where else ()),
        "workloads",
        "create s",
        "list floor s",
        "cold start s",
        "x floor",
        "cold cpu s",
        "react p50",
        "p95",
        "p99",
        "max",
        "floor p50",
        "ratio",
        "burst s",
        "burst writes",
        "max/eng",
        "idle writes",
        "idle cpu s",
        "rss start",
        "rss steady",
        "rss peak",
    )
    rows = [head]
    for r in results:
        re_, b, i = r["reaction"], r["burst"], r["idle"]
        rows.append(
            tuple(
                str(x)
                for x in (
                    *((r.get("where", ""),) if where else ()),
                    r["workloads"],
                    r["create_seconds"],
                    r.get("list_floor_seconds"),
                    r["cold_start_seconds"],
                    r.get("cold_start_floor_ratio"),
                    r.get("cold_start_cpu_seconds"),
                    re_["p50"],
                    re_["p95"],
                    re_["p99"],
                    re_["max"],
                    re_["floor_p50"],
                    re_["ratio_p50"],
                    b["converged_seconds"],
                    b["status_writes"],
                    b["max_writes_per_engagement"],
                    i["status_writes"],
                    i["cpu_seconds"],
                    r["rss_after_start_mib"],
                    r["rss_steady_mib"],
                    r["rss_peak_mib"],
                )
            )
        )
    widths = [max(len(row[c]) for row in rows) for c in range(len(head))]
    lines = ["| " + " | ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in results:
        if "follower" in r:
            f = r["follower"]
            lines.append(
                f"\n{r.get('where', '')} follower at {r['workloads']} workloads: ready in {f.get('ready_seconds')} s, "
                f"stakater_support_leader {f.get('leader_metric')}, RSS steady {f.get('rss_steady_mib')} MiB, "
                f"peak {f.get('rss_peak_mib')} MiB, CPU {f.get('cpu_seconds')} s in all"
            )
    for r in results:
        for when in ("process_after_start", "process_steady"):
            p = r.get(when)
            if p:
                lines.append(
                    f"\n{r.get('where', 'operator')} at {r['workloads']} workloads, "
                    f"{when.removeprefix('process_').replace('_', ' ')}: "
                    f"{p['threads']} threads, RSS {p['rss_mib']} MiB = {p['anonymous_mib']} anonymous + "
                    f"{p['file_mib']} file-backed, {p['arenas']} malloc arenas besides the main one (from the maps)"
                )
    sized = sorted((r["workloads"], r["rss_steady_mib"]) for r in results if r.get("where") != "pod")
    for (n0, rss0), (n1, rss1) in itertools.pairwise(sized):
        per = (rss1 - rss0) * 1024 / (n1 - n0) if n1 > n0 else float("nan")
        lines.append(f"\nRSS per extra workload from {n0} to {n1}: {per:.2f} KiB")
    if check_seconds is not None:
        lines.append(f"\ncheck over {check_n} manifests: {check_seconds:.2f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workloads", type=int, nargs="+", help="sizes (default: 1000 5000 10000 20000; with --in-pod: 10000)"
    )
    parser.add_argument("--engagements", type=int, default=100)
    parser.add_argument("--flips", type=int, default=200)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--check-manifests", type=int, default=10000)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--replicas", type=int, choices=(1, 2), default=1, help="2: a follower replica runs too")
    parser.add_argument(
        "--operator-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment for the operator process only (e.g. MALLOC_ARENA_MAX=4); recorded with the results",
    )
    parser.add_argument(
        "--probe",
        action="store_true",
        help="run the operator under benchmarks.memprobe (tracemalloc, malloc_info); its RSS is then not comparable",
    )
    parser.add_argument(
        "--in-pod",
        action="store_true",
        help="on the real one-node cluster (make node-up; reused if it runs): the operator as pods from"
        " deploy/overlays/local next to it as a host process, same fixture, same API server (benchmarks/inpod.py)",
    )
    args = parser.parse_args(argv)
    if args.workloads is None:
        args.workloads = [10000] if args.in_pod else [1000, 5000, 10000, 20000]

    results = []
    if args.in_pod:
        from . import inpod

        results = inpod.run(args)
    for n in [] if args.in_pod else args.workloads:
        print(f"== {n} workloads, {args.engagements} engagements", flush=True)
        results.append(run_size(n, args))
        print(json.dumps(results[-1]), flush=True)
    check_seconds = bench_check(args.check_manifests) if args.check_manifests else None
    report = {
        "machine": machine(),
        "results": results,
        "check": {"manifests": args.check_manifests, "seconds": check_seconds},
    }
    text = table(results, check_seconds, args.check_manifests)
    if args.in_pod:
        from . import inpod

        text += "\n".join(inpod.pod_lines(results))
    print(text)
    args.output.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (args.output / f"bench-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.output / "latest.md").write_text(facts(report) + "\n\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

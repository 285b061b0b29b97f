"""``make bench BENCH_ARGS=--in-pod``: the same benchmark with the operator as pods on the real one-node
cluster (``make node-up``), next to the operator as a host process, in one run and on one API server.

Per size N: the fixture is created once on the node's API server (Deployments with 0 replicas and
paused, so that the controller-manager makes no pods and no ReplicaSets). Then:

1. **host process**: the existing bench path (``run_host_operator``): the operator from this virtualenv,
   with the admin kubeconfig; cold start, reaction, burst, idle, memory.
2. The engagements are deleted and created again (no status), the Lease is deleted.
3. **pod**: ``deploy/overlays/local`` applied as users apply it (image ``localhost/eligibility-operator:dev``
   that node-up built from the working tree, 2 replicas with leader election, the ServiceAccount's token
   and RBAC, the webhook with its own certificate, the Deployment's requests/limits and
   ``MALLOC_ARENA_MAX``). Cold start runs from ``kubectl apply`` until every engagement's status equals the
   pure evaluation; the same reaction, burst and idle measurements follow against the leader (the
   replica that writes). Memory of both replicas: the main process's RSS from the host's /proc (pid from
   the container's cgroup), all of the container's processes, the container cgroup's usage and working
   set, and the kubelet's working set (``/stats/summary`` through the API server).

The node is reused if it runs; otherwise the benchmark starts it and stops it at the end, failure or not.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from . import fixture as fx
from . import podmemory as pm
from .observe import ProcessStats
from .run import PACKAGES, Scene, list_pages, measure_changes, operator_metric, prepare, run_host_operator

REPO = Path(__file__).resolve().parent.parent
OVERLAY = "deploy/overlays/local"
NAMESPACE = "eligibility-operator"
DEPLOYMENT = "eligibility-operator"
CONTAINER = "operator"
LEASE = "eligibility-operator"
SELECTOR = "app.kubernetes.io/name=eligibility-operator"
METRICS_PORT = 8080
WEBHOOK_PORT = 9443


class InPodError(Exception):
    """The in-pod run cannot go on; the message says why."""


# ------------------------------------------------------------------ the node


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
    result = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise InPodError(f"kubectl {' '.join(args[:3])} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout


@contextlib.contextmanager
def node_cluster() -> Iterator[tuple[Path, bool]]:
    """The node's admin kubeconfig and whether this run started the node (then it stops it at the end)."""
    from eligibility_operator_dev import node

    if node.running():
        with contextlib.suppress(InPodError):
            kubectl(node.kubeconfig_path(), "get", "--raw", "/readyz", timeout=10)
            print("[in-pod] reusing the running node", flush=True)
            yield node.kubeconfig_path(), False
            return
    node.up()
    try:
        yield node.kubeconfig_path(), True
    finally:
        node.down()


def refuse_if_busy(kubeconfig: Path) -> None:
    """A reused node must not run the operator already nor hold an earlier run's fixture."""
    names = kubectl(kubeconfig, "get", "namespaces", "-o", "name").split()
    busy = [n for n in names if n.startswith("namespace/bench-") or n == f"namespace/{fx.PLATFORM_NS}"]
    if kubectl(kubeconfig, "get", "deployments", "-A", "-l", SELECTOR, "-o", "name").strip():
        busy.insert(0, "the operator's Deployment")
    webhooks = kubectl(kubeconfig, "get", "validatingwebhookconfigurations", "-o", "name").split()
    if "validatingwebhookconfiguration.admissionregistration.k8s.io/eligibility-operator" in webhooks:
        busy.insert(0, "the operator's ValidatingWebhookConfiguration")
    if busy:
        raise InPodError(
            f"the running node holds {', '.join(busy[:4])}{' ...' if len(busy) > 4 else ''}: "
            "run `make node-down` (or remove them) first"
        )


def manifests(kubeconfig: Path) -> list[dict[str, Any]]:
    """deploy/overlays/local as ``kubectl apply -k`` would apply it; the PodDisruptionBudget as
    policy/v1beta1 where the API server predates policy/v1 (1.20 on the node)."""
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(REPO / OVERLAY)], capture_output=True, text=True, check=True
    ).stdout
    v1 = "policy/v1" in kubectl(kubeconfig, "api-versions").split()
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    for doc in docs:
        if doc["kind"] == "PodDisruptionBudget" and not v1:
            doc["apiVersion"] = "policy/v1beta1"
    return docs


def operator_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    return dict(next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == CONTAINER))


# ------------------------------------------------------------------ the pods


class PodTimes:
    """When each operator pod was first seen created, its container running, Ready, and its webhook port
    accepting connections (polled every 0.25 s)."""

    def __init__(self, core: client.CoreV1Api, started: float) -> None:
        self.core, self.started = core, started
        self.created: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.ready: dict[str, float] = {}
        self.webhook: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            try:
                pods = self.core.list_namespaced_pod(NAMESPACE, label_selector=SELECTOR).items
            except Exception:
                continue
            now = time.monotonic() - self.started
            for pod in pods:
                name = str(pod.metadata.name if pod.metadata else "")
                self.created.setdefault(name, now)
                for status in (pod.status.container_statuses if pod.status else None) or []:
                    if status.state and status.state.running:
                        self.running.setdefault(name, now)
                    if status.ready:
                        self.ready.setdefault(name, now)
                ip = pod.status.pod_ip if pod.status else None
                if ip and name not in self.webhook and accepts(ip, WEBHOOK_PORT):
                    self.webhook.setdefault(name, time.monotonic() - self.started)

    def figures(self) -> dict[str, list[float]]:
        """Seconds after ``started`` (kubectl apply), per pod, sorted."""
        return {
            f"pods_{what}_seconds": sorted(round(t, 2) for t in seen.values())
            for what, seen in (
                ("created", self.created),
                ("running", self.running),
                ("ready", self.ready),
                ("webhook", self.webhook),
            )
        }

    def wait(self, seen: dict[str, float], what: str, timeout: float) -> None:
        """Until two pods are in ``seen``."""
        deadline = time.monotonic() + timeout
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.25)
        if len(seen) < 2:
            raise InPodError(f"not 2 operator pods {what} within {timeout:.0f}s: {sorted(seen)}")

    def stop(self) -> None:
        self._stop.set()


def accepts(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=0.2):
            return True
    except OSError:
        return False


class PodProcess:
    """One operator pod on this node: its container's cgroup, main process and the kubelet's figures."""

    def __init__(self, pod: dict[str, Any]) -> None:
        self.pod = pod
        self.name = pod["metadata"]["name"]
        self.ip = pod["status"]["podIP"]
        cid = pm.container_id(pod, CONTAINER)
        if not cid:
            raise InPodError(f"pod {self.name} has no running {CONTAINER} container")
        self.pod_dir = pm.memory_dir(pm.pod_cgroup(pod))
        self.container_dir = self.pod_dir / cid
        self.pid = pm.main_process(pm.cgroup_processes(self.container_dir))
        self.stats = ProcessStats(self.pid)

    def metric(self, name: str) -> float:
        return operator_metric(f"http://{self.ip}:{METRICS_PORT}", name)

    def memory(self, kubeconfig: Path) -> dict[str, Any]:
        processes = pm.cgroup_processes(self.container_dir)
        summary = json.loads(
            kubectl(kubeconfig, "get", "--raw", f"/api/v1/nodes/{node_name(self.pod)}/proxy/stats/summary")
        )
        return {
            "pod": self.name,
            "main_pid": self.pid,
            "rss_mib": round(self.stats.rss_mib(), 1),
            "rss_peak_mib": round(self.stats.hwm_mib(), 1),
            "cpu_seconds": round(self.stats.cpu_seconds(), 2),
            "process": self.stats.memory_facts(),
            "processes": [pm.describe(pid) for pid in sorted(processes)],
            "processes_rss_mib": round(sum(pm.rss_mib(pid) for pid in processes), 1),
            "container_cgroup": pm.cgroup_memory(self.container_dir),
            "pod_cgroup": pm.cgroup_memory(self.pod_dir),
            "kubelet_working_set_mib": pm.summary_working_set(summary, NAMESPACE, self.name, CONTAINER),
        }


def node_name(pod: dict[str, Any]) -> str:
    return str(pod["spec"]["nodeName"])


def operator_pods(kubeconfig: Path) -> list[dict[str, Any]]:
    pods = json.loads(kubectl(kubeconfig, "get", "pods", "-n", NAMESPACE, "-l", SELECTOR, "-o", "json"))["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def image_facts(kubeconfig: Path, pod: str) -> dict[str, Any]:
    """Python, C library and package versions inside the image (what the figure depends on)."""
    script = (
        "import json, platform; from importlib import metadata\n"
        "def v(n):\n"
        "    try: return metadata.version(n)\n"
        "    except metadata.PackageNotFoundError: return None\n"
        f"print(json.dumps({{'python': platform.python_version(), 'libc': '-'.join(platform.libc_ver()),"
        f" 'packages': {{n: v(n) for n in {list(PACKAGES)!r}}}}}))"
    )
    try:
        out = kubectl(kubeconfig, "exec", "-n", NAMESPACE, pod, "-c", CONTAINER, "--", "python", "-c", script)
        return dict(json.loads(out))
    except (InPodError, ValueError) as exc:
        return {"error": str(exc)[:500]}


# ------------------------------------------------------------------ the run


def reset(scene: Scene, kubeconfig: Path, first_images: list[str], timeout: float) -> None:
    """Put the cluster back as the host process found it: the workloads' images (the flips and the burst
    changed them), the engagements deleted and created again (no status), no Lease. The pods then start
    from what the host process started from."""
    apps = client.AppsV1Api(scene.api_client)
    changed = [
        (w, image) for w, image in zip(scene.fixture.workloads, first_images, strict=True) if w.images[0] != image
    ]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda c: fx.set_image(apps, c[0], c[1]), changed))
    custom = client.CustomObjectsApi(scene.api_client)
    namespace = scene.fixture.engagement_ns
    group = ("support.stakater.com", "v1alpha1", namespace, "supportengagements")
    kubectl(kubeconfig, "delete", "lease", LEASE, "-n", NAMESPACE, "--ignore-not-found")
    kubectl(kubeconfig, "delete", "supportengagements", "--all", "-n", namespace, "--timeout=60s")
    for body in scene.fixture.engagements:
        custom.create_namespaced_custom_object(*group, body)
    names = [e["metadata"]["name"] for e in scene.fixture.engagements]
    if scene.engagements.wait(lambda cur: all(cur.get(n) is None for n in names), timeout) is None:
        raise InPodError("the engagements created again still show a status")


def run_pod_operator(scene: Scene, kubeconfig: Path, args: argparse.Namespace, list_floor: float) -> dict[str, Any]:
    docs = manifests(kubeconfig)
    container = operator_container(docs)
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    result: dict[str, Any] = {
        "operator_env": {k: v for k, v in env.items() if k.startswith("MALLOC_") or k == "GLIBC_TUNABLES"},
        "resources": container.get("resources", {}),
        "image": container["image"],
    }
    core = client.CoreV1Api(scene.api_client)
    want = scene.expected.all()
    started = time.monotonic()
    times = PodTimes(core, started)
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    result["apply_seconds"] = round(time.monotonic() - started, 2)
    pods: list[PodProcess] = []
    try:
        waited = scene.engagements.wait(lambda cur: all(cur.get(k) == v for k, v in want.items()), args.timeout)
        done = time.monotonic()
        result["cold_start_from_apply_seconds"] = round(done - started, 2) if waited is not None else None
        times.wait(times.ready, "Ready", args.timeout)
        # A replica is Ready once its state is complete and its webhook listens (it needs the certificate,
        # which in cert mode self the leader writes, and its parser process). Probing the port from the
        # host as well records the gap between the two, and keeps the bench honest on an older image.
        times.wait(times.webhook, "listening on the webhook port", args.timeout)
        result.update(times.figures())
        lease = json.loads(kubectl(kubeconfig, "get", "lease", LEASE, "-n", NAMESPACE, "-o", "json"))
        holder = str(lease["spec"].get("holderIdentity") or "")
        leader_name = pm.holder_pod(holder)
        pods = [PodProcess(p) for p in operator_pods(kubeconfig)]
        by_role = {("leader" if p.name == leader_name else "follower"): p for p in pods}
        if set(by_role) != {"leader", "follower"}:
            raise InPodError(f"expected a leader and a follower among {[p.name for p in pods]}, Lease {holder!r}")
        leader, follower = by_role["leader"], by_role["follower"]
        # As for the host process, cold start runs from the start of the process that writes (the leader's, its
        # start time in /proc, 10 ms ticks); from kubectl apply it adds the ReplicaSet, scheduling and the sandbox.
        # (The kubelet reports a container running up to a second late: its status is not the start.)
        leader_start = time.monotonic() - pm.process_age(leader.pid)
        result["leader_process_started_seconds"] = round(leader_start - started, 2)
        result["cold_start_seconds"] = round(done - leader_start, 2) if waited is not None else None
        if result["cold_start_seconds"] is not None:
            result["cold_start_floor_ratio"] = round(result["cold_start_seconds"] / list_floor, 1)
        result["rss_after_start_mib"] = round(leader.stats.rss_mib(), 1)
        result["cold_start_cpu_seconds"] = round(leader.stats.cpu_seconds(), 2)
        result["process_after_start"] = leader.stats.memory_facts()
        result["pod_after_start"] = {role: p.memory(kubeconfig) for role, p in by_role.items()}
        result.update(measure_changes(scene, leader.metric, leader.stats, args))
        result["pod_steady"] = {role: p.memory(kubeconfig) for role, p in by_role.items()}
        steady = result["pod_steady"]["follower"]
        result["follower"] = {
            "ready_seconds": round(times.ready[follower.name], 2),
            "leader_metric": follower.metric("stakater_support_leader"),
            "rss_steady_mib": steady["rss_mib"],
            "rss_peak_mib": steady["rss_peak_mib"],
            "cpu_seconds": steady["cpu_seconds"],
        }
        result["restarts"] = {
            p["metadata"]["name"]: sum(s.get("restartCount", 0) for s in p["status"].get("containerStatuses", []))
            for p in operator_pods(kubeconfig)
        }
        result["image_facts"] = image_facts(kubeconfig, leader.name)
    finally:
        uninstall(kubeconfig, docs)
        times.stop()
        for p in pods:
            p.stats.stop()
    return result


def uninstall(kubeconfig: Path, docs: list[dict[str, Any]]) -> None:
    """The webhook's configuration first (it fails closed), then the rest but the namespace and the CRDs;
    waits (bounded) until the operator's pods are gone."""
    kept = ("Namespace", "CustomResourceDefinition", "CompatibilityMatrix")
    rest = [d for d in docs if d["kind"] not in kept]
    with contextlib.suppress(InPodError):
        kubectl(kubeconfig, "delete", "validatingwebhookconfiguration", "eligibility-operator", "--ignore-not-found")
    with contextlib.suppress(InPodError):
        kubectl(kubeconfig, "delete", "-f", "-", "--ignore-not-found", "--wait=false", stdin=yaml.safe_dump_all(rest))
    with contextlib.suppress(InPodError):
        kubectl(kubeconfig, "delete", "pods", "-n", NAMESPACE, "-l", SELECTOR, "--timeout=60s", "--ignore-not-found")


def remove_fixture(kubeconfig: Path, fixture: fx.Fixture, timeout: float = 300) -> None:
    """The fixture's namespaces (and so its objects), waited for: the next size starts from an empty node."""
    names = [fixture.engagement_ns, *fixture.namespaces]
    for chunk in fx.chunks(names, 200):
        kubectl(kubeconfig, "delete", "namespace", *chunk, "--wait=false", "--ignore-not-found")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [
            n
            for n in kubectl(kubeconfig, "get", "namespaces", "-o", "name").split()
            if n.startswith("namespace/bench-") or n == f"namespace/{fixture.engagement_ns}"
        ]
        if not left:
            return
        time.sleep(2)
    raise InPodError(f"{len(left)} fixture namespaces still there after {timeout:.0f}s")


def unsettled(api_client: client.ApiClient) -> int:
    """Deployments whose latest spec the controller-manager has not processed yet (observedGeneration)."""
    return sum(
        item.get("status", {}).get("observedGeneration", 0) < item["metadata"]["generation"]
        for page in list_pages(api_client, "/apis/apps/v1/deployments")
        for item in page["items"]
    )


def settle(scene: Scene, timeout: float) -> float:
    """Wait until the controller-manager has caught up with every fixture change (each new or changed
    Deployment gets a status update from it; at 10,000 that is minutes behind the creation). Measuring
    before would time the operator against that backlog, and delay the operator's own Deployment."""
    started = time.monotonic()
    while (left := unsettled(scene.api_client)) and time.monotonic() - started < timeout:
        print(f"[in-pod] waiting for the controller-manager: {left} Deployments not observed yet", flush=True)
        time.sleep(5)
    if left:
        raise InPodError(f"the controller-manager has not observed {left} Deployments after {timeout:.0f}s")
    return round(time.monotonic() - started, 1)


def run_size(n: int, args: argparse.Namespace, kubeconfig: Path, clean_up: bool) -> list[dict[str, Any]]:
    """Host process, then pods, on the node at N workloads: two results (``where``: host process, pod)."""
    from eligibility_operator_dev.cluster import apply_defaults

    shared: dict[str, Any] = {"workloads": n, "engagements": args.engagements}
    fixture = fx.build(n, engagements=args.engagements, inert=True, engagement_ns=fx.PLATFORM_NS)
    refuse_if_busy(kubeconfig)
    apply_defaults(kubeconfig)
    first_images = [w.images[0] for w in fixture.workloads]
    scene: Scene | None = None
    try:
        scene = prepare(kubeconfig, fixture, shared)
        shared["settle_seconds"] = settle(scene, 900)
        print(f"[in-pod] created {n} workloads in {shared['create_seconds']} s; the host process", flush=True)
        host = {
            **shared,
            "where": "host process",
            **run_host_operator(scene, kubeconfig, args, shared["list_floor_seconds"]),
        }
        print(json.dumps(host), flush=True)
        reset(scene, kubeconfig, first_images, args.timeout)
        settle(scene, 300)
        print("[in-pod] the operator as pods (deploy/overlays/local)", flush=True)
        pod = {**shared, "where": "pod", **run_pod_operator(scene, kubeconfig, args, shared["list_floor_seconds"])}
        return [host, pod]
    finally:
        if scene is not None:
            scene.stop()
        if clean_up:  # also after a failure, even one while creating the fixture
            try:
                remove_fixture(kubeconfig, fixture)
            except InPodError as exc:  # the figures are kept; the next size would refuse the busy node
                print(f"[in-pod] {exc}", flush=True)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with node_cluster() as (kubeconfig, started):
        try:
            for i, n in enumerate(args.workloads):
                print(f"== {n} workloads, {args.engagements} engagements, host process then pods", flush=True)
                last = i == len(args.workloads) - 1
                # A node this run started is removed whole at the end; a reused one is left as found.
                results.extend(run_size(n, args, kubeconfig, clean_up=not (last and started)))
                print(json.dumps(results[-1]), flush=True)
        finally:
            if not started:  # also after a failure: the e2e tests that follow install the operator themselves
                with contextlib.suppress(InPodError):
                    kubectl(kubeconfig, "delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s")
    return results


def pod_lines(results: list[dict[str, Any]]) -> list[str]:
    """The pods' memory, for latest.md."""
    lines = []
    for r in results:
        if r.get("where") != "pod":
            continue
        res = r.get("resources", {})
        lines.append(
            f"\npods at {r['workloads']} workloads ({r.get('image')}, requests {res.get('requests')}, limits "
            f"{res.get('limits')}, env {r.get('operator_env')}): kubectl apply took {r.get('apply_seconds')} s, "
            f"pods created at {r.get('pods_created_seconds')} s, the leader's process started at "
            f"{r.get('leader_process_started_seconds')} s, containers reported running at "
            f"{r.get('pods_running_seconds')} s, Ready at {r.get('pods_ready_seconds')} s, webhook port listening at "
            f"{r.get('pods_webhook_seconds')} s after kubectl apply; "
            f"cold start {r.get('cold_start_from_apply_seconds')} s after kubectl apply; "
            f"restarts {r.get('restarts')}; workload patches retried because the API server could not call the "
            f"webhook: {r.get('webhook_call_retries')}"
        )
        for when in ("pod_after_start", "pod_steady"):
            for role, m in (r.get(when) or {}).items():
                c = m["container_cgroup"]
                lines.append(
                    f"\n{when.removeprefix('pod_').replace('_', ' ')}, {role} {m['pod']}: main process RSS "
                    f"{m['rss_mib']} MiB (peak {m['rss_peak_mib']}, {m['process']['threads']} threads, "
                    f"{m['process']['arenas']} extra arenas); {len(m['processes'])} processes, "
                    f"RSS {m['processes_rss_mib']} MiB together; container cgroup usage {c['usage_mib']} MiB, "
                    f"working set {c['working_set_mib']} MiB "
                    f"(anonymous {c['anonymous_mib']}, file {c['file_mib']}), peak {c['peak_mib']} MiB, limit "
                    f"{c['limit_mib']} MiB; kubelet working set {m['kubelet_working_set_mib']} MiB"
                )
        facts = r.get("image_facts") or {}
        if facts.get("packages"):
            packages = ", ".join(f"{k} {v}" for k, v in facts["packages"].items())
            lines.append(f"\nimage: Python {facts.get('python')}, {facts.get('libc')}; {packages}")
    return lines

"""What the benchmark watches: engagement statuses (against the pure evaluation), the raw watch floor,
and the operator process's CPU and memory."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client, watch

from eligibility_operator.api.models import SupportEngagementSpec
from eligibility_operator.core.compat.matrix import load_matrix
from eligibility_operator.core.products.coverage import covers
from eligibility_operator.core.products.detection import detect
from eligibility_operator.core.products.workloads import facts_from_object
from eligibility_operator.core.verdict.evaluation import Platform, evaluate
from eligibility_operator.offline.loading import default_matrix

from .fixture import ENGAGEMENT_NS, Fixture

Summary = tuple[str, tuple[tuple[str, str, str, int], ...], str]


def summary(status: dict[str, Any] | None) -> Summary | None:
    """What must agree between the operator's status and the pure evaluation: eligibility, each
    product version with lifecycle and count, and Ready's reason. (The fault suite uses it too.)"""
    if not status:
        return None
    products = tuple(
        sorted(
            (p["product"], p["version"], p.get("lifecycle", ""), p.get("workloadCount", 0))
            for p in status.get("products", [])
        )
    )
    ready = next((c.get("reason", "") for c in status.get("conditions", []) if c.get("type") == "Ready"), "")
    return status.get("eligibility", ""), products, ready


class Expected:
    """The pure evaluation of the fixture, kept in step with the benchmark's own changes."""

    def __init__(self, fixture: Fixture, kubernetes_version: str) -> None:
        doc = default_matrix()
        self.matrix = load_matrix("default", 1, doc["spec"])
        self.fixture = fixture
        self.platform = Platform(kubernetes=kubernetes_version)

    def all(self) -> dict[str, Summary | None]:
        """Expected summary of every engagement; each workload is detected once."""
        from eligibility_operator.core.base.status_wire import to_wire

        found_in: dict[str, list[Any]] = {}
        for w in self.fixture.workloads:
            facts = facts_from_object(w.body())
            if facts is not None:
                found_in.setdefault(w.namespace, []).extend((facts.ref, d) for d in detect(self.matrix, facts))
        today = dt.datetime.now(dt.UTC).date()
        expected = {}
        for engagement in self.fixture.engagements:
            spec = SupportEngagementSpec.model_validate(engagement["spec"])
            found = [
                item
                for ns, items in found_in.items()
                if covers(spec.coverage, ns, self.fixture.namespaces.get(ns))
                for item in items
            ]
            status = evaluate(spec, self.matrix, found, self.platform, today).status
            expected[engagement["metadata"]["name"]] = summary(to_wire(status))
        return expected


class EngagementWatch:
    """Follows every engagement's status through a watch; records when each change arrived."""

    def __init__(self, api_client: client.ApiClient, namespace: str = ENGAGEMENT_NS) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.namespace = namespace
        self.current: dict[str, Summary | None] = {}
        self.modified: dict[str, int] = {}
        self.changed = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                listing = self.custom.list_namespaced_custom_object(
                    "support.stakater.com", "v1alpha1", self.namespace, "supportengagements"
                )
                with self.changed:
                    for item in listing["items"]:
                        self.current[item["metadata"]["name"]] = summary(item.get("status"))
                    self.changed.notify_all()
                stream = watch.Watch().stream(
                    self.custom.list_namespaced_custom_object,
                    "support.stakater.com",
                    "v1alpha1",
                    self.namespace,
                    "supportengagements",
                    resource_version=listing["metadata"]["resourceVersion"],
                    timeout_seconds=60,
                )
                for event in stream:
                    obj = event["object"]
                    name = obj["metadata"]["name"]
                    with self.changed:
                        self.current[name] = summary(obj.get("status"))
                        if event["type"] == "MODIFIED":
                            self.modified[name] = self.modified.get(name, 0) + 1
                        self.changed.notify_all()
                    if self._stop:
                        return
            except Exception:
                time.sleep(0.2)

    def wait(self, predicate: Callable[[dict[str, Summary | None]], bool], timeout: float) -> float | None:
        """Seconds until ``predicate(current)`` holds, or None on timeout."""
        started = time.monotonic()
        deadline = started + timeout
        with self.changed:
            while not predicate(self.current):
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(left)
        return time.monotonic() - started

    def stop(self) -> None:
        self._stop = True


class DeploymentWatch:
    """The floor: when the raw watch event of a patched Deployment arrives."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.apps = client.AppsV1Api(api_client)
        self.seen: dict[tuple[str, str], str] = {}  # (namespace, name) -> first container image
        self.changed = threading.Condition()
        self._stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        rv = self.apps.list_deployment_for_all_namespaces(limit=1).metadata.resource_version
        while not self._stop:
            try:
                for event in watch.Watch().stream(
                    self.apps.list_deployment_for_all_namespaces, resource_version=rv, timeout_seconds=60
                ):
                    obj = event["object"]
                    rv = obj.metadata.resource_version
                    with self.changed:
                        self.seen[(obj.metadata.namespace, obj.metadata.name)] = obj.spec.template.spec.containers[
                            0
                        ].image
                        self.changed.notify_all()
                    if self._stop:
                        return
            except Exception:
                time.sleep(0.2)

    def wait_image(self, namespace: str, name: str, image: str, timeout: float) -> float | None:
        started = time.monotonic()
        with self.changed:
            while self.seen.get((namespace, name)) != image:
                left = started + timeout - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(left)
        return time.monotonic() - started

    def stop(self) -> None:
        self._stop = True


class ProcessStats:
    """CPU seconds and RSS of a process from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.ticks = 100.0  # os.sysconf("SC_CLK_TCK") on Linux
        self.peak_rss = 0
        self._stop = False
        threading.Thread(target=self._sample, daemon=True).start()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.ticks

    def _status(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def _status_mib(self, field: str) -> float:
        return self._status(field) / 1024

    def rss_mib(self) -> float:
        return self._status_mib("VmRSS")

    def memory_facts(self) -> dict[str, float | int]:
        """Threads; RSS split into anonymous and file-backed (smaps_rollup); glibc arenas other than the
        main heap, counted in /proc/PID/maps as 64 MiB-aligned anonymous reservations of 64 MiB."""
        rollup: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                rollup[parts[0].rstrip(":")] = int(parts[1])
        return {
            "threads": self._status("Threads"),
            "rss_mib": round(rollup.get("Rss", 0) / 1024, 1),
            "anonymous_mib": round(rollup.get("Anonymous", 0) / 1024, 1),
            "file_mib": round((rollup.get("Rss", 0) - rollup.get("Anonymous", 0)) / 1024, 1),
            "arenas": self.arenas(),
        }

    def arenas(self) -> int:
        heap = 64 << 20  # glibc's HEAP_MAX_SIZE on 64-bit: each extra arena reserves this, aligned to it
        spans: list[tuple[int, int, bool]] = []
        for line in Path(f"/proc/{self.pid}/maps").read_text().splitlines():
            fields = line.split()
            if len(fields) == 5:  # anonymous, no path
                start, end = (int(x, 16) for x in fields[0].split("-"))
                spans.append((start, end, fields[1].startswith("rw")))
        count = 0
        for i, (start, end, writable) in enumerate(spans):
            if start % heap or not writable:
                continue
            stop = end
            if i + 1 < len(spans) and spans[i + 1][0] == end and not spans[i + 1][2]:
                stop = spans[i + 1][1]
            count += stop - start == heap
        return count

    def hwm_mib(self) -> float:
        """Peak RSS over the process's life."""
        return self._status_mib("VmHWM")

    def _sample(self) -> None:
        while not self._stop:
            try:
                self.peak_rss = max(self.peak_rss, int(self.rss_mib()))
            except OSError:
                return
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop = True

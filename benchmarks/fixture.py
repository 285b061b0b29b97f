"""The benchmark's cluster: N workloads in many namespaces, 100 engagements with namespace selectors.

A few percent of the workloads are Stakater products at assorted versions; the rest are customer
apps with several containers. Engagements 0..E/2-1 cover only supported versions (so flipping one of
their products to end of life changes their eligibility); the others also cover end-of-life ones.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

ENGAGEMENT_NS = "bench-engagements"
# The in-pod run: deploy/ lets only engagements in these namespaces cover others (--cross-namespace-engagements).
PLATFORM_NS = "platform"
# No Multi Tenant Operator among the supported ones: it needs Kubernetes 1.24, the local control plane
# runs 1.20, so it would make the "clean" engagements Limited.
SUPPORTED = [
    "ghcr.io/stakater/reloader:v1.4.21",
    "stakater/forecastle:v2.0.1",
    "ghcr.io/stakater/ingressmonitorcontroller:v2.2.12",
    "registry.example.internal:5000/mirror/stakater/reloader:v1.4.19-ubi",
]
END_OF_LIFE = [
    "stakater/reloader:v1.2.0",
    "ghcr.io/stakater/public/mto/tenant-operator:v1.3.0",
    "stakater/reloader:v1.3.0-ubi",
]
FLIP_SUPPORTED, FLIP_EOL = "ghcr.io/stakater/reloader:v1.4.21", "ghcr.io/stakater/reloader:v1.1.0"


@dataclass
class Workload:
    namespace: str
    name: str
    images: list[str]
    # On a real node: no pods and no ReplicaSets (0 replicas, paused), or the controller-manager would start
    # thousands. The operator reads only the pod template, so what it sees is the same.
    inert: bool = False

    def body(self) -> dict[str, Any]:
        labels = {"app": self.name}
        inert = {"replicas": 0, "paused": True} if self.inert else {"replicas": 2}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": {**labels, "team": "bench"}},
            "spec": {
                **inert,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": f"c{i}",
                                "image": image,
                                "ports": [{"containerPort": 8080 + i}],
                                "env": [{"name": "MODE", "value": "production"}],
                                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                            }
                            for i, image in enumerate(self.images)
                        ]
                    },
                },
            },
        }


@dataclass
class Fixture:
    workloads: list[Workload]
    namespaces: dict[str, dict[str, str]]  # name -> labels
    engagements: list[dict[str, Any]]
    flippable: list[tuple[str, Workload]] = field(default_factory=list)  # (engagement, product workload)
    engagement_ns: str = ENGAGEMENT_NS

    def by_namespace(self) -> dict[str, list[Workload]]:
        out: dict[str, list[Workload]] = {}
        for w in self.workloads:
            out.setdefault(w.namespace, []).append(w)
        return out


def build(
    n: int,
    engagements: int = 100,
    product_share: float = 0.03,
    seed: int = 7,
    inert: bool = False,
    engagement_ns: str = ENGAGEMENT_NS,
) -> Fixture:
    rng = random.Random(seed)
    namespaces = max(engagements * 2, n // 50)
    ns_names = [f"bench-{i:04d}" for i in range(namespaces)]
    # Each engagement covers the namespaces of its group; groups of the first half hold only supported versions.
    group_of = {ns: i % engagements for i, ns in enumerate(ns_names)}
    clean_groups = set(range(engagements // 2))
    workloads = []
    products_per_ns: dict[str, int] = {}
    for i in range(n):
        ns = ns_names[i % namespaces]
        if rng.random() < product_share or products_per_ns.get(ns, 0) == 0:
            pool = SUPPORTED if group_of[ns] in clean_groups else SUPPORTED + END_OF_LIFE
            images = [rng.choice(pool)]
            products_per_ns[ns] = products_per_ns.get(ns, 0) + 1
        else:
            images = [
                f"registry.example.com/team{rng.randrange(40)}/svc{rng.randrange(500)}:v{rng.randrange(1, 9)}."
                f"{rng.randrange(20)}.{rng.randrange(10)}"
                for _ in range(rng.randint(2, 4))
            ]
            images.append("docker.io/library/nginx:1.27")
        workloads.append(Workload(ns, f"w{i:05d}", images, inert))
    engagement_bodies = [
        {
            "apiVersion": "support.stakater.com/v1alpha1",
            "kind": "SupportEngagement",
            "metadata": {"name": f"e{g:03d}", "namespace": engagement_ns},
            "spec": {
                "customer": f"customer-{g}",
                "type": "ProductSupport",
                "plan": "Premium" if g % 2 else "Standard",
                "coverage": {"namespaceSelector": {"matchLabels": {"bench-group": f"g{g}"}}},
            },
        }
        for g in range(engagements)
    ]
    fixture = Fixture(
        workloads, {ns: {"bench-group": f"g{group_of[ns]}"} for ns in ns_names}, engagement_bodies, [], engagement_ns
    )
    # Flip candidates: the first product workload in a namespace of each clean group.
    seen: set[int] = set()
    for w in workloads:
        g = group_of[w.namespace]
        if g in clean_groups and g not in seen and w.images[0] == FLIP_SUPPORTED:
            seen.add(g)
            fixture.flippable.append((f"e{g:03d}", w))
    return fixture


def _parallel(fn: Any, items: list[Any], threads: int = 16) -> None:
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(fn, items):
            pass


def create(api_client: client.ApiClient, fixture: Fixture, threads: int = 16) -> None:
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    core.create_namespace({"metadata": {"name": fixture.engagement_ns}})
    _parallel(
        lambda item: core.create_namespace({"metadata": {"name": item[0], "labels": item[1]}}),
        list(fixture.namespaces.items()),
        threads,
    )
    _parallel(lambda w: apps.create_namespaced_deployment(w.namespace, w.body()), fixture.workloads, threads)
    _parallel(
        lambda e: custom.create_namespaced_custom_object(
            "support.stakater.com", "v1alpha1", fixture.engagement_ns, "supportengagements", e
        ),
        fixture.engagements,
        threads,
    )


def set_image(apps: client.AppsV1Api, workload: Workload, image: str, attempts: int = 4) -> int:
    """Patch the first container's image; the number of retries. An admission webhook that could not be
    called (the operator's, failing closed, on the node) is retried after half a second; the caller records
    the count, so a refused change is reported, not hidden."""
    workload.images[0] = image
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c0", "image": image}]}}}}
    for attempt in range(attempts):
        try:
            apps.patch_namespaced_deployment(workload.name, workload.namespace, patch)
            return attempt
        except ApiException as exc:
            if attempt == attempts - 1 or "failed calling webhook" not in str(exc.body):
                raise
            time.sleep(0.5)
    return attempts


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]

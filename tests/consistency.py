"""The fault suite's oracle: each engagement's status against the pure evaluation of a fresh LIST."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubernetes import client

from benchmarks.observe import Summary, summary
from eligibility_operator.core.engagements import EngagementRecord, assess, record_from_body, to_wire
from eligibility_operator.core.evaluation import Platform
from eligibility_operator.core.inventory import Inventory
from eligibility_operator.core.matrix import MatrixError, load_matrix
from eligibility_operator.core.workloads import facts_from_object


def expected_statuses(
    api_client: client.ApiClient, namespace: str, last_good: dict[str, dict[str, Any]] | None = None
) -> dict[str, tuple[Summary | None, Summary | None]]:
    """{engagement: (operator's summary, pure evaluation's summary)} for the engagements in ``namespace``.

    ``last_good`` gives the last valid spec of matrices that are invalid now: the operator keeps
    evaluating against it, and so must the oracle."""
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    inventory = Inventory()
    for item in custom.list_cluster_custom_object("support.stakater.com", "v1alpha1", "compatibilitymatrices")["items"]:
        meta = item["metadata"]
        try:
            inventory.set_matrix(load_matrix(meta["name"], meta.get("generation", 0), item.get("spec")))
        except MatrixError as exc:
            if last_good and meta["name"] in last_good:
                inventory.set_matrix(load_matrix(meta["name"], 0, last_good[meta["name"]]))
            inventory.set_matrix_error(meta["name"], str(exc))
    for ns in core.list_namespace().items:
        inventory.set_namespace(ns.metadata.name, ns.metadata.labels or {})
    serialize = api_client.sanitize_for_serialization
    for kind, listing in (
        ("Deployment", apps.list_deployment_for_all_namespaces),
        ("StatefulSet", apps.list_stateful_set_for_all_namespaces),
        ("DaemonSet", apps.list_daemon_set_for_all_namespaces),
    ):
        for obj in listing().items:
            body = serialize(obj)
            body["kind"] = kind
            facts = facts_from_object(body)
            if facts is not None:
                inventory.upsert(facts)
    platform = Platform(kubernetes=client.VersionApi(api_client).get_code().git_version)
    today = dt.datetime.now(dt.UTC).date()
    result = {}
    for item in custom.list_namespaced_custom_object(
        "support.stakater.com", "v1alpha1", namespace, "supportengagements"
    )["items"]:
        record: EngagementRecord = record_from_body(item)
        record.written = None  # judge from scratch, not from what the operator wrote
        want = summary(to_wire(assess(record, inventory, platform, today)))
        result[item["metadata"]["name"]] = (summary(item.get("status")), want)
    return result


def mismatches(
    api_client: client.ApiClient, namespace: str, last_good: dict[str, dict[str, Any]] | None = None
) -> dict[str, tuple[Summary | None, Summary | None]]:
    return {k: v for k, v in expected_statuses(api_client, namespace, last_good).items() if v[0] != v[1]}

"""The fault suite's oracle: each engagement's status against the pure evaluation of a fresh LIST."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from benchmarks.observe import Summary, summary
from eligibility_operator.core.base.status_wire import to_wire
from eligibility_operator.core.compat.matrix import MatrixError, load_matrix
from eligibility_operator.core.products.inventory import Inventory
from eligibility_operator.core.products.workloads import facts_from_object
from eligibility_operator.core.verdict.engagements import EngagementRecord, assess, record_from_body
from eligibility_operator.core.verdict.evaluation import Platform


def expected_statuses(
    api_client: client.ApiClient,
    namespace: str,
    last_good: dict[str, dict[str, Any]] | None = None,
    sourced: dict[str, dict[str, Any]] | None = None,
) -> dict[str, tuple[Summary | None, Summary | None]]:
    """{engagement: (operator's summary, pure evaluation's summary)} for the engagements in ``namespace``.

    ``last_good`` gives the last valid spec of matrices that are invalid now: the operator keeps
    evaluating against it, and so must the oracle. ``sourced`` gives the spec of the document that
    matrices with ``spec.source`` publish (the operator evaluates against its verified copy)."""
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    inventory = Inventory()
    for item in custom.list_cluster_custom_object("support.stakater.com", "v1alpha1", "compatibilitymatrices")["items"]:
        meta = item["metadata"]
        if sourced and meta["name"] in sourced:
            inventory.set_matrix(load_matrix(meta["name"], 0, sourced[meta["name"]]))
            continue
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
    api_client: client.ApiClient,
    namespace: str,
    last_good: dict[str, dict[str, Any]] | None = None,
    sourced: dict[str, dict[str, Any]] | None = None,
) -> dict[str, tuple[Summary | None, Summary | None]]:
    pairs = expected_statuses(api_client, namespace, last_good, sourced)
    return {k: v for k, v in pairs.items() if v[0] != v[1]}


def _request_summary(status: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What must agree between the operator's triage and the offline one: scope, route, engagement, each
    condition's status and reason, and each affected product with lifecycle and eligibility. (The
    diagnostics differ by design: offline there are no workload conditions or Events to read.)"""
    if not status:
        return None
    conditions = tuple(sorted((c["type"], c["status"], c.get("reason", "")) for c in status.get("conditions", [])))
    products = tuple(
        sorted(
            (p.get("product", ""), p.get("version", ""), p.get("lifecycle", ""), p.get("eligibility", ""))
            for p in status.get("products", [])
        )
    )
    return status.get("scope"), status.get("route"), status.get("engagement"), conditions, products


def request_mismatches(
    api_client: client.ApiClient, namespace: str, directory: Path
) -> dict[str, tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]]:
    """{request: (operator's summary, offline triage's summary)} for the SupportRequests in ``namespace``
    whose two summaries differ. The offline side is ``eligibility-operator triage``'s own code, given the
    objects of a fresh LIST written to files in ``directory``, as a support portal would give them."""
    from eligibility_operator.offline import triage as rt
    from eligibility_operator.offline.loading import load_matrix_file

    apps, custom = client.AppsV1Api(api_client), client.CustomObjectsApi(api_client)
    serialize = api_client.sanitize_for_serialization
    group, version = "support.stakater.com", "v1alpha1"
    manifests = directory / "workloads.yaml"
    documents = []
    for kind, listing in (("Deployment", apps.list_deployment_for_all_namespaces),):
        for obj in listing().items:
            body = serialize(obj)
            body.update(apiVersion="apps/v1", kind=kind)
            documents.append(body)
    manifests.write_text(yaml.safe_dump_all(documents))
    platform = Platform(kubernetes=client.VersionApi(api_client).get_code().git_version)
    result = {}
    for item in custom.list_namespaced_custom_object(group, version, namespace, "supportrequests")["items"]:
        name = item["metadata"]["name"]
        ref = item["spec"]["engagementRef"]
        found = custom.get_namespaced_custom_object(
            group, version, ref.get("namespace") or namespace, "supportengagements", ref["name"]
        )
        matrix_name = found["spec"]["matrixRef"]["name"]
        matrix = custom.get_cluster_custom_object(group, version, "compatibilitymatrices", matrix_name)
        for path, doc in (("request.yaml", item), ("engagement.yaml", found), ("matrix.yaml", matrix)):
            (directory / path).write_text(yaml.safe_dump({k: v for k, v in doc.items() if k != "status"}))
        status, problems = rt.triage_offline(
            rt.load_request(directory / "request.yaml"),
            rt.load_engagement_view(directory / "engagement.yaml"),
            load_matrix_file(directory / "matrix.yaml"),
            [manifests],
            platform,
        )
        assert problems == [], problems
        got, want = _request_summary(item.get("status")), _request_summary(to_wire(status))
        if got != want:
            result[name] = (got, want)
    return result

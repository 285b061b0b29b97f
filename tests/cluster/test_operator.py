"""The operator against the real API server: status, Events, coverage, matrices, read-only workloads."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..builders import engagement, matrix, workload
from ..conftest import REPO, Kubectl, OperatorProcess, wait_for

RELOADER_OK = "ghcr.io/stakater/reloader:v1.4.21"
RELOADER_EOL = "registry.example.internal:5000/mirror/stakater/reloader:v1.1.0"
RELOADER_SOON = "stakater/reloader:v1.2.0-ubi"


def status(kubectl: Kubectl, namespace: str, name: str = "contract") -> dict[str, Any]:
    result = kubectl.run("get", "se", name, "-n", namespace, "-o", "json", check=False)
    if result.returncode != 0:
        return {}
    return dict(json.loads(result.stdout).get("status") or {})


def condition(st: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in st.get("conditions", []) if c["type"] == type_), {})


def wait_eligibility(
    kubectl: Kubectl, namespace: str, want: str, name: str = "contract", timeout: float = 20
) -> dict[str, Any]:
    return wait_status(kubectl, namespace, lambda s: s.get("eligibility") == want, name, timeout, f"eligibility {want}")


def wait_not_ready(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    return wait_status(kubectl, namespace, lambda s: condition(s, "Ready").get("status") == "False", what="Ready=False")


def wait_status(
    kubectl: Kubectl,
    namespace: str,
    predicate: Callable[[dict[str, Any]], bool],
    name: str = "contract",
    timeout: float = 20,
    what: str = "status",
) -> dict[str, Any]:
    """Poll the engagement's status until ``predicate`` holds; return that status."""

    def probe() -> dict[str, Any] | None:
        st = status(kubectl, namespace, name)
        return st if predicate(st) else None

    return dict(wait_for(probe, timeout=timeout, what=f"{namespace}/{name}: {what}"))


@pytest.fixture
def test_matrix(kubectl: Kubectl, namespace: str) -> Iterator[str]:
    name = f"m-{namespace}"
    kubectl.apply(matrix(name))
    yield name
    kubectl.run("delete", "compatibilitymatrix", name, "--wait=false", check=False)


@pytest.fixture(autouse=True)
def _operator_running(operator: OperatorProcess) -> Iterator[None]:
    yield
    assert operator.proc.poll() is None, f"operator died:\n{operator.log()[-3000:]}"


def test_eligible_cluster(kubectl: Kubectl, namespace: str, test_matrix: str) -> None:
    kubectl.apply(
        workload(namespace, "reloader", RELOADER_OK),
        workload(namespace, "app", "example.com/shop/web:v3", "nginx:1.27"),
        engagement(namespace, matrixRef={"name": test_matrix}),
    )
    st = wait_eligibility(kubectl, namespace, "Eligible")
    assert condition(st, "Ready")["status"] == "True"
    assert condition(st, "Eligible")["status"] == "True"
    assert condition(st, "VersionsSupported")["status"] == "True"
    assert [(p["product"], p["version"], p["lifecycle"]) for p in st["products"]] == [
        ("reloader", "1.4.21", "Supported")
    ]
    assert st["products"][0]["workloads"] == [f"{namespace}/Deployment/reloader"]
    assert st["platform"]["kubernetesVersion"].startswith("v1.")
    assert st["observedGeneration"] == 1
    assert {r["item"]: r["owner"] for r in st["responsibilities"]}["Maintaining supported versions"] == "Customer"
    assert [t["severity"] for t in st["responseTargets"]] == ["P1", "P2", "P3", "P4"]
    for c in st["conditions"]:
        assert c["lastTransitionTime"] and c["observedGeneration"] == 1


def test_end_of_life_beside_a_supported_version_is_limited_then_upgrade_and_deletion_restore(
    kubectl: Kubectl, namespace: str, test_matrix: str
) -> None:
    kubectl.apply(
        workload(namespace, "reloader", RELOADER_OK),
        workload(namespace, "old-reloader", RELOADER_EOL, kind="StatefulSet"),
        engagement(namespace, matrixRef={"name": test_matrix}),
    )
    st = wait_eligibility(kubectl, namespace, "Limited")
    message = condition(st, "Eligible")["message"]
    assert "reloader 1.1.0" in message and f"{namespace}/StatefulSet/old-reloader" in message
    assert "customer action: upgrade reloader 1.1.0 to 1.4.21" in message
    assert condition(st, "VersionsSupported")["reason"] == "EndOfLifeVersions"
    assert st["productsOutOfSupport"] == 1
    eol = next(p for p in st["products"] if p["lifecycle"] == "EndOfLife")
    assert eol["actionOwner"] == "Customer" and eol["codes"] == ["EO101"]  # stored through the CRD's schema
    assert "codes" not in next(p for p in st["products"] if p["lifecycle"] == "Supported")
    events = kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout
    assert "[EO101 reloader 1.1.0]" in events  # the eligibility Event names the codes

    kubectl.run("set", "image", "-n", namespace, "statefulset/old-reloader", f"c0={RELOADER_OK}")
    st = wait_eligibility(kubectl, namespace, "Eligible", timeout=10)
    assert st["products"][0]["workloadCount"] == 2

    kubectl.run("set", "image", "-n", namespace, "statefulset/old-reloader", f"c0={RELOADER_EOL}")
    wait_eligibility(kubectl, namespace, "Limited", timeout=10)
    kubectl.run("delete", "statefulset", "old-reloader", "-n", namespace)
    st = wait_eligibility(kubectl, namespace, "Eligible", timeout=10)
    assert [p["workloads"] for p in st["products"]] == [[f"{namespace}/Deployment/reloader"]]


def test_eligibility_transitions_are_recorded_as_events(kubectl: Kubectl, namespace: str, test_matrix: str) -> None:
    kubectl.apply(workload(namespace, "r", RELOADER_EOL), engagement(namespace, matrixRef={"name": test_matrix}))
    wait_eligibility(kubectl, namespace, "Ineligible")
    kubectl.run("set", "image", "-n", namespace, "deployment/r", f"c0={RELOADER_OK}")
    wait_eligibility(kubectl, namespace, "Eligible")

    def reasons() -> list[str]:
        events = json.loads(kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
        mine = [e for e in events if e["involvedObject"]["kind"] == "SupportEngagement"]
        return sorted(e["reason"] for e in mine) if len(mine) >= 2 else []

    assert wait_for(reasons, what="two eligibility events") == ["EligibilityEligible", "EligibilityIneligible"]


def test_only_covered_namespaces_count(kubectl: Kubectl, namespace: str, test_matrix: str) -> None:
    other = f"{namespace}-x"
    kubectl.run("create", "namespace", other)
    try:
        kubectl.run("label", "namespace", namespace, f"support-test={namespace}")
        kubectl.apply(
            workload(other, "old", RELOADER_EOL),
            workload(namespace, "ok", RELOADER_OK),
            engagement(
                namespace,
                covers=[],
                matrixRef={"name": test_matrix},
                coverage={"namespaceSelector": {"matchLabels": {"support-test": namespace}}},
            ),
        )
        st = wait_status(kubectl, namespace, lambda s: s.get("eligibility") == "Eligible" and s.get("products"))
        assert [p["workloads"] for p in st["products"]] == [[f"{namespace}/Deployment/ok"]]
        # Labelling the other namespace brings it (and its end-of-life Reloader) under coverage.
        kubectl.run("label", "namespace", other, f"support-test={namespace}")
        st = wait_eligibility(kubectl, namespace, "Limited")
        assert f"{other}/Deployment/old" in condition(st, "Eligible")["message"]
        kubectl.run("label", "namespace", other, "support-test-")
        wait_eligibility(kubectl, namespace, "Eligible")
    finally:
        kubectl.run("delete", "deployment", "--all", "-n", other, check=False)
        kubectl.run("delete", "namespace", other, "--wait=false", check=False)


def test_two_engagements_side_by_side(kubectl: Kubectl, namespace: str, test_matrix: str) -> None:
    kubectl.apply(
        workload(namespace, "reloader", RELOADER_EOL),
        workload(namespace, "forecastle", "stakater/forecastle:v2.0.1"),
        engagement(namespace, "reloader-contract", matrixRef={"name": test_matrix}, products=[{"name": "reloader"}]),
        engagement(
            namespace,
            "forecastle-contract",
            matrixRef={"name": test_matrix},
            products=[{"name": "forecastle"}],
            plan="Premium",
        ),
    )
    reloader = wait_eligibility(kubectl, namespace, "Ineligible", name="reloader-contract")
    forecastle = wait_eligibility(kubectl, namespace, "Eligible", name="forecastle-contract")
    assert [p["product"] for p in reloader["products"]] == ["reloader"]
    assert [p["product"] for p in reloader["uncoveredProducts"]] == ["forecastle"]
    assert "lifecycle" not in reloader["uncoveredProducts"][0]
    assert [p["product"] for p in forecastle["uncoveredProducts"]] == ["reloader"]
    assert forecastle["responseTargets"][0]["firstResponse"] == "1 hour"


def test_managed_service_moves_version_maintenance_to_stakater(
    kubectl: Kubectl, namespace: str, test_matrix: str
) -> None:
    kubectl.apply(
        workload(namespace, "reloader", RELOADER_EOL),
        engagement(
            namespace,
            matrixRef={"name": test_matrix},
            type="ManagedService",
            versionManagement="Stakater",
            serviceCredits={"definedInAgreement": True},
        ),
    )
    st = wait_eligibility(kubectl, namespace, "Eligible")
    assert st["products"][0]["lifecycle"] == "EndOfLife"
    assert st["products"][0]["actionOwner"] == "Stakater"
    assert condition(st, "VersionsSupported")["status"] == "False"
    assert "Stakater" in condition(st, "Eligible")["message"]
    assert {r["item"]: r["owner"] for r in st["responsibilities"]}["Maintaining supported versions"] == "Stakater"
    assert st["serviceCredits"]["applicable"] is True

    # The same contract with version maintenance left to the customer is ineligible, and loses credits.
    kubectl.run(
        "patch", "se", "contract", "-n", namespace, "--type=merge", "-p", '{"spec": {"versionManagement": "Customer"}}'
    )
    st = wait_eligibility(kubectl, namespace, "Ineligible")
    assert st["products"][0]["actionOwner"] == "Customer"
    assert st["serviceCredits"]["applicable"] is False
    assert st["observedGeneration"] == 2


def test_premium_is_warned_ahead_standard_is_not(kubectl: Kubectl, namespace: str, test_matrix: str) -> None:
    kubectl.apply(
        workload(namespace, "reloader", RELOADER_SOON),
        engagement(namespace, "premium", matrixRef={"name": test_matrix}, plan="Premium"),
        engagement(namespace, "standard", matrixRef={"name": test_matrix}, plan="Standard"),
    )
    premium = wait_eligibility(kubectl, namespace, "Eligible", name="premium")
    standard = wait_eligibility(kubectl, namespace, "Eligible", name="standard")
    assert premium["products"][0]["lifecycle"] == "Deprecated"
    assert condition(premium, "UpgradeRecommended")["status"] == "True"
    assert "upgrade horizon" in condition(premium, "UpgradeRecommended")["message"]
    assert standard["products"][0]["lifecycle"] == "Supported"
    assert condition(standard, "UpgradeRecommended")["status"] == "False"
    # A shorter horizon than the 30 days left silences the warning.
    kubectl.run("patch", "se", "premium", "-n", namespace, "--type=merge", "-p", '{"spec": {"upgradeHorizonDays": 10}}')
    wait_for(
        lambda: condition(status(kubectl, namespace, "premium"), "UpgradeRecommended").get("status") == "False",
        what="UpgradeRecommended=False after shortening the horizon",
    )


def test_missing_matrix_is_not_ready_until_created(kubectl: Kubectl, namespace: str) -> None:
    name = f"m-{namespace}"
    kubectl.apply(workload(namespace, "reloader", RELOADER_OK), engagement(namespace, matrixRef={"name": name}))
    st = wait_not_ready(kubectl, namespace)
    ready = condition(st, "Ready")
    assert ready["reason"] == "MatrixNotFound"
    assert name in ready["message"] and "matrixRef" in ready["message"]
    assert st["eligibility"] == "Unknown"
    try:
        kubectl.apply(matrix(name))
        st = wait_eligibility(kubectl, namespace, "Eligible")
        assert condition(st, "Ready")["status"] == "True"
    finally:
        kubectl.run("delete", "compatibilitymatrix", name, check=False)


def test_matrix_update_reevaluates_and_invalid_matrix_keeps_last_good(
    kubectl: Kubectl, namespace: str, test_matrix: str
) -> None:
    kubectl.apply(
        workload(namespace, "reloader", "stakater/reloader:v1.4.3"),
        engagement(namespace, matrixRef={"name": test_matrix}),
    )
    wait_eligibility(kubectl, namespace, "Eligible")
    body = matrix(test_matrix)
    releases = body["spec"]["products"][0]["releases"]
    releases[2]["endOfSupport"] = releases[0]["endOfSupport"]  # 1.4 ended 30 days ago
    kubectl.apply(body)
    st = wait_eligibility(kubectl, namespace, "Ineligible")
    assert "reloader 1.4.3" in condition(st, "Eligible")["message"]

    # Overlapping releases: the matrix says it is invalid, the engagement keeps its last good evaluation.
    releases.append({"version": "1.4.3", "released": releases[2]["released"]})
    kubectl.apply(body)

    def matrix_not_ready() -> str | None:
        conditions = kubectl.get("compatibilitymatrix", test_matrix).get("status", {}).get("conditions", [])
        return next((c["message"] for c in conditions if c["status"] == "False"), None)

    assert "overlap" in wait_for(matrix_not_ready, what="matrix Ready=False")
    st = wait_status(
        kubectl,
        namespace,
        lambda s: condition(s, "Ready").get("reason") == "MatrixInvalid",
        what="engagement MatrixInvalid",
    )
    assert st["eligibility"] == "Ineligible"
    assert "overlap" in condition(st, "Ready")["message"]

    releases.pop()
    kubectl.apply(body)
    wait_for(lambda: condition(status(kubectl, namespace), "Ready").get("status") == "True", what="Ready again")


def test_semantic_problems_are_ready_false_with_the_field(kubectl: Kubectl, namespace: str, test_matrix: str) -> None:
    kubectl.apply(engagement(namespace, matrixRef={"name": test_matrix}, products=[{"name": "relaoder"}]))
    st = wait_not_ready(kubectl, namespace)
    ready = condition(st, "Ready")
    assert ready["reason"] == "InvalidSpec"
    assert "spec.products[0].name" in ready["message"] and "relaoder" in ready["message"]
    assert "reloader" in ready["message"]  # the known names help fix the typo


def test_workloads_are_never_written(kubectl: Kubectl, namespace: str, test_matrix: str) -> None:
    kubectl.apply(
        workload(namespace, "reloader", RELOADER_EOL), workload(namespace, "ds", RELOADER_OK, kind="DaemonSet")
    )
    before = {k: kubectl.get(k, n, "-n", namespace) for k, n in (("deployment", "reloader"), ("daemonset", "ds"))}
    kubectl.apply(engagement(namespace, matrixRef={"name": test_matrix}))
    wait_eligibility(kubectl, namespace, "Limited")
    kubectl.run("set", "image", "-n", namespace, "deployment/reloader", f"c0={RELOADER_OK}")
    wait_eligibility(kubectl, namespace, "Eligible")
    after = kubectl.get("deployment", "reloader", "-n", namespace)
    ds = kubectl.get("daemonset", "ds", "-n", namespace)
    assert ds["metadata"]["resourceVersion"] == before["daemonset"]["metadata"]["resourceVersion"]
    for obj in (after, ds):
        assert not obj["metadata"].get("finalizers")
        assert not any("kopf" in a or "stakater" in a for a in obj["metadata"].get("annotations", {}))
        assert all(m["manager"].startswith("kubectl") for m in obj["metadata"].get("managedFields", []))


def test_status_is_not_rewritten_when_nothing_changes(kubectl: Kubectl, namespace: str, test_matrix: str) -> None:
    kubectl.apply(workload(namespace, "reloader", RELOADER_OK), engagement(namespace, matrixRef={"name": test_matrix}))
    wait_eligibility(kubectl, namespace, "Eligible")
    version = kubectl.get("se", "contract", "-n", namespace)["metadata"]["resourceVersion"]
    # Changes that do not alter what is detected: a label, a new customer app, a scale.
    kubectl.run("label", "deployment", "reloader", "-n", namespace, "team=platform")
    kubectl.apply(workload(namespace, "web", "example.com/web:v2"))
    kubectl.run("scale", "deployment", "reloader", "-n", namespace, "--replicas=3")
    time.sleep(2)
    assert kubectl.get("se", "contract", "-n", namespace)["metadata"]["resourceVersion"] == version


def _check(*args: str) -> tuple[int, dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "eligibility_operator.cli", "check", *args, "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.returncode, json.loads(out.stdout)


def test_check_command_on_realistic_manifests(tmp_path: Path) -> None:
    contract = engagement(
        "support",
        covers=["tools", "default", "monitoring"],
        products=[{"name": n} for n in ("reloader", "forecastle", "ingressmonitorcontroller")],
    )
    (tmp_path / "se.yaml").write_text(yaml.safe_dump(contract))
    manifests = REPO / "tests/fixtures/manifests"

    code, result = _check(
        "-f",
        str(manifests / "helm"),
        "-f",
        str(manifests / "plain/imc-and-konfigurator.yaml"),
        "-f",
        str(manifests / "plain/old-reloader.yaml"),
        "--engagement",
        str(tmp_path / "se.yaml"),
    )
    assert code == 1 and result["eligibility"] == "Limited"
    got = {(p["product"], p["version"], p["lifecycle"], tuple(p["workloads"])) for p in result["products"]}
    assert got == {
        ("forecastle", "2.0.1", "Supported", ("tools/Deployment/forecastle",)),
        ("ingressmonitorcontroller", "2.2.12", "Supported", ("monitoring/Deployment/ingressmonitorcontroller",)),
        ("reloader", "1.2.0", "EndOfLife", ("default/Deployment/reloader-reloader",)),
        ("reloader", "1.4.21", "Supported", ("tools/Deployment/stakater-reloader",)),
    }
    assert [(p["product"], p["version"]) for p in result["uncoveredProducts"]] == [("konfigurator", "0.1.39")]

    # The whole directory also holds a malformed Deployment: reported with file and position, exit code 4;
    # a document that is not a Kubernetes object (a bare string) is skipped and counted, not an error.
    code, result = _check("-f", str(manifests), "--engagement", str(tmp_path / "se.yaml"))
    assert code == 4
    assert {(e["file"].rsplit("/", 1)[-1], e["document"]) for e in result["errors"]} == {("broken.yaml", 2)}
    assert {(s["file"].rsplit("/", 1)[-1], s["document"]) for s in result["skipped"]} == {("broken.yaml", 3)}
    assert result["eligibility"] == "Limited"


def test_a_tampered_status_is_corrected(kubectl: Kubectl, namespace: str, test_matrix: str) -> None:
    kubectl.apply(workload(namespace, "reloader", RELOADER_OK), engagement(namespace, matrixRef={"name": test_matrix}))
    wait_eligibility(kubectl, namespace, "Eligible")
    kubectl.run(
        "patch",
        "se",
        "contract",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"eligibility": "Ineligible", "reason": "edited by hand"}}',
    )
    st = wait_eligibility(kubectl, namespace, "Eligible", timeout=10)
    assert st["reason"] != "edited by hand"


def test_matrix_status_is_written_without_engagements(kubectl: Kubectl) -> None:
    name = f"lonely-{time.monotonic_ns() % 100000}"
    body = matrix(name)
    kubectl.apply(body)
    try:

        def ready() -> str | None:
            conditions = kubectl.get("compatibilitymatrix", name).get("status", {}).get("conditions", [])
            return next((c["status"] for c in conditions if c["type"] == "Ready"), None)

        assert wait_for(ready, what="matrix status") == "True"
        body["spec"]["products"].append(dict(body["spec"]["products"][0]))  # a duplicate product
        kubectl.apply(body)
        assert wait_for(lambda: ready() == "False", what="matrix Ready=False")
    finally:
        kubectl.run("delete", "compatibilitymatrix", name, check=False)

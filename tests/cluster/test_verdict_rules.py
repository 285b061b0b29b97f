"""The README's "Eligibility rules", one test per row, through the real API server and through ``check``.

Each row applies workloads and an engagement, waits for the operator's status, runs
``eligibility-operator check`` over the same objects, and checks that both give the row's
per-product and engagement verdicts.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from eligibility_operator.core.compat.versions import parse_version
from eligibility_operator.offline.loading import default_matrix

from ..builders import engagement, matrix, workload
from ..conftest import Kubectl, OperatorProcess, wait_for

OK, SOON, EOL = "ghcr.io/stakater/reloader:v1.4.21", "stakater/reloader:v1.2.0", "stakater/reloader:v1.1.0"
FORECASTLE = "stakater/forecastle:v2.0.1"
TODAY = dt.datetime.now(dt.UTC).date()


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


@dataclass
class Row:
    """One row of the rules table: what runs, the contract, and the verdicts it must give."""

    images: dict[str, str]  # workload name -> image, in the engagement's namespace
    products: dict[tuple[str, str], tuple[str, str | None]]  # (product, version) -> (eligibility, actionOwner)
    engagement: str
    spec: dict[str, Any] = field(default_factory=dict)
    platform: str = "any"  # reloader's Kubernetes range in the matrix: "any", "1.21-" (a minimum), "-1.19" (a maximum)
    elsewhere: dict[str, str] = field(default_factory=dict)  # workloads in a namespace the engagement does not cover
    uncovered: list[str] = field(default_factory=list)
    conditions: dict[str, tuple[str, str]] = field(default_factory=dict)  # type -> (status, reason)


ROWS = {
    # per product version
    "supported": Row({"r": OK}, {("reloader", "1.4.21"): ("Eligible", None)}, "Eligible"),
    "premium-deprecated": Row(
        {"r": SOON},
        {("reloader", "1.2.0"): ("Eligible", "Customer")},
        "Eligible",
        spec={"plan": "Premium"},
        conditions={"UpgradeRecommended": ("True", "EndOfSupportApproaching")},
    ),
    "standard-before-end": Row(
        {"r": SOON},
        {("reloader", "1.2.0"): ("Eligible", None)},
        "Eligible",
        conditions={"UpgradeRecommended": ("False", "NoUpgradeNeeded")},
    ),
    "end-of-life": Row({"r": EOL}, {("reloader", "1.1.0"): ("Ineligible", "Customer")}, "Ineligible"),
    "older-than-matrix": Row(
        {"r": "stakater/reloader:v1.0.3"}, {("reloader", "1.0.3"): ("Ineligible", "Customer")}, "Ineligible"
    ),
    "platform-not-supported": Row(
        {"r": OK, "f": FORECASTLE},
        {("reloader", "1.4.21"): ("Ineligible", "Customer"), ("forecastle", "2.0.1"): ("Eligible", None)},
        "Limited",
        platform="1.21-",  # the test control plane runs Kubernetes 1.20
        conditions={"PlatformCompatible": ("False", "Incompatible")},
    ),
    "platform-newer-than-matrix": Row(  # past reloader's documented range, on a line the matrix does not list
        {"r": OK, "f": FORECASTLE},
        {("reloader", "1.4.21"): ("Eligible", "Stakater"), ("forecastle", "2.0.1"): ("Eligible", None)},
        "Eligible",
        platform="-1.19",  # Kubernetes 1.20 is newer than reloader's maximum, and the matrix lists no line
        conditions={"PlatformCompatible": ("True", "MatrixBehind")},
    ),
    "unknown-version": Row(
        {"r": "stakater/reloader:latest", "f": FORECASTLE},
        {("reloader", "Unknown"): ("Limited", "Customer"), ("forecastle", "2.0.1"): ("Eligible", None)},
        "Limited",
        conditions={"VersionsSupported": ("False", "UnknownVersions")},
    ),
    "newer-than-matrix": Row(  # upgrading is never punished: the matrix is behind, Stakater's item
        {"r": "stakater/reloader:v1.5.0", "f": FORECASTLE},
        {("reloader", "1.5.0"): ("Eligible", "Stakater"), ("forecastle", "2.0.1"): ("Eligible", None)},
        "Eligible",
        conditions={"VersionsSupported": ("True", "MatrixBehind")},
    ),
    "community-under-enterprise-contract": Row(
        {"r": OK, "f": FORECASTLE},
        {("reloader", "1.4.21"): ("Limited", "Customer"), ("forecastle", "2.0.1"): ("Eligible", None)},
        "Limited",
        spec={"products": [{"name": "reloader", "edition": "Enterprise"}, {"name": "forecastle"}]},
    ),
    "stakater-maintains-versions": Row(
        {"r": EOL, "u": "stakater/reloader:latest"},
        {("reloader", "1.1.0"): ("Eligible", "Stakater"), ("reloader", "Unknown"): ("Eligible", "Stakater")},
        "Eligible",
        spec={"type": "ManagedService", "versionManagement": "Stakater"},
        conditions={"VersionsSupported": ("False", "EndOfLifeVersions")},
    ),
    "product-not-covered": Row(
        {"r": OK, "f": "stakater/forecastle:v1.0.0"},
        {("reloader", "1.4.21"): ("Eligible", None)},
        "Eligible",
        spec={"products": [{"name": "reloader"}]},
        uncovered=["forecastle"],
    ),
    "outside-covered-namespaces": Row(
        {"r": OK}, {("reloader", "1.4.21"): ("Eligible", None)}, "Eligible", elsewhere={"old": EOL}
    ),
    # engagement
    "limited-support": Row(
        {"r": OK, "old": EOL},
        {("reloader", "1.4.21"): ("Eligible", None), ("reloader", "1.1.0"): ("Ineligible", "Customer")},
        "Limited",
    ),
    "agreement-expired": Row(
        {"r": OK},
        {("reloader", "1.4.21"): ("Eligible", None)},
        "Ineligible",
        spec={"agreement": {"orderForm": "OF-1", "expiresOn": day(-1)}},
        conditions={"AgreementInForce": ("False", "Expired")},
    ),
    "agreement-not-yet-effective": Row(
        {"r": OK},
        {("reloader", "1.4.21"): ("Eligible", None)},
        "Ineligible",
        spec={"agreement": {"effectiveFrom": day(2)}},
        conditions={"AgreementInForce": ("False", "NotYetEffective")},
    ),
    "agreement-expiring-premium": Row(
        {"r": OK},
        {("reloader", "1.4.21"): ("Eligible", None)},
        "Eligible",
        spec={"plan": "Premium", "agreement": {"expiresOn": day(20)}},
        conditions={"AgreementInForce": ("True", "ExpiresSoon")},
    ),
    "nothing-found": Row({"web": "nginx:1.27"}, {}, "Eligible"),
}


def verdicts(status: dict[str, Any]) -> dict[str, Any]:
    """What a row checks, from the operator's status or from ``check``'s JSON (same field names)."""
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])}
    return {
        "eligibility": status.get("eligibility"),
        "products": {
            (p["product"], p["version"]): (p.get("eligibility"), p.get("actionOwner"))
            for p in status.get("products", [])
        },
        "uncovered": sorted(p["product"] for p in status.get("uncoveredProducts", [])),
        "conditions": conditions,
    }


def expected(row: Row) -> dict[str, Any]:
    return {"eligibility": row.engagement, "products": row.products, "uncovered": sorted(row.uncovered)}


@pytest.fixture(scope="module")
def matrices(kubectl: Kubectl) -> Iterator[dict[str, dict[str, Any]]]:
    suffix = TODAY.strftime("%j") + str(id(kubectl) % 10000)
    bodies: dict[str, dict[str, Any]] = {}
    for platform, (low, high) in {"any": (None, None), "1.21-": ("1.21", None), "-1.19": (None, "1.19")}.items():
        name = f"rules-{suffix}-{platform.replace('.', '').replace('-', 'x')}"
        body = matrix(name, kubernetes_min=low, kubernetes_max=high)
        reloader = body["spec"]["products"][0]
        reloader["recognition"]["images"].append(
            {"repository": "stakater/reloader-enterprise", "edition": "Enterprise"}
        )
        kubectl.apply(body)
        bodies[platform] = body
    yield bodies
    for body in bodies.values():
        kubectl.run("delete", "compatibilitymatrix", body["metadata"]["name"], "--wait=false", check=False)


def run_check(tmp_path: Path, objects: list[dict[str, Any]], se: dict[str, Any], cmx: dict[str, Any], kube: str) -> Any:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "all.yaml").write_text(yaml.safe_dump_all(objects))
    (tmp_path / "se.yaml").write_text(yaml.safe_dump(se))
    (tmp_path / "cmx.yaml").write_text(yaml.safe_dump(cmx))
    args = ["-f", str(tmp_path / "manifests"), "--engagement", str(tmp_path / "se.yaml")]
    args += ["--matrix", str(tmp_path / "cmx.yaml"), "--kubernetes-version", kube, "-o", "json"]
    out = subprocess.run(
        [sys.executable, "-m", "eligibility_operator.cli", "check", *args], capture_output=True, text=True, check=False
    )
    assert out.returncode in (0, 1, 3), out.stderr
    return json.loads(out.stdout), out.returncode


@pytest.mark.parametrize("name", list(ROWS))
def test_rule(
    name: str,
    kubectl: Kubectl,
    namespace: str,
    operator: OperatorProcess,
    matrices: dict[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    row = ROWS[name]
    cmx = matrices[row.platform]
    objects = [workload(namespace, w, image) for w, image in row.images.items()]
    other = f"{namespace}-x"
    if row.elsewhere:
        kubectl.run("create", "namespace", other)
        objects += [workload(other, w, image) for w, image in row.elsewhere.items()]
    se = engagement(namespace, matrixRef={"name": cmx["metadata"]["name"]}, **row.spec)
    try:
        kubectl.apply(*objects, se)
        want = expected(row)

        def operator_status() -> dict[str, Any] | None:
            status = kubectl.get("se", "contract", "-n", namespace).get("status") or {}
            got = verdicts(status)
            return status if {k: got[k] for k in want} == want else None

        status = wait_for(operator_status, what=f"{name}: {want}")
        got = verdicts(status)
        for type_, condition in row.conditions.items():
            assert got["conditions"][type_] == condition, status["conditions"]
        assert got["conditions"]["Eligible"] == ("True" if row.engagement == "Eligible" else "False", row.engagement)

        kube = json.loads(kubectl.run("get", "--raw", "/version").stdout)["gitVersion"]
        doc, code = run_check(tmp_path, objects, se, cmx, kube)
        from_check = verdicts(doc)
        assert {k: from_check[k] for k in want} == want
        assert from_check["conditions"] == got["conditions"]
        assert code == {"Eligible": 0, "Limited": 1, "Ineligible": 3}[row.engagement]
    finally:
        if row.elsewhere:
            kubectl.run("delete", "deployments", "--all", "-n", other, "--wait=false", check=False)
            kubectl.run("delete", "namespace", other, "--wait=false", check=False)


def test_rule_engagement_unknown(
    kubectl: Kubectl,
    namespace: str,
    operator: OperatorProcess,
    matrices: dict[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    """The table's last engagement row: a spec that cannot be evaluated is ``Unknown`` with ``Ready=False``
    in the cluster, and ``check`` refuses it (exit 4) with the same message instead of a verdict."""
    cmx = matrices["any"]
    objects = [workload(namespace, "r", EOL)]
    se = engagement(namespace, matrixRef={"name": cmx["metadata"]["name"]}, products=[{"name": "relaoder"}])
    kubectl.apply(*objects, se)

    def not_ready() -> dict[str, Any] | None:
        status = kubectl.get("se", "contract", "-n", namespace).get("status") or {}
        return status if status.get("eligibility") == "Unknown" else None

    status = wait_for(not_ready, what="eligibility Unknown")
    got = verdicts(status)
    assert got["conditions"]["Ready"] == ("False", "InvalidSpec")
    assert got["products"] == {}  # nothing is judged, so nothing is called end of life
    message = next(c["message"] for c in status["conditions"] if c["type"] == "Ready")
    assert "spec.products[0].name: 'relaoder'" in message

    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all(objects))
    (tmp_path / "se.yaml").write_text(yaml.safe_dump(se))
    (tmp_path / "cmx.yaml").write_text(yaml.safe_dump(cmx))
    args = ["-f", str(tmp_path / "all.yaml"), "--engagement", str(tmp_path / "se.yaml")]
    args += ["--matrix", str(tmp_path / "cmx.yaml")]
    out = subprocess.run(
        [sys.executable, "-m", "eligibility_operator.cli", "check", *args], capture_output=True, text=True, check=False
    )
    assert out.returncode == 4, (out.stdout, out.stderr)
    assert "spec.products[0].name: 'relaoder'" in out.stdout + out.stderr


def test_newer_than_the_shipped_default_matrix_keeps_the_engagement_eligible(
    kubectl: Kubectl, namespace: str, operator: OperatorProcess, tmp_path: Path
) -> None:
    """Issue 22 against the default matrix as shipped: a Reloader one minor line newer than its newest line
    (v1.5.0 today) was Ineligible "customer action"; now the engagement stays Eligible, the version is
    Unknown with owner Stakater ("matrix behind"), and the operator exports it for Stakater's alert."""
    lines = [parse_version(r["version"]) for r in default_matrix()["spec"]["products"][0]["releases"]]
    newest = max((v for v in lines if v is not None), key=lambda v: v.core)
    version = f"{newest.major}.{newest.minor + 1}.0"
    objects = [workload(namespace, "reloader", f"ghcr.io/stakater/reloader:v{version}")]
    se = engagement(namespace)  # the matrix named default, as shipped
    kubectl.apply(*objects, se)

    def evaluated() -> dict[str, Any] | None:
        status = kubectl.get("se", "contract", "-n", namespace).get("status") or {}
        return status if status.get("products") else None

    status = wait_for(evaluated, what="the engagement evaluated")
    assert status["eligibility"] == "Eligible", status["reason"]
    [product] = status["products"]
    assert (product["version"], product["lifecycle"], product["eligibility"], product["actionOwner"]) == (
        version,
        "Unknown",
        "Eligible",
        "Stakater",
    )
    assert product["matrixBehind"] is True
    assert product["reason"].startswith(f"matrix behind: reloader {version} is not listed yet")
    conditions = {c["type"]: c for c in status["conditions"]}
    assert (conditions["Eligible"]["status"], conditions["Eligible"]["reason"]) == ("True", "Eligible")
    assert (
        f"Stakater action item: list reloader {version} in the CompatibilityMatrix"
        in (conditions["Eligible"]["message"])
    )
    assert (conditions["VersionsSupported"]["status"], conditions["VersionsSupported"]["reason"]) == (
        "True",
        "MatrixBehind",
    )
    assert status["productsOutOfSupport"] == 0

    def exported() -> str | None:
        with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        line = (
            f'stakater_support_product_not_in_matrix{{edition="Community",engagement="contract",'
            f'namespace="{namespace}",product="reloader",version="{version}"}} 1.0'
        )
        return text if line in text else None

    text = wait_for(exported, what="the matrix-behind series")
    # not a product finding (the test cluster's Kubernetes 1.20 is an unmaintained platform: that one is)
    assert not re.search(rf'stakater_support_engagement_findings\{{[^}}]*kind="product",namespace="{namespace}"', text)

    # check, offline over the same objects and the shipped matrix, agrees (exit 0: Eligible)
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all(objects))
    (tmp_path / "se.yaml").write_text(yaml.safe_dump(se))
    args = ["-f", str(tmp_path / "all.yaml"), "--engagement", str(tmp_path / "se.yaml"), "-o", "json"]
    out = subprocess.run(
        [sys.executable, "-m", "eligibility_operator.cli", "check", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert verdicts(json.loads(out.stdout))["products"] == {("reloader", version): ("Eligible", "Stakater")}

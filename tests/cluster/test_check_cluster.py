"""``check --cluster`` against the real API server: a live scan gives the verdict the offline check of
the same objects gives; only ``list`` is needed; a missing permission, an unreachable server, an
unknown context and refused credentials are exit 4 with the reason; several contexts make one table."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from eligibility_operator.cli import main
from eligibility_operator.core.products.workloads import WATCHED_RESOURCES
from eligibility_operator.matrix_source import digest_of

from ..builders import engagement, matrix, workload
from ..conftest import Kubectl
from ..matrix_servers import https_server, serving_cert


def check(*args: str) -> Any:
    return CliRunner().invoke(main, ["check", *args], catch_exceptions=False)


def objects(namespace: str) -> list[dict[str, Any]]:
    return [
        workload(namespace, "reloader-old", "ghcr.io/stakater/reloader:v1.0.0"),  # default matrix: end of life
        workload(namespace, "reloader", "ghcr.io/stakater/reloader:v1.4.21"),
        workload(namespace, "forecastle", "stakater/forecastle:latest", kind="StatefulSet"),
    ]


def kubeconfig_with(base: Path, tmp_path: Path, contexts: dict[str, dict[str, Any]]) -> Path:
    """A kubeconfig whose contexts are ``name -> {server?, token?}`` over the base cluster and admin."""
    doc = yaml.safe_load(base.read_text())
    cluster, user = doc["clusters"][0], doc["users"][0]
    doc["clusters"], doc["users"], doc["contexts"] = [], [], []
    for name, change in contexts.items():
        doc["clusters"].append({"name": name, "cluster": {**cluster["cluster"], **change.get("cluster", {})}})
        doc["users"].append({"name": name, "user": change.get("user", user["user"])})
        doc["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
    doc["current-context"] = next(iter(contexts))
    path = tmp_path / f"kubeconfig-{uuid.uuid4().hex[:6]}"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_live_scan_equals_the_offline_check(kubectl: Kubectl, kubeconfig: Path, namespace: str, tmp_path: Path) -> None:
    docs = objects(namespace)
    kubectl.apply(*docs)
    manifests = tmp_path / "objects.yaml"
    manifests.write_text("---\n".join(yaml.safe_dump(d) for d in docs))
    contract = engagement(namespace)
    contract_file = tmp_path / "engagement.yaml"
    contract_file.write_text(yaml.safe_dump(contract))
    version = json.loads(kubectl.run("version", "-o", "json").stdout)["serverVersion"]["gitVersion"]
    offline = check(
        "-f", str(manifests), "--engagement", str(contract_file), "--kubernetes-version", version, "-o", "json"
    )
    live = check("--cluster", "--kubeconfig", str(kubeconfig), "--engagement", str(contract_file), "-o", "json")
    assert offline.exit_code == live.exit_code == 1, (offline.output, live.output)  # Limited
    want, [got] = json.loads(offline.stdout), json.loads(live.stdout)
    assert got["cluster"] == "local"
    for key in ("eligibility", "reason", "products", "uncoveredProducts", "conditions", "platform"):
        assert got[key] == want[key], key
    codes = sorted(code for p in got["products"] for code in p.get("codes", []))
    assert codes == ["EO101", "EO106"]

    # the engagements found in the cluster: the same verdict
    kubectl.apply(contract)
    found = check("--cluster", "--kubeconfig", str(kubeconfig), "--engagements-from-cluster", "-o", "json")
    ours = [v for v in json.loads(found.stdout) if v["engagementRef"] == f"{namespace}/contract"]
    assert len(ours) == 1 and ours[0]["products"] == want["products"]

    # and every output format; SARIF has no file to point at, only the logical location
    sarif = check("--cluster", "--kubeconfig", str(kubeconfig), "--engagement", str(contract_file), "-o", "sarif")
    assert sarif.exit_code == 1
    results = json.loads(sarif.stdout)["runs"][0]["results"]
    eol = next(r for r in results if r["ruleId"] == "EO101")
    assert eol["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == f"{namespace}/Deployment/reloader-old"
    junit = check("--cluster", "--kubeconfig", str(kubeconfig), "--engagement", str(contract_file), "-o", "junit")
    assert junit.exit_code == 1 and 'failures="2"' in junit.stdout


def test_engagements_from_the_cluster_are_judged_by_the_matrix_they_name(
    kubectl: Kubectl, kubeconfig: Path, namespace: str, tmp_path: Path
) -> None:
    """As the operator: an inline matrix, a fetched and verified one, a missing one (no verdict for that
    engagement alone); --matrix judges every engagement against the one given."""
    docs = objects(namespace)
    kubectl.apply(*docs)
    manifests = tmp_path / "objects.yaml"
    manifests.write_text("---\n".join(yaml.safe_dump(d) for d in docs))
    suffix = namespace[-8:]
    inline = matrix(f"inline-{suffix}")
    inline["spec"]["products"] = [p for p in inline["spec"]["products"] if p["name"] != "reloader"]
    fetched = matrix(f"fetched-{suffix}")
    document = yaml.safe_dump(fetched).encode()
    with https_server(serving_cert(tmp_path / "cert")) as server:
        server.files["/matrix.yaml"] = document
        sourced = {
            "apiVersion": fetched["apiVersion"],
            "kind": "CompatibilityMatrix",
            "metadata": {"name": f"sourced-{suffix}"},
            "spec": {
                "source": {"url": server.url("/matrix.yaml"), "digest": digest_of(document), "caBundle": server.ca_pem}
            },
        }
        kubectl.apply(inline, sourced)
        try:
            kubectl.apply(
                engagement(namespace, "by-inline", matrixRef={"name": inline["metadata"]["name"]}),
                engagement(namespace, "by-source", matrixRef={"name": sourced["metadata"]["name"]}),
                engagement(namespace, "by-missing", matrixRef={"name": f"missing-{suffix}"}),
                engagement(namespace, "by-default"),
            )
            found = check("--cluster", "--kubeconfig", str(kubeconfig), "--engagements-from-cluster", "-o", "json")
            given = check(
                "--cluster", "--kubeconfig", str(kubeconfig), "--engagements-from-cluster", "--matrix",
                str(_write(tmp_path / "given.yaml", inline)), "-o", "json",
            )  # fmt: skip
        finally:
            kubectl.run("delete", "compatibilitymatrix", inline["metadata"]["name"], sourced["metadata"]["name"])
    assert server.hits.get("/matrix.yaml") == 1  # once, however many engagements name it
    ours = {
        v["engagementRef"].split("/")[1]: v
        for v in json.loads(found.stdout)
        if v["engagementRef"].startswith(f"{namespace}/")
    }
    assert found.exit_code == 4  # an engagement without a verdict

    def offline(matrix_doc: dict[str, Any] | None, name: str) -> Any:
        contract = engagement(namespace, name, matrixRef={"name": "any"})
        args = ["-f", str(manifests), "--engagement", str(_write(tmp_path / f"{name}.yaml", contract)), "-o", "json"]
        if matrix_doc is not None:
            args += ["--matrix", str(_write(tmp_path / f"{name}-matrix.yaml", matrix_doc))]
        version = json.loads(kubectl.run("version", "-o", "json").stdout)["serverVersion"]["gitVersion"]
        return json.loads(check(*args, "--kubernetes-version", version).stdout)

    for name, doc in (("by-inline", inline), ("by-source", fetched), ("by-default", None)):
        want = offline(doc, name)
        assert ours[name]["products"] == want["products"], name
        assert ours[name]["eligibility"] == want["eligibility"], name
    assert not any(p["product"] == "reloader" for p in ours["by-inline"]["products"])  # that matrix lacks it
    assert any(p["product"] == "reloader" for p in ours["by-source"]["products"])
    missing = ours["by-missing"]
    assert missing["eligibility"] == "Unknown" and missing["products"] == []
    assert any(f"CompatibilityMatrix 'missing-{suffix}' not found" in e["error"] for e in missing["errors"])

    # --matrix: every engagement against the one given, the missing matrix's included
    judged = {
        v["engagementRef"].split("/")[1]: v
        for v in json.loads(given.stdout)
        if v["engagementRef"].startswith(f"{namespace}/")
    }
    assert {name: v["products"] for name, v in judged.items()} == {
        name: ours["by-inline"]["products"] for name in judged
    }
    assert not judged["by-missing"]["errors"]


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def test_several_contexts_make_one_table(kubectl: Kubectl, kubeconfig: Path, namespace: str, tmp_path: Path) -> None:
    kubectl.apply(*objects(namespace))
    config = kubeconfig_with(kubeconfig, tmp_path, {"east": {}, "west": {}})
    result = check("--cluster", "--kubeconfig", str(config), "--context", "east", "--context", "west")
    assert result.exit_code == 1, result.output  # no engagement: every namespace; end of life next to current
    table, verdicts = result.stdout.split("\n\n", 1)
    header, *rows = table.splitlines()
    assert header.split()[:2] == ["CLUSTER", "ENGAGEMENT"]
    assert [line.split(":")[0] for line in verdicts.splitlines()] == ["east", "west"]
    eol = [r.split()[0] for r in rows if "reloader" in r and "1.0.0" in r]
    assert eol == ["east", "west"]


def token_for(kubectl: Kubectl, namespace: str, rules: list[dict[str, Any]]) -> str:
    name = f"scanner-{namespace}"
    kubectl.apply(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "scanner", "namespace": namespace}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": "scanner", "namespace": namespace}],
        },
    )
    return kubectl.run("create", "token", "scanner", "-n", namespace).stdout.strip()


WATCHED = [
    {"apiGroups": [group], "resources": [plural], "verbs": ["list"]} for group, _, plural, _ in WATCHED_RESOURCES
]


def test_list_on_what_the_operator_watches_is_enough(
    kubectl: Kubectl, kubeconfig: Path, namespace: str, tmp_path: Path
) -> None:
    kubectl.apply(*objects(namespace))
    rules = [*WATCHED, {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}]
    token = token_for(kubectl, namespace, rules)
    config = kubeconfig_with(kubeconfig, tmp_path, {"scanner": {"user": {"token": token}}})
    result = check("--cluster", "--kubeconfig", str(config), "-o", "json")
    assert result.exit_code == 1, result.output
    products = json.loads(result.stdout)[0]["products"]
    assert any(f"{namespace}/Deployment/reloader-old" in p["workloads"] for p in products)
    # the engagements in the cluster: list on them; on the matrices too, unless --matrix names one for all
    kubectl.apply(engagement(namespace))
    token = token_for(
        kubectl,
        namespace,
        [*rules, {"apiGroups": ["support.stakater.com"], "resources": ["supportengagements"], "verbs": ["list"]}],
    )
    config = kubeconfig_with(kubeconfig, tmp_path, {"scanner": {"user": {"token": token}}})
    given = tmp_path / "matrix.yaml"
    given.write_text(yaml.safe_dump(matrix("given")))
    found = check(
        "--cluster", "--kubeconfig", str(config), "--engagements-from-cluster", "--matrix", str(given), "-o", "json"
    )
    assert any(v["engagementRef"] == f"{namespace}/contract" for v in json.loads(found.stdout)), found.output
    without = check("--cluster", "--kubeconfig", str(config), "--engagements-from-cluster")
    assert without.exit_code == 4
    assert "missing permission: list compatibilitymatrices.support.stakater.com" in without.stderr
    kubectl.run("delete", "clusterrolebinding", f"scanner-{namespace}", check=False)


def test_a_missing_permission_is_named(kubectl: Kubectl, kubeconfig: Path, namespace: str, tmp_path: Path) -> None:
    rules = [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}]  # no workloads
    token = token_for(kubectl, namespace, rules)
    config = kubeconfig_with(kubeconfig, tmp_path, {"scanner": {"user": {"token": token}}})
    report = tmp_path / "report.sarif"
    result = check("--cluster", "--kubeconfig", str(config), "-o", "sarif", "--output-file", str(report))
    assert result.exit_code == 4
    assert "missing permission: list deployments.apps (cluster-wide)" in result.stderr
    assert not report.exists() and result.stdout == ""
    kubectl.run("delete", "clusterrolebinding", f"scanner-{namespace}", check=False)


def test_unreachable_unknown_context_and_refused_credentials(kubeconfig: Path, tmp_path: Path) -> None:
    config = kubeconfig_with(
        kubeconfig,
        tmp_path,
        {
            "gone": {"cluster": {"server": "https://127.0.0.1:1"}},
            "expired": {"user": {"token": base64.b64encode(b"not-a-token").decode()}},
        },
    )
    gone = check("--cluster", "--kubeconfig", str(config), "--context", "gone")
    assert gone.exit_code == 4 and "context 'gone' (https://127.0.0.1:1): cannot reach the API server" in gone.stderr
    expired = check("--cluster", "--kubeconfig", str(config), "--context", "expired")
    assert expired.exit_code == 4 and "credentials refused (HTTP 401" in expired.stderr
    unknown = check("--cluster", "--kubeconfig", str(config), "--context", "nope", "-o", "json")
    assert (
        unknown.exit_code == 4 and "context 'nope' is not in the kubeconfig (contexts: gone, expired)" in unknown.stderr
    )
    assert unknown.stdout == ""

"""The offline ``check``: reading manifests, evaluating them, and the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from eligibility_operator.api.models import Eligibility, Lifecycle, SupportEngagementSpec
from eligibility_operator.cli import main
from eligibility_operator.offline.check import (
    EXIT_INPUT_ERROR,
    CheckResult,
    InputError,
    Problem,
    check,
    load_engagement,
    load_matrix_file,
    read_manifests,
    render_json,
    render_table,
)
from eligibility_operator.offline.files import Manifests

from ..builders import TODAY, default_compiled, engagement_spec
from ..builders import manifest as workload

MATRIX = default_compiled()

HELM_RELOADER = """\
---
# Source: reloader/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: reloader-reloader
  namespace: tools
---
# Source: reloader/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app: reloader-reloader
    app.kubernetes.io/name: reloader
    app.kubernetes.io/version: "v1.4.21"
    helm.sh/chart: reloader-2.2.16
  name: reloader-reloader
  namespace: tools
spec:
  selector:
    matchLabels:
      app: reloader-reloader
  template:
    metadata:
      labels:
        app: reloader-reloader
    spec:
      containers:
      - name: reloader-reloader
        image: "ghcr.io/stakater/reloader:v1.4.21"
--- # Source: reloader/templates/empty.yaml
# this template rendered nothing
"""


def dump(*docs: dict[str, Any]) -> str:
    return "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)


def spec(**overrides: Any) -> SupportEngagementSpec:
    return SupportEngagementSpec.model_validate(engagement_spec(**overrides))


def engagement_file(tmp_path: Path, **overrides: Any) -> Path:
    path = tmp_path / "engagement.yaml"
    doc = {
        "apiVersion": "support.stakater.com/v1alpha1",
        "kind": "SupportEngagement",
        "metadata": {"name": "acme", "namespace": "support"},
        "spec": engagement_spec(**overrides),
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def manifests_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "manifests"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# ---------------------------------------------------------------- read_manifests


def names(out: Manifests) -> list[str]:
    return [found.facts.name for found in out.workloads]


def test_helm_output_with_source_comments(tmp_path: Path) -> None:
    root = manifests_dir(tmp_path, {"reloader.yaml": HELM_RELOADER})
    out = read_manifests([root])
    assert out.problems == []
    assert [(f.facts.kind, f.facts.name) for f in out.workloads] == [("Deployment", "reloader-reloader")]
    assert out.objects == 2  # the ServiceAccount is read, it is not a workload
    assert out.documents == 2  # a chunk of comments only (Helm's empty templates) is not a document


def test_kind_list_and_typed_lists_are_flattened(tmp_path: Path) -> None:
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [workload("stakater/reloader:v1.4.21", name="a"), workload("nginx", name="b")],
    }
    typed = {"apiVersion": "apps/v1", "kind": "DeploymentList", "items": [workload("stakater/forecastle:v2.0.1")]}
    root = manifests_dir(tmp_path, {"list.yaml": dump(listing, typed)})
    out = read_manifests([root])
    assert out.problems == []
    assert names(out) == ["a", "b", "app"]
    assert out.documents == 2


def test_json_file(tmp_path: Path) -> None:
    doc = workload("ghcr.io/stakater/ingressmonitorcontroller:v2.2.12", name="imc", namespace="monitoring")
    root = manifests_dir(tmp_path, {"imc.json": json.dumps(doc, indent=2), "tabs.json": json.dumps(doc, indent="\t")})
    out = read_manifests([root])
    assert out.problems == []
    assert names(out) == ["imc", "imc"]


def test_malformed_document_is_reported_and_others_are_read(tmp_path: Path) -> None:
    text = dump(workload("stakater/reloader:v1.4.21", name="first")) + "---\napiVersion: v1\nkind: [unclosed\n---\n"
    text += dump(workload("stakater/forecastle:v2.0.1", name="third"))
    root = manifests_dir(tmp_path, {"mixed.yaml": text})
    out = read_manifests([root])
    assert names(out) == ["first", "third"]
    assert len(out.problems) == 1
    problem = out.problems[0]
    assert problem.file == str(root / "mixed.yaml")
    assert problem.document == 2
    assert problem.error.startswith("invalid YAML at line ")


def test_document_numbers_of_a_file_starting_with_separator(tmp_path: Path) -> None:
    root = manifests_dir(tmp_path, {"bad.yaml": "---\napiVersion: v1\nkind: [unclosed\n---\n" + dump(workload("x"))})
    out = read_manifests([root])
    assert [p.document for p in out.problems] == [1]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("- a\n- b\n", "not a Kubernetes object (a list)"),
        ("just a string\n", "not a Kubernetes object (a str)"),
        ("42\n", "not a Kubernetes object (a int)"),
        ("kind: Deployment\n", "not a Kubernetes object (no apiVersion and kind)"),
    ],
)
def test_non_object_document_is_skipped(tmp_path: Path, text: str, error: str) -> None:
    root = manifests_dir(tmp_path, {"odd.yaml": dump(workload("x", name="ok")) + "---\n" + text})
    out = read_manifests([root])
    assert out.problems == []
    assert [(s.document, s.reason) for s in out.skipped] == [(2, error)]
    assert names(out) == ["ok"]


def test_non_object_list_item_is_reported_with_its_document(tmp_path: Path) -> None:
    root = manifests_dir(
        tmp_path, {"l.yaml": dump({"apiVersion": "v1", "kind": "List", "items": [workload("x"), "oops"]})}
    )
    out = read_manifests([root])
    assert [(p.document, p.error) for p in out.problems] == [(1, "not a Kubernetes object (a str)")]
    assert len(out.workloads) == 1


def test_namespaces_are_collected_for_their_labels(tmp_path: Path) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tools", "labels": {"env": "prod", "n": 1}}}
    bare = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bare"}}
    root = manifests_dir(tmp_path, {"ns.yaml": dump(ns, bare)})
    out = read_manifests([root])
    assert out.namespace_labels == {"tools": {"env": "prod", "n": "1"}, "bare": {}}
    assert out.workloads == []


def test_only_manifest_suffixes_are_read_and_directories_recursed(tmp_path: Path) -> None:
    root = manifests_dir(
        tmp_path,
        {
            "README.md": "kind: [not yaml",
            "notes.txt": ": : :",
            "a/b/deep.YML": dump(workload("x", name="deep")),
            "top.yaml": dump(workload("x", name="top")),
        },
    )
    out = read_manifests([root])
    assert out.problems == []
    assert sorted(names(out)) == ["deep", "top"]


def test_explicit_file_is_read_whatever_its_suffix(tmp_path: Path) -> None:
    path = tmp_path / "rendered.out"
    path.write_text(dump(workload("x", name="explicit")))
    assert names(read_manifests([path])) == ["explicit"]


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    out = read_manifests([missing])
    assert len(out.problems) == 1
    assert (out.problems[0].file, out.problems[0].document) == (str(missing), 0)
    assert out.problems[0].error.startswith("cannot read: ")


def test_empty_and_comment_only_files(tmp_path: Path) -> None:
    root = manifests_dir(tmp_path, {"empty.yaml": "", "comments.yaml": "# nothing\n---\n---\n"})
    out = read_manifests([root])
    assert out.problems == []
    assert out.workloads == []


# ------------------------------------------------------------------------ check


def test_check_helm_output(tmp_path: Path) -> None:
    root = manifests_dir(tmp_path, {"reloader.yaml": HELM_RELOADER})
    result = check([root], spec(), MATRIX, today=TODAY)
    assert result.workloads == 1  # the ServiceAccount is not a workload
    assert result.status.eligibility == Eligibility.ELIGIBLE
    assert [(p.product, p.version, p.lifecycle, p.workloads) for p in result.status.products] == [
        ("reloader", "1.4.21", Lifecycle.SUPPORTED, ["tools/Deployment/reloader-reloader"])
    ]
    assert result.exit_code == 0


def test_check_namespace_defaults_when_missing(tmp_path: Path) -> None:
    root = manifests_dir(tmp_path, {"r.yaml": dump(workload("stakater/reloader:v1.4.21", name="r", namespace=None))})
    result = check([root], spec(), MATRIX, today=TODAY)
    assert result.status.products[0].workloads == ["default/Deployment/r"]


def test_check_skips_non_workload_kinds(tmp_path: Path) -> None:
    docs = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "reloader"}},
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"containers": [{"image": "stakater/reloader:v1.0.0"}]},
        },
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}},
    ]
    root = manifests_dir(tmp_path, {"misc.yaml": dump(*docs)})
    result = check([root], spec(), MATRIX, today=TODAY)
    assert (result.documents, result.workloads) == (3, 0)
    assert result.status.products == []
    assert result.problems == []
    assert result.exit_code == 0


def test_check_coverage_uses_namespace_documents(tmp_path: Path) -> None:
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "labels": {"env": "prod"}}},
        workload("stakater/reloader:v1.0.0", namespace="legacy"),  # end of life, not covered
        workload("stakater/reloader:v1.4.21", namespace="prod"),
    ]
    root = manifests_dir(tmp_path, {"all.yaml": dump(*docs)})
    covered = spec(coverage={"namespaceSelector": {"matchLabels": {"env": "prod"}}})
    result = check([root], covered, MATRIX, today=TODAY)
    assert result.status.eligibility == Eligibility.ELIGIBLE
    assert result.workloads == 2
    assert [p.workloads for p in result.status.products] == [["prod/Deployment/app"]]
    everything = check([root], spec(), MATRIX, today=TODAY)
    assert everything.status.eligibility == Eligibility.LIMITED  # one end-of-life version beside a supported one


def test_check_refuses_an_invalid_engagement(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"spec.products\[0\].name: 'tronador' is not in CompatibilityMatrix"):
        check([tmp_path], spec(products=[{"name": "tronador"}]), MATRIX, today=TODAY)


@pytest.mark.parametrize(
    ("eligibility", "problems", "code"),
    [
        (Eligibility.ELIGIBLE, [], 0),
        (Eligibility.LIMITED, [], 1),
        (Eligibility.INELIGIBLE, [], 3),
        (Eligibility.UNKNOWN, [], EXIT_INPUT_ERROR),
        (Eligibility.ELIGIBLE, [Problem("f.yaml", 2, "invalid YAML")], EXIT_INPUT_ERROR),
    ],
)
def test_exit_codes(eligibility: Eligibility, problems: list[Problem], code: int) -> None:
    from eligibility_operator.api.models import SupportEngagementStatus

    result = CheckResult(SupportEngagementStatus(eligibility=eligibility), problems, documents=1, workloads=1)
    assert result.exit_code == code


def test_render_table_and_json(tmp_path: Path) -> None:
    # no leading '---' here: see test_document_numbers_of_a_file_starting_with_separator
    root = manifests_dir(tmp_path, {"r.yaml": HELM_RELOADER.removeprefix("---\n") + "---\napiVersion: v1\nkind: [\n"})
    result = check([root], spec(), MATRIX, today=TODAY)
    table = render_table(result)
    assert "reloader" in table.splitlines()[1]
    assert "Eligibility: Eligible (all covered product versions are eligible)" in table
    assert "Service credits: do not apply (the commercial agreement does not define service credits)" in table
    assert "Support terms: Standard, 8x5 business hours (Monday to Friday, excluding public holidays)" in table
    assert "First-response targets: P1 8 business hours, P2 12 business hours" in table
    assert "Responsibilities of Customer: " in table
    assert "Needs a separate agreement: New capabilities" in table
    assert f"error: {root / 'r.yaml'}: document 4: invalid YAML" in table
    doc = json.loads(render_json(result))
    assert doc["errors"][0]["document"] == 4
    assert (doc["documents"], doc["workloads"]) == (3, 1)


# -------------------------------------------------------------- input files


def test_load_engagement_errors(tmp_path: Path) -> None:
    wrong_kind = tmp_path / "wrong.yaml"
    wrong_kind.write_text(dump(workload("x")))
    with pytest.raises(InputError, match="expected a SupportEngagement"):
        load_engagement(wrong_kind)
    invalid = engagement_file(tmp_path, plan="Gold")
    with pytest.raises(InputError, match=r"invalid SupportEngagement: spec\.plan:"):
        load_engagement(invalid)
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [")
    with pytest.raises(InputError, match="cannot read the engagement"):
        load_engagement(broken)


def test_load_matrix_file(tmp_path: Path) -> None:
    assert sorted(load_matrix_file(None).products) == sorted(MATRIX.products)
    bad = tmp_path / "matrix.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "kind": "CompatibilityMatrix",
                "metadata": {"name": "bad"},
                "spec": {
                    "products": [
                        {
                            "name": "x",
                            "releases": [
                                {"version": "1.4", "released": "2025-01-01"},
                                {"version": "1.4.2", "released": "2025-01-01"},
                            ],
                        }
                    ]
                },
            }
        )
    )
    with pytest.raises(InputError, match=r"invalid CompatibilityMatrix: product 'x': releases 1.4 and 1.4.2 overlap"):
        load_matrix_file(bad)


# --------------------------------------------------------------------- the CLI


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["check", *args], catch_exceptions=False)


def test_cli_counts_read_as_english_for_one_file(tmp_path: Path) -> None:
    root = manifests_dir(tmp_path, {"values.yaml": "replicaCount: 1\n"})
    result = cli("-f", str(root), "--engagement", str(engagement_file(tmp_path)))
    assert result.exit_code == 4  # a values file alone: nothing to check
    assert "Read 1 document, 0 workloads." in result.stdout
    assert "Skipped 1 file or document that is not a Kubernetes object; --strict" in result.stdout
    assert "nothing to check: no Kubernetes object in 1 file read" in result.stdout


def test_cli_eligible_json(tmp_path: Path) -> None:
    root = manifests_dir(tmp_path, {"reloader.yaml": HELM_RELOADER})
    result = cli("-f", str(root), "--engagement", str(engagement_file(tmp_path)), "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["eligibility"] == "Eligible"
    assert doc["products"] == [
        {
            "product": "reloader",
            "edition": "Community",
            "version": "1.4.21",
            "lifecycle": "Supported",
            "recommendedVersion": "1.4.21",
            "eligibility": "Eligible",
            "reason": "release line 1.4 is supported",
            "versionSource": "image tag",
            "workloads": ["tools/Deployment/reloader-reloader"],
            "workloadCount": 1,
        }
    ]
    assert doc["serviceCredits"] == {
        "applicable": False,
        "reason": "the commercial agreement does not define service credits",
    }
    assert [t["severity"] for t in doc["responseTargets"]] == ["P1", "P2", "P3", "P4"]
    assert doc["supportTerms"]["channels"] == ["Support portal"]
    assert len(doc["responsibilities"]) == 13
    assert set(doc["scope"]) == {"included", "excluded", "separateAgreement"}
    assert doc["agreement"]["inForce"] is True
    assert doc["errors"] == []
    assert (doc["documents"], doc["workloads"]) == (2, 1)


def test_cli_eligible_for_a_version_newer_than_the_matrix(tmp_path: Path) -> None:
    """Upgrading is never punished: 9.0.0 is newer than the matrix lists (Stakater's item), exit 0."""
    files = {"r.yaml": dump(workload("ghcr.io/stakater/reloader:v9.0.0", namespace="tools")), "ok.yaml": HELM_RELOADER}
    root = manifests_dir(tmp_path, files)
    result = cli("-f", str(root), "--engagement", str(engagement_file(tmp_path)), "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["eligibility"] == "Eligible"
    assert [
        (p["product"], p["version"], p["lifecycle"], p["eligibility"], p.get("actionOwner"), p.get("matrixBehind"))
        for p in doc["products"]
    ] == [
        ("reloader", "1.4.21", "Supported", "Eligible", None, None),
        ("reloader", "9.0.0", "Unknown", "Eligible", "Stakater", True),
    ]
    assert "recommendedVersion" not in doc["products"][1]  # never a downgrade
    assert doc["products"][1]["reason"].startswith("matrix behind: reloader 9.0.0 is not listed yet")
    table = cli("-f", str(root), "--engagement", str(engagement_file(tmp_path)))
    assert (
        table.exit_code == 0 and "Stakater action item: list reloader 9.0.0 in the CompatibilityMatrix" in table.stdout
    )


def test_cli_limited_for_unknown_version(tmp_path: Path) -> None:
    files = {"r.yaml": dump(workload("ghcr.io/stakater/reloader:latest", namespace="tools")), "ok.yaml": HELM_RELOADER}
    root = manifests_dir(tmp_path, files)
    result = cli("-f", str(root), "--engagement", str(engagement_file(tmp_path)), "-o", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["eligibility"] == "Limited"
    assert [(p["product"], p["version"], p["lifecycle"], p["eligibility"]) for p in doc["products"]] == [
        ("reloader", "Unknown", "Unknown", "Limited"),
        ("reloader", "1.4.21", "Supported", "Eligible"),
    ]
    assert doc["products"][0]["recommendedVersion"] == "1.4.21"


def test_cli_ineligible_for_platform(tmp_path: Path) -> None:
    root = manifests_dir(tmp_path, {"reloader.yaml": HELM_RELOADER})
    engagement = str(engagement_file(tmp_path))
    result = cli("-f", str(root), "--engagement", engagement, "--kubernetes-version", "1.18.3", "-o", "json")
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout)
    assert doc["platform"]["compatible"] is False
    assert doc["platform"]["kubernetesVersion"] == "1.18.3"
    assert doc["products"][0]["eligibility"] == "Ineligible"


def test_cli_ineligible_for_end_of_life(tmp_path: Path) -> None:
    old = dump(workload("stakater/reloader:v1.0.2", name="old-reloader", namespace="legacy"))
    result = cli("-f", str(manifests_dir(tmp_path, {"old.yaml": old})), "--engagement", str(engagement_file(tmp_path)))
    assert result.exit_code == 3, result.output
    assert "Eligibility: Ineligible (no covered product version is eligible: reloader 1.0.2 (customer action))" in (
        result.stdout
    )


def test_cli_limited_for_end_of_life_beside_a_supported_version(tmp_path: Path) -> None:
    files = {
        "old.yaml": dump(workload("stakater/reloader:v1.0.2", name="old-reloader", namespace="legacy")),
        "ok.yaml": HELM_RELOADER,
    }
    root = manifests_dir(tmp_path, files)
    result = cli("-f", str(root), "--engagement", str(engagement_file(tmp_path)), "-o", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["eligibility"] == "Limited"
    assert doc["reason"] == "Limited Support: reloader 1.0.2 (customer action)"
    entries = {p["version"]: p for p in doc["products"]}
    assert (entries["1.0.2"]["lifecycle"], entries["1.0.2"]["eligibility"]) == ("EndOfLife", "Ineligible")
    assert entries["1.0.2"]["workloads"] == ["legacy/Deployment/old-reloader"]
    assert entries["1.0.2"]["actionOwner"] == "Customer"
    assert (entries["1.4.21"]["lifecycle"], entries["1.4.21"]["eligibility"]) == ("Supported", "Eligible")


def test_cli_input_error_in_manifests(tmp_path: Path) -> None:
    root = manifests_dir(
        tmp_path,
        {"reloader.yaml": HELM_RELOADER, "zz-broken.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: [\n"},
    )
    result = cli("-f", str(root), "--engagement", str(engagement_file(tmp_path)), "-o", "json")
    assert result.exit_code == EXIT_INPUT_ERROR == 4
    doc = json.loads(result.stdout)
    assert doc["eligibility"] == "Eligible"  # the readable documents are still evaluated
    error = doc["errors"][0]["error"]
    assert doc["errors"] == [{"code": "EO401", "file": str(root / "zz-broken.yaml"), "document": 1, "error": error}]
    assert doc["errors"][0]["error"].startswith("invalid YAML")


def test_cli_input_error_in_engagement(tmp_path: Path) -> None:
    root = manifests_dir(tmp_path, {"reloader.yaml": HELM_RELOADER})
    engagement = engagement_file(tmp_path, type="ProductSupport", versionManagement="Stakater")
    result = cli("-f", str(root), "--engagement", str(engagement), "-o", "json")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert "error: invalid SupportEngagement: spec.versionManagement:" in result.stderr


def test_cli_custom_matrix(tmp_path: Path) -> None:
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "support.stakater.com/v1alpha1",
                "kind": "CompatibilityMatrix",
                "metadata": {"name": "pinned"},
                "spec": {
                    "products": [
                        {
                            "name": "reloader",
                            "recognition": {"images": [{"repository": "stakater/reloader"}]},
                            "releases": [{"version": "1.4.21", "released": "2026-08-07"}],
                        }
                    ]
                },
            }
        )
    )
    root = manifests_dir(tmp_path, {"reloader.yaml": HELM_RELOADER})
    engagement = str(engagement_file(tmp_path))
    result = cli("-f", str(root), "--engagement", engagement, "--matrix", str(matrix), "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["products"][0]["reason"] == "release line 1.4.21 is supported"


def test_cli_table_output(tmp_path: Path) -> None:
    root = manifests_dir(tmp_path, {"reloader.yaml": HELM_RELOADER})
    result = cli("-f", str(root), "--engagement", str(engagement_file(tmp_path)))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        *("PRODUCT", "EDITION", "VERSION", "LIFECYCLE", "ELIGIBILITY", "OWNER"),
        *("END", "OF", "SUPPORT", "UPGRADE", "TO", "WORKLOADS"),
    ]
    assert lines[1].split() == [
        *("reloader", "Community", "1.4.21", "Supported", "Eligible", "-", "-", "1.4.21"),
        "tools/Deployment/reloader-reloader",
    ]
    assert "Read 2 documents, 1 workload." in result.stdout


def test_cli_table_tells_editions_of_the_same_version_apart(tmp_path: Path) -> None:
    files = {
        "c.yaml": dump(workload("stakater/reloader:v1.4.16", name="community", namespace="a")),
        "e.yaml": dump(workload("ghcr.io/stakater/reloader-enterprise:v1.4.16", name="enterprise", namespace="b")),
    }
    result = cli("-f", str(manifests_dir(tmp_path, files)), "--engagement", str(engagement_file(tmp_path)))
    rows = [line.split() for line in result.stdout.splitlines()[1:3]]
    assert [row[:3] for row in rows] == [["reloader", "Community", "1.4.16"], ["reloader", "Enterprise", "1.4.16"]]


def test_cli_matrix_with_unparseable_release_is_an_input_error(tmp_path: Path) -> None:
    matrix = tmp_path / "matrix.yaml"
    product = {
        "name": "reloader",
        "recognition": {"images": [{"repository": "stakater/reloader"}]},
        "releases": [{"version": "1.10000000000", "released": "2026-01-01"}],
    }
    matrix.write_text(yaml.safe_dump({"kind": "CompatibilityMatrix", "spec": {"products": [product]}}))
    root = manifests_dir(tmp_path, {"reloader.yaml": HELM_RELOADER})
    args = ["check", "-f", str(root), "--engagement", str(engagement_file(tmp_path)), "--matrix", str(matrix)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 4

"""``check`` in CI pipelines: standard input, no engagement, finding codes, SARIF and JUnit reports,
--output-file, OpenShift from a ClusterVersion, and the documented pipeline snippets."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import click
import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from eligibility_operator.cli import main
from eligibility_operator.core.compat.matrix import load_matrix
from eligibility_operator.core.verdict.findings import RULES, FindingCode
from eligibility_operator.offline.check import check, load_engagement
from eligibility_operator.offline.files import Unreadable, read_stdin
from eligibility_operator.offline.reports import findings_of, render_junit, render_sarif

from ..builders import TODAY, small_matrix_spec
from ..builders import manifest as workload

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "check-ci"
SARIF_SCHEMA = json.loads((REPO / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text())
SMALL = load_matrix("default", 1, small_matrix_spec())


def cli(*args: str, input: str | bytes | None = None) -> Any:
    return CliRunner().invoke(main, ["check", *args], input=input, catch_exceptions=False)


def dump(*docs: dict[str, Any]) -> str:
    return "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)


def golden(name: str, text: str) -> None:
    path = FIXTURES / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs: review, then UPDATE_GOLDEN=1"


# ------------------------------------------------------------------ standard input


def test_stdin_is_read_and_combines_with_files(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(dump(workload("stakater/reloader:v1.4.21", name="from-file")))
    stream = dump(workload("stakater/reloader:v1.4.21", name="from-stdin"))
    result = cli("-f", "-", "-f", str(tmp_path / "b.yaml"), "-o", "json", input=stream)
    assert result.exit_code == 0, result.output
    products = json.loads(result.stdout)["products"]
    assert sorted(products[0]["workloads"]) == ["team-a/Deployment/from-file", "team-a/Deployment/from-stdin"]


@pytest.mark.parametrize(
    "stream",
    [
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: [\n",  # looks like an object
        "this: is: not yaml\n  - [\n",  # does not (a file would skip it; a stream is given on purpose)
        b"\xff\x00\xfe garbage",
        "",  # nothing at all (a failed `helm template` upstream)
    ],
)
def test_a_stream_that_is_not_yaml_gives_no_verdict(stream: str | bytes) -> None:
    result = cli("-f", "-", input=stream)
    assert result.exit_code == 4, result.output
    assert "<stdin>" in result.output or "nothing to check" in result.output


class _Terminal(io.BytesIO):
    def isatty(self) -> bool:
        return True


def test_stdin_is_bounded_like_a_file() -> None:
    assert read_stdin(io.BytesIO(b"x" * 10), limit=10) == b"x" * 10
    with pytest.raises(Unreadable, match="standard input is a terminal"):
        read_stdin(_Terminal(b"x"))
    with pytest.raises(Unreadable, match="larger than"):
        read_stdin(io.BytesIO(b"x" * (2 * 1024 * 1024 + 1)), limit=2 * 1024 * 1024)


# ------------------------------------------------------------------ no engagement


def test_without_engagement_an_end_of_life_product_alone_gives_3() -> None:
    stream = dump(workload("stakater/reloader:v1.0.0", name="old"))  # default matrix: 1.0 is end of life
    result = cli("-f", "-", "-o", "json", input=stream)
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout)
    assert doc["eligibility"] == "Ineligible" and doc["engagement"] is False
    assert doc["products"][0]["codes"][0] == "EO101"
    assert not {"agreement", "supportTerms", "responseTargets", "scope", "responsibilities"} & set(doc)
    table = cli("-f", "-", input=stream)
    assert table.exit_code == 3
    assert "No --engagement: judged as an engagement covering every product in every namespace" in table.stdout
    assert "Support terms" not in table.stdout and "EO101" in table.stdout


def test_without_engagement_every_product_is_covered(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(dump(workload("stakater/forecastle:v2.0.1", name="f", namespace="anywhere")))
    spec = None
    result = check([path], spec, SMALL, today=TODAY)
    assert [p.product for p in result.status.products] == ["forecastle"]
    assert result.status.uncovered_products == [] and result.exit_code == 0


# ------------------------------------------------------------------ codes


def test_every_code_has_a_rule_and_codes_are_stable() -> None:
    assert set(RULES) == set(FindingCode)
    assert all(re.fullmatch(r"EO[1-4][0-9]{2}", code) for code in FindingCode)
    # a code is never renumbered: these are published
    assert (FindingCode.END_OF_LIFE, FindingCode.MATRIX_BEHIND, FindingCode.INVALID_INPUT) == (
        "EO101",
        "EO103",
        "EO401",
    )


def fixture_result() -> Any:
    spec = load_engagement(FIXTURES / "engagement.yaml")
    return check([Path("tests/fixtures/check-ci/manifests.yaml")], spec, SMALL, today=TODAY)


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def test_codes_in_the_status(in_repo: None) -> None:
    result = fixture_result()
    codes = {(p.product, p.version): p.codes for p in result.status.products}
    assert codes == {
        ("reloader", "1.1.0"): ["EO101"],
        ("forecastle", "Unknown"): ["EO106"],
        ("reloader", "1.5.0"): ["EO103"],
        ("reloader", "1.4.21"): None,
    }
    assert [p.codes for p in result.status.uncovered_products] == [["EO108"]]


# ------------------------------------------------------------------ SARIF and JUnit


def _version_free(text: str) -> str:
    return re.sub(r'"version": "[^"]*",\n(\s+"informationUri")', r'"version": "X",\n\1', text)


def test_sarif_golden_and_valid(in_repo: None) -> None:
    text = render_sarif(fixture_result(), "tests/fixtures/check-ci/engagement.yaml")
    doc = json.loads(text)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    golden("expected.sarif.json", _version_free(text) + "\n")
    results = doc["runs"][0]["results"]
    eol = next(r for r in results if r["ruleId"] == "EO101")
    assert eol["level"] == "error"
    location = eol["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "tests/fixtures/check-ci/manifests.yaml"
    lines = (FIXTURES / "manifests.yaml").read_text().splitlines()
    start = location["physicalLocation"]["region"]["startLine"]
    assert lines[start - 1] == "apiVersion: apps/v1" and "name: reloader-old" in lines[start + 2]
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "team-a/Deployment/reloader-old"
    assert {r["ruleId"]: r["level"] for r in results} == {
        "EO101": "error",
        "EO106": "warning",
        "EO103": "note",
        "EO108": "note",
    }
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert rules[eol["ruleIndex"]]["id"] == "EO101"
    assert rules[eol["ruleIndex"]]["helpUri"].endswith("/docs/reference/findings.md#eo101")


def test_sarif_is_valid_for_an_expired_agreement_and_stdin(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "support.stakater.com/v1alpha1",
                "kind": "SupportEngagement",
                "metadata": {"name": "x"},
                "spec": {
                    "customer": "a",
                    "type": "ProductSupport",
                    "plan": "Standard",
                    "agreement": {"expiresOn": "2020-01-01"},
                },
            }
        )
    )
    stream = dump(workload("stakater/reloader:v1.4.21\x1b[31m", name="odd"))
    result = cli("-f", "-", "--engagement", str(path), "-o", "sarif", input=stream)
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    agreement = next(r for r in doc["runs"][0]["results"] if r["ruleId"] == "EO201")
    assert agreement["level"] == "error"
    assert agreement["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == path.as_uri()
    for r in doc["runs"][0]["results"]:  # standard input has no path: logical location only
        if r["ruleId"] != "EO201":
            assert "physicalLocation" not in r["locations"][0]


def test_junit_golden(in_repo: None) -> None:
    text = render_junit(fixture_result())
    golden("expected.junit.xml", text)
    root = ET.fromstring(text)
    cases = root.findall("./testsuite/testcase")
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == {"reloader 1.1.0: EndOfLife", "forecastle Unknown: VersionUnknown"}
    assert root.get("tests") == str(len(cases)) == "5" and root.get("failures") == "2"


def test_findings_follow_the_status(in_repo: None) -> None:
    findings = findings_of(fixture_result())
    assert [(f.code, f.level, f.subject) for f in findings] == [  # in the status's order
        ("EO106", "warning", "forecastle Unknown"),
        ("EO101", "error", "reloader 1.1.0"),
        ("EO103", "note", "reloader 1.5.0"),
        ("EO108", "note", "konfigurator 0.1.39"),
    ]


@pytest.mark.parametrize("output", ["sarif", "junit", "json"])
def test_output_file_only_for_a_verdict(tmp_path: Path, output: str) -> None:
    report = tmp_path / "report"
    good = dump(workload("stakater/reloader:v1.4.21", name="ok"))
    result = cli("-f", "-", "-o", output, "--output-file", str(report), input=good)
    assert result.exit_code == 0, result.output
    assert "Eligibility: Eligible" in result.stdout and f"{output} report written to {report}" in result.stdout
    assert report.read_text().strip()
    report.unlink()
    bad = good + "---\napiVersion: v1\nkind: Deployment\nmetadata: [\n"
    result = cli("-f", "-", "-o", output, "--output-file", str(report), input=bad)
    assert result.exit_code == 4
    assert not report.exists()


@pytest.mark.parametrize("output", ["sarif", "junit"])
def test_no_report_on_stdout_without_a_verdict(output: str) -> None:
    result = CliRunner().invoke(main, ["check", "-f", "-", "-o", output], input="a: [\n")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr.startswith("error: <stdin>: document 1: invalid YAML at line 2")
    assert "Eligibility" not in result.stderr  # the reason only, nothing that reads as a verdict


# ------------------------------------------------------------------ OpenShift from ClusterVersion

CLUSTER_VERSION = {
    "apiVersion": "config.openshift.io/v1",
    "kind": "ClusterVersion",
    "metadata": {"name": "version"},
    "spec": {"channel": "stable-4.16"},
    "status": {
        "desired": {"version": "4.20.1"},
        "history": [
            {"state": "Partial", "version": "4.20.1"},
            {"state": "Completed", "version": "4.16.3"},
        ],
    },
}


def test_openshift_version_from_a_clusterversion(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(dump(CLUSTER_VERSION, workload("stakater/konfigurator:v0.1.39", name="k")))
    result = check([path], None, SMALL, today=TODAY)
    assert result.status.platform is not None and result.status.platform.openshift_version == "4.16.3"
    path.write_text(
        dump(
            {**CLUSTER_VERSION, "status": {"desired": {"version": "4.11.2"}}},
            workload("stakater/konfigurator:v0.1.39", name="k"),
        )
    )
    result = check([path], None, SMALL, today=TODAY)
    assert result.status.products[0].codes == ["EO105"]  # konfigurator supports OpenShift 4.12..4.18
    assert result.exit_code == 3


# ------------------------------------------------------------------ documented pipelines


def _ci_blocks() -> list[Any]:
    text = (REPO / "docs" / "command-line.md").read_text()
    section = text.split("## In CI pipelines", 1)[1]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)]


def _check_commands(node: Any) -> list[list[str]]:
    found: list[list[str]] = []
    if isinstance(node, dict):
        for value in node.values():
            found.extend(_check_commands(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_check_commands(value))
    elif isinstance(node, str):
        for line in node.splitlines():
            if "eligibility-operator check" in line:
                command = line.split("|")[-1].strip() if "| eligibility-operator" in line else line.strip()
                found.append(shlex.split(command.split("eligibility-operator", 1)[1]))
    return found


def test_documented_pipelines_parse_and_use_real_flags() -> None:
    blocks = _ci_blocks()
    assert len(blocks) == 3
    github, gitlab, tekton = blocks
    command = main.commands["check"]
    flags = {opt: param for param in command.params for opt in getattr(param, "opts", [])}
    commands = _check_commands(blocks)
    assert len(commands) == 3
    for args in commands:
        assert args[0] == "check"
        for i, token in enumerate(args):
            if token.startswith("-") and token != "-":
                assert token in flags, f"{token} is not an option of check"
                choice = flags[token].type
                if isinstance(choice, click.Choice):
                    assert args[i + 1] in choice.choices
    steps = github["jobs"]["check"]["steps"]
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert "--output-file " + upload["with"]["sarif_file"] in " ".join(s.get("run", "") for s in steps)
    assert gitlab["eligibility"]["artifacts"]["reports"]["junit"] == "eligibility.xml"
    assert tekton["kind"] == "Task" and tekton["apiVersion"] == "tekton.dev/v1"


# ------------------------------------------------------------------ several clusters (offline half)


def test_several_verdicts_one_table_worst_exit_and_valid_reports() -> None:
    from eligibility_operator.core.products.workloads import facts_from_object
    from eligibility_operator.core.verdict.evaluation import Platform
    from eligibility_operator.offline import clusters

    def facts(image: str, name: str) -> Any:
        found = facts_from_object(workload(image, name=name))
        assert found is not None
        return found

    east = clusters.judge_cluster(
        "east", [facts("stakater/reloader:v1.4.21", "r")], {"team-a": {}}, Platform("1.30.0"), SMALL, None, None
    )
    west = clusters.judge_cluster(
        "west", [facts("stakater/reloader:v1.1.0", "old")], {"team-a": {}}, Platform("1.30.0"), SMALL, None, None
    )
    verdicts = [*east, *west]
    text = clusters.render_table(verdicts)
    assert text.splitlines()[0].split()[:3] == ["CLUSTER", "ENGAGEMENT", "PRODUCT"]
    assert [line.split(":")[0] for line in text.split("\n\n")[1].splitlines()] == ["east", "west"]
    assert clusters.exit_code(verdicts) == max(v.result.exit_code for v in verdicts)
    sarif = json.loads(clusters.render_sarif_runs(verdicts))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    assert [r["properties"]["cluster"] for r in sarif["runs"]] == ["east", "west"]
    suites = ET.fromstring(clusters.render_junit_suites(verdicts)).findall("testsuite")
    assert [s.get("name") for s in suites] == ["eligibility-operator check east", "eligibility-operator check west"]


def test_exit_code_of_several_is_the_worst() -> None:
    from eligibility_operator.offline import clusters

    def verdict(code: int) -> Any:
        class Result:
            exit_code = code

        return clusters.Verdict("c", None, Result())  # type: ignore[arg-type]

    assert clusters.exit_code([verdict(0), verdict(3), verdict(1)]) == 3
    assert clusters.exit_code([verdict(3), verdict(4), verdict(1)]) == 4
    assert clusters.exit_code([verdict(0), verdict(1)]) == 1


def test_cluster_options_are_used_together_or_not_at_all(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(dump(workload("stakater/reloader:v1.4.21", name="r")))
    both = cli("--cluster", "-f", str(tmp_path / "m.yaml"))
    assert both.exit_code == 2 and "not both" in both.output
    neither = cli()
    assert neither.exit_code == 2 and "--cluster" in neither.output
    context_alone = cli("-f", str(tmp_path / "m.yaml"), "--context", "x")
    assert context_alone.exit_code == 2

"""``check``'s input side on hostile and ordinary-repository input: it never crashes, never lies."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from eligibility_operator.cli import main
from eligibility_operator.offline.check import check, printable, render_table
from eligibility_operator.offline.files import decode
from eligibility_operator.offline.manifests import HELM_TEMPLATE_REASON, MAX_LIST_DEPTH, TEMPLATE_REASON, read_manifests

from ..builders import TODAY, default_compiled, engagement_spec
from ..builders import manifest as workload

MATRIX = default_compiled()
EOL_RELOADER = yaml.safe_dump(workload("stakater/reloader:v1.0.0", name="old-reloader"))


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def engagement(tmp_path: Path) -> Path:
    path = tmp_path / "engagement.yaml"
    doc = {"apiVersion": "support.stakater.com/v1alpha1", "kind": "SupportEngagement", "spec": engagement_spec()}
    path.write_text(yaml.safe_dump(doc))
    return path


def run_check(tmp_path: Path, *paths: Path | str, extra: tuple[str, ...] = ()) -> Any:
    args = ["check", "--engagement", str(engagement(tmp_path)), "-o", "json", *extra]
    for path in paths:
        args += ["-f", str(path)]
    return CliRunner().invoke(main, args)


def names(out: Any) -> list[str]:
    return [found.facts.name for found in out.workloads]


# ------------------------------------------------------------ documents


def test_document_on_the_separator_line_is_read(tmp_path: Path) -> None:
    flow = json.dumps(workload("stakater/reloader:v1.0.0", name="on-the-line"))
    text = f"--- {flow}\n--- {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c}}}}\n"
    out = read_manifests([write(tmp_path, {"a.yaml": text})])
    assert out.problems == []
    assert names(out) == ["on-the-line"]
    assert out.documents == 2


def test_separator_inside_a_block_scalar_ends_the_document_as_the_parser_does(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  x: |\n    a\n---\n" + EOL_RELOADER
    out = read_manifests([write(tmp_path, {"a.yaml": text})])
    assert out.problems == [] and names(out) == ["old-reloader"] and out.documents == 2


@pytest.mark.parametrize(
    "bad",
    [
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: c, creationTimestamp: 2024-02-30}\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: !!bool maybe}\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: !!timestamp foo}\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: !!python/object:os.system x}\n",
        "apiVersion: apps/v1\nkind: Deployment\ndata: " + "[" * 5000 + "]" * 5000 + "\n",
    ],
)
def test_an_exception_inside_one_document_is_that_documents_error(tmp_path: Path, bad: str) -> None:
    root = write(
        tmp_path / "m", {"a.yaml": EOL_RELOADER + "---\n" + bad + "---\n" + EOL_RELOADER.replace("old-", "x-")}
    )
    out = read_manifests([root])
    assert names(out) == ["old-reloader", "x-reloader"]
    assert [p.document for p in out.problems] == [2]
    assert out.problems[0].error.startswith(("cannot read this document", "invalid YAML at line"))
    result = run_check(tmp_path, root)
    assert result.exit_code == 4, result.output  # a malformed Kubernetes object: never 1, never a traceback
    assert json.loads(result.stdout)["eligibility"] == "Ineligible"


def test_documents_of_kinds_check_does_not_read_are_counted_not_parsed(tmp_path: Path) -> None:
    # A ConfigMap or CRD cannot change the verdict; building Python objects for it is most of the time.
    bad_configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, creationTimestamp: 2024-02-30}\n"
    root = write(tmp_path / "m", {"a.yaml": EOL_RELOADER + "---\n" + bad_configmap})
    out = read_manifests([root])
    assert (out.problems, out.documents, out.objects, names(out)) == ([], 2, 2, ["old-reloader"])
    result = run_check(tmp_path, root)
    assert result.exit_code == 3, result.output  # the end-of-life verdict, not 1 and not a traceback


def test_document_that_is_not_a_kubernetes_object_does_not_hide_the_verdict(tmp_path: Path) -> None:
    root = write(tmp_path / "m", {"a.yaml": EOL_RELOADER + "---\nwhen: 2024-02-30\n---\nx: !!bool maybe\n"})
    result = run_check(tmp_path, root)
    assert result.exit_code == 3, result.output
    assert [s["reason"].split(" (")[0] for s in json.loads(result.stdout)["skipped"]] == ["not a Kubernetes object"] * 2


def test_self_referencing_list_and_shared_aliases(tmp_path: Path) -> None:
    text = "&a {apiVersion: v1, kind: List, items: [*a]}\n"
    out = read_manifests([write(tmp_path, {"self.yaml": text})])
    assert [p.error for p in out.problems] == ["a List contains itself (YAML alias): not read again"]
    shared = "apiVersion: v1\nkind: List\nitems:\n- &w " + json.dumps(workload("x", name="w")) + "\n- *w\n- *w\n"
    out = read_manifests([write(tmp_path / "b", {"shared.yaml": shared})])
    assert out.problems == [] and names(out) == ["w"]


def test_lists_nested_too_deep_and_alias_bombs_are_bounded(tmp_path: Path) -> None:
    nested: dict[str, Any] = workload("x", name="deep")
    for _ in range(MAX_LIST_DEPTH + 2):
        nested = {"apiVersion": "v1", "kind": "List", "items": [nested]}
    out = read_manifests([write(tmp_path, {"deep.json": json.dumps(nested)})])
    assert [p.error for p in out.problems] == [f"Lists nested deeper than {MAX_LIST_DEPTH}: not read"]
    # a billion-laughs List: 10 levels of 10 aliases would be 10^10 items if expanded
    lines = ["a0: &a0 " + json.dumps(workload("x", name="laugh"))]
    lines += [
        f"a{i}: &a{i} {{apiVersion: v1, kind: List, items: [{', '.join([f'*a{i - 1}'] * 10)}]}}" for i in range(1, 10)
    ]
    started = time.monotonic()
    out = read_manifests([write(tmp_path / "b", {"laughs.yaml": _bomb(lines)})])
    assert time.monotonic() - started < 5
    assert names(out) == ["laugh"]


def _bomb(lines: list[str]) -> str:
    """The anchors live in a hidden key of the top-level List so the document stays one object."""
    body = "\n".join("  " + line for line in lines)
    return "apiVersion: v1\nkind: List\nanchors:\n" + body + "\nitems: [" + ", ".join(["*a9"] * 10) + "]\n"


# ---------------------------------------------------------------- files


def test_undecodable_bytes_are_reported_with_their_offset(tmp_path: Path) -> None:
    root = write(tmp_path, {"latin1.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n"})
    out = read_manifests([root])
    assert [(p.document, p.error) for p in out.problems] == [(0, "not text: byte 0xe9 at offset 51 is not valid UTF-8")]
    assert decode("\ufeffa: 1".encode("utf-16")) == "\ufeffa: 1"  # YAML allows UTF-16 with a BOM


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null"])
def test_a_device_given_by_name_is_an_error_not_a_hang(tmp_path: Path, special: str) -> None:
    out = read_manifests([Path(special)])
    assert [p.error for p in out.problems] == ["not a regular file or directory: not read"]


def test_fifo_given_by_name_or_inside_a_directory(tmp_path: Path) -> None:
    root = write(tmp_path / "m", {"ok.yaml": EOL_RELOADER})
    os.mkfifo(root / "pipe.yaml")
    out = read_manifests([root])  # must not block on the FIFO
    assert names(out) == ["old-reloader"]
    assert [(Path(s.file).name, s.reason) for s in out.skipped] == [("pipe.yaml", "not a regular file")]
    out = read_manifests([root / "pipe.yaml"])
    assert [p.error for p in out.problems] == ["not a regular file or directory: not read"]
    result = run_check(tmp_path, root / "pipe.yaml")
    assert result.exit_code == 4


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_directory_is_reported(tmp_path: Path) -> None:
    root = write(tmp_path / "m", {"ok.yaml": EOL_RELOADER, "secret/x.yaml": EOL_RELOADER})
    (root / "secret").chmod(0)
    try:
        out = read_manifests([root])
    finally:
        (root / "secret").chmod(0o755)
    assert [p.error.split(":")[0] for p in out.problems] == ["cannot read directory"]


def test_a_directory_that_cannot_be_listed_is_an_error_even_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write(tmp_path / "m", {"ok.yaml": EOL_RELOADER, "secret/x.yaml": EOL_RELOADER})
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if str(path).endswith("secret"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    out = read_manifests([root])
    assert [(Path(p.file).name, p.error) for p in out.problems] == [
        ("secret", "cannot read directory: Permission denied")
    ]
    assert names(out) == ["old-reloader"]
    assert run_check(tmp_path, root).exit_code == 4  # something could hide there: never a silent pass


def test_symbolic_link_loops_and_links_to_directories(tmp_path: Path) -> None:
    root = write(tmp_path / "m", {"base/ok.yaml": EOL_RELOADER})
    (root / "base" / "loop").symlink_to(root)
    (root / "overlay").symlink_to(root / "base")
    (root / "dangling.yaml").symlink_to(root / "missing.yaml")
    out = read_manifests([root])
    assert names(out) == ["old-reloader"]  # read once, whatever the links
    assert (
        sorted(s.reason for s in out.skipped)
        == ["directory already read (a symbolic link loop or a second link to it)"] * 2
    )
    assert [(Path(p.file).name, p.error) for p in out.problems] == [
        ("dangling.yaml", "cannot read: broken symbolic link")
    ]


def test_one_bad_file_among_many_in_the_process_pool(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        f"f{i:03}.yaml": yaml.safe_dump(workload("nginx", name=f"w{i}")) for i in range(40)
    }
    files["f007.yaml"] = b"\xc3\x28 not text"
    files["f013.yaml"] = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: !!timestamp foo}\n"
    files["f021.yaml"] = "&a {apiVersion: v1, kind: List, items: [*a]}\n"
    root = write(tmp_path, files)
    out = read_manifests([root], parallel_from=2)
    assert len(out.workloads) == 37
    assert sorted(Path(p.file).name for p in out.problems) == ["f007.yaml", "f013.yaml", "f021.yaml"]


def test_nothing_to_check_exits_4(tmp_path: Path) -> None:
    root = write(tmp_path / "m", {"values.yaml": "image: {tag: v1}\n", "empty.yaml": ""})
    result = run_check(tmp_path, root)
    assert result.exit_code == 4
    errors = json.loads(result.stdout)["errors"]
    assert [e["error"] for e in errors] == ["nothing to check: no Kubernetes object in 2 files read"]


# --------------------------------------------------- ordinary repositories


HELM_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ template "reloader-fullname" . }}
  labels:
{{ include "reloader-labels.chart" . | indent 4 }}
spec:
  template:
    spec:
      containers:
      - image: "{{ .Values.reloader.deployment.image.name }}:{{ .Values.reloader.deployment.image.tag }}"
"""


def test_repository_files_that_are_not_objects_are_skipped_and_counted(tmp_path: Path) -> None:
    root = write(
        tmp_path / "repo",
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: reloader\nversion: 2.2.16\n",
            "chart/templates/deployment.yaml": HELM_TEMPLATE,
            "snippets/deployment.yaml": HELM_TEMPLATE,
            "chart/values.yaml": "reloader:\n  deployment:\n    image: {name: stakater/reloader, tag: v1.4.21}\n",
            "kustomize/patch.yaml": "- op: replace\n  path: /spec/replicas\n  value: 2\n",
            ".vscode/launch.json": '{"version": "0.2.0", "configurations": []}',
            ".github/workflows/ci.yaml": "on: [push]\njobs: {}\n",
            "tsconfig.json": '{\n  // comments\n  "compilerOptions": {}\n}\n',
            "deploy/reloader.yaml": EOL_RELOADER,
        },
    )
    result = run_check(tmp_path, root)
    assert result.exit_code == 3, result.output  # the verdict, not "invalid input"
    doc = json.loads(result.stdout)
    assert doc["errors"] == []
    reasons = {str(Path(s["file"]).relative_to(root)): s["reason"] for s in doc["skipped"]}
    assert reasons.pop("chart/templates/deployment.yaml") == HELM_TEMPLATE_REASON
    assert reasons.pop("snippets/deployment.yaml") == TEMPLATE_REASON
    assert set(reasons) == {
        "chart/Chart.yaml",
        "chart/values.yaml",
        "kustomize/patch.yaml",
        ".vscode/launch.json",
        ".github/workflows/ci.yaml",
        "tsconfig.json",
    }
    strict = run_check(tmp_path, root, extra=("--strict",))
    assert strict.exit_code == 4
    assert len(json.loads(strict.stdout)["errors"]) == 8
    table = CliRunner().invoke(main, ["check", "--engagement", str(engagement(tmp_path)), "-f", str(root)]).stdout
    assert "Skipped 8 files or documents that are not Kubernetes objects, 2 of them Helm chart templates" in table
    assert "invalid YAML" not in table  # no parser noise for files that are not Kubernetes objects


def test_same_object_in_two_files_counts_once_and_names_both(tmp_path: Path) -> None:
    root = write(tmp_path / "m", {"a/reloader.yaml": EOL_RELOADER, "b/reloader.yaml": EOL_RELOADER})
    result = check([root], _spec(), MATRIX, today=TODAY)
    assert result.workloads == 1
    assert result.status.products[0].workload_count == 1
    assert result.duplicates == [
        ("team-a/Deployment/old-reloader", [str(root / "a/reloader.yaml"), str(root / "b/reloader.yaml")])
    ]
    assert "is defined in 2 files, counted once" in render_table(result)


def test_different_definitions_of_one_object_are_each_judged(tmp_path: Path) -> None:
    # Per-environment copies in a GitOps repository: one object, two contents. Keeping only the last one read
    # (as one cluster would) would let the end-of-life copy pass the gate.
    current = yaml.safe_dump(workload("stakater/reloader:v1.4.14", name="old-reloader"))
    root = write(tmp_path / "m", {"dev/reloader.yaml": EOL_RELOADER, "prod/reloader.yaml": current})
    result = check([root], _spec(), MATRIX, today=TODAY)
    assert result.workloads == 2
    assert result.duplicates == []
    assert sorted(p.version for p in result.status.products) == ["1.0.0", "1.4.14"]
    assert result.status.eligibility != "Eligible"
    assert result.exit_code != 0


def test_check_says_what_the_operator_says_of_a_workload_read_only_in_part(tmp_path: Path) -> None:
    from eligibility_operator.core.products.inventory import Inventory
    from eligibility_operator.core.products.workloads import MAX_CONTAINERS, facts_from_object
    from eligibility_operator.core.verdict.engagements import EngagementRecord, assess
    from eligibility_operator.core.verdict.evaluation import Platform

    images = ["stakater/reloader:v1.0.0"] + [f"example.com/app/c{i}:v1" for i in range(MAX_CONTAINERS)]
    obj = workload(*images, name="crowded")
    root = write(tmp_path / "m", {"crowded.yaml": yaml.safe_dump(obj)})
    result = check([root], _spec(), MATRIX, today=TODAY)
    # the operator, with the same object from its watch
    inventory = Inventory()
    inventory.set_matrix(MATRIX)
    facts = facts_from_object(obj)
    assert facts is not None and facts.capped
    inventory.upsert(facts)
    record = EngagementRecord("team-a", "e", "uid", generation=None, spec=_spec(), spec_error=None, written=None)
    operator = assess(record, inventory, Platform(), TODAY)
    ready = next(c for c in result.status.conditions if c.type == "Ready")
    assert "team-a/Deployment/crowded" in ready.message and "only the first were read" in ready.message
    assert result.status.model_dump() == operator.model_dump()


def _spec() -> Any:
    from eligibility_operator.api.models import SupportEngagementSpec

    return SupportEngagementSpec.model_validate(engagement_spec())


# --------------------------------------------------------------- output


def test_control_characters_in_names_cannot_fake_table_lines(tmp_path: Path) -> None:
    evil = workload("stakater/reloader:v1.0.0", name="x\nreloader  1.4.21   Supported\x1b[2J")
    root = write(tmp_path / "m", {"evil.json": json.dumps(evil)})
    table = render_table(check([root], _spec(), MATRIX, today=TODAY))
    assert "\x1b" not in table
    assert not any(line.startswith("reloader  1.4.21") for line in table.splitlines())
    assert "x\\x0areloader" in table
    assert printable("a\u2028b\x7f") == "a\\u2028b\\x7f"


# ------------------------------------------------------ engagement, matrix


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("engagement", b"kind: \xc3\x28", "cannot read the engagement"),
        ("engagement", b"kind: SupportEngagement\nspec: {customer: !!timestamp foo}\n", "cannot read the engagement"),
        ("engagement", b"kind: SupportEngagement\nspec: [1]\n", "spec must be a mapping"),
        ("matrix", b"kind: CompatibilityMatrix\nmetadata: [a]\nspec: {products: []}\n", None),
        ("matrix", b"kind: CompatibilityMatrix\nspec: 7\n", "spec must be a mapping"),
    ],
)
def test_engagement_and_matrix_files_never_crash(
    tmp_path: Path, file: str, content: bytes, message: str | None
) -> None:
    manifests = write(tmp_path / "m", {"r.yaml": EOL_RELOADER})
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    args = ["check", "-f", str(manifests), "--engagement", str(engagement(tmp_path))]
    args += ["--engagement", str(bad)] if file == "engagement" else ["--matrix", str(bad)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 4), result.output  # an empty matrix finds nothing: Eligible
    assert "Traceback" not in result.output
    if message:
        assert result.exit_code == 4 and message in result.output


def test_a_large_file_read_in_parallel_chunks_gives_what_reading_it_whole_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eligibility_operator.offline import manifests as check_input

    docs = []
    for i in range(300):
        if i == 57:
            docs.append("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: [broken\n")
        elif i == 120:
            docs.append("just a string\n")
        elif i == 200:
            docs.append("# only a comment\n")
        else:
            docs.append(yaml.safe_dump(workload("stakater/reloader:v1.4.21", name=f"w{i}")))
    path = tmp_path / "big.yaml"
    path.write_text("---\n" + "---\n".join(docs))
    whole = check_input.read_file(str(path))
    monkeypatch.setattr(check_input, "SPLIT_BYTES", 1024)
    monkeypatch.setattr(check_input, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(check_input.os, "cpu_count", lambda: 2)
    assert len(check_input._chunks(path.read_text())) > 10
    chunked = read_manifests([path])
    assert [(f.facts.name, f.document) for f in chunked.workloads] == [
        (f.facts.name, f.document) for f in whole.workloads
    ]
    assert chunked.problems == whole.problems and [p.document for p in whole.problems] == [58]
    assert chunked.problems[0].error.startswith("invalid YAML at line ")
    assert chunked.skipped == whole.skipped and [s.document for s in whole.skipped] == [121]
    assert (chunked.documents, chunked.objects, chunked.files) == (whole.documents, whole.objects, 1)

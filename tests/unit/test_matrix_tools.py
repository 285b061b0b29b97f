"""``matrix build`` and ``matrix diff``: from Stakater's real chart index to a valid matrix, and what changed.

The index is a trimmed copy of stakater/stakater-charts ``docs/index.yaml`` at the commit the default
matrix cites (tests/fixtures/matrix/SOURCES.md); the platform data is endoflife.date's.
"""

from __future__ import annotations

import datetime as dt
import http.server
import re
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from eligibility_operator.cli import main
from eligibility_operator.core.compat.matrix import load_matrix, parse_spec
from eligibility_operator.core.compat.matrix_diff import diff_matrices
from eligibility_operator.offline.loading import default_matrix
from eligibility_operator.offline.matrix_tools import sources
from eligibility_operator.offline.matrix_tools.chart_index import add_months, chart_releases, derive_lines
from eligibility_operator.offline.matrix_tools.sources import SourceError
from eligibility_operator.runtime.serving import webhook

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "matrix"
INDEX = FIXTURES / "stakater-charts-index.yaml"
KUBERNETES = FIXTURES / "endoflife-kubernetes.json"
OPENSHIFT = FIXTURES / "endoflife-openshift.json"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, ["matrix", *args], catch_exceptions=False)


def build(*args: str) -> Any:
    return invoke("build", "--chart-index", str(INDEX), *args)


def built_doc(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = yaml.safe_load(result.stdout)
    return doc


def product(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in doc["spec"]["products"] if p["name"] == name)


def releases(doc: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    return {r["version"]: r for r in product(doc, name)["releases"]}


# ------------------------------------------------------------------ build


def test_build_from_the_real_index_reproduces_the_shipped_matrix_but_for_chart_only_versions() -> None:
    """The hand-kept default matrix follows the documented rule; the index gives the same lines and
    ends of support. It differs only where the index has a chart without an app tag (README says so)."""
    doc = built_doc(build())
    load_matrix("default", 1, doc["spec"])  # valid exactly as an applied matrix
    changes = diff_matrices(parse_spec(default_matrix()["spec"]), parse_spec(doc["spec"]))
    assert changes == [
        "forecastle 1.0 latest moved from 1.0.159 to 1.0.160",
        "konfigurator 0.1 latest moved from 0.1.39 to 0.1.40",
    ]


def test_build_keeps_recognition_and_derives_lines_by_the_twelve_month_rule() -> None:
    doc = built_doc(build("--product", "reloader"))
    reloader = releases(doc, "reloader")
    assert list(reloader) == ["0.0", "1.0", "1.1", "1.2", "1.3", "1.4"]
    assert "endOfSupport" not in reloader["1.4"]  # the newest line
    for older, newer in (("1.2", "1.3"), ("1.3", "1.4")):
        released = dt.date.fromisoformat(reloader[newer]["released"])
        assert reloader[older]["endOfSupport"] == add_months(released, 12).isoformat()
    shipped = product(default_matrix(), "reloader")["recognition"]
    got = product(doc, "reloader")["recognition"]
    assert [i["repository"] for i in got["images"]] == [i["repository"] for i in shipped["images"]]
    assert got["labels"] == shipped["labels"] and got["foreignImages"] == shipped["foreignImages"]
    versions = {v["chart"]: v.get("app") for v in got["charts"][0]["versions"]}
    assert versions["2.2.12"] == "1.4.17" and versions["1.0"] is None  # chart line 1.0 = app version
    assert versions["2.2.16"] == "1.4.21"  # from the base (Reloader's chart tags), not in this index


def test_the_repository_gate_keeps_other_charts_of_the_same_name_out() -> None:
    """stakater-charts holds an old, unrelated ``tenant-operator`` chart; MTO's charts are published to
    oci://ghcr.io/stakater/public/charts, so the build keeps MTO from the base and says why."""
    result = build()
    assert "note: multi-tenant-operator: kept from the base" in result.stderr
    assert product(built_doc(result), "multi-tenant-operator") == product(
        built_doc(invoke("build", "--chart-index", str(INDEX), "--product", "reloader")), "multi-tenant-operator"
    )
    refused = build("--product", "multi-tenant-operator")
    assert refused.exit_code == 4
    assert "the index has no chart of multi-tenant-operator" in refused.stderr


def test_a_new_release_line_in_the_index_is_added_and_ends_the_previous_one(tmp_path: Path) -> None:
    index = yaml.safe_load(INDEX.read_text())
    index["entries"]["reloader"].insert(
        0, {"name": "reloader", "version": "2.3.0", "appVersion": "v1.5.0", "created": "2026-09-01T10:00:00Z"}
    )
    path = tmp_path / "index.yaml"
    path.write_text(yaml.safe_dump(index))
    doc = built_doc(invoke("build", "--chart-index", str(path)))
    lines = releases(doc, "reloader")
    assert lines["1.5"]["released"] == "2026-09-01" and lines["1.5"]["latest"] == "1.5.0"
    assert lines["1.4"]["endOfSupport"] == "2027-09-01"
    old = tmp_path / "old.yaml"
    new = tmp_path / "new.yaml"
    old.write_text(yaml.safe_dump(default_matrix()))
    new.write_text(invoke("build", "--chart-index", str(path)).stdout)
    diff = invoke("diff", str(old), str(new))
    assert diff.exit_code == 1
    assert "reloader 1.5 added" in diff.stdout.splitlines()
    assert "reloader 1.4 end of support set to 2027-09-01" in diff.stdout
    assert "chart reloader 2.3.0 installs reloader 1.5.0 (added)" in diff.stdout.splitlines()


def test_building_again_from_the_output_changes_nothing(tmp_path: Path) -> None:
    first = tmp_path / "first.yaml"
    first.write_text(build().stdout)
    again = build("--base", str(first))
    assert yaml.safe_load(again.stdout) == yaml.safe_load(first.read_text())
    assert invoke("diff", str(first), str(first)).exit_code == 0


def test_platform_lines_from_endoflife_date() -> None:
    doc = built_doc(build("--platform-eol", f"kubernetes={KUBERNETES}", "--platform-eol", f"openshift={OPENSHIFT}"))
    kubernetes = {r["version"]: r for r in doc["spec"]["platforms"]["kubernetes"]}
    assert kubernetes["1.36"] == {"version": "1.36", "released": "2026-04-22", "endOfMaintenance": "2027-06-28"}
    assert "1.29" in kubernetes  # replaced, not merged: the JSON lists 1.29..1.36
    openshift = {r["version"]: r for r in doc["spec"]["platforms"]["openshift"]}
    assert openshift["4.17"]["endOfMaintenance"] == "2026-04-01"  # data the shipped matrix lacked
    shipped = parse_spec(default_matrix()["spec"])
    changes = diff_matrices(shipped, parse_spec(doc["spec"]))
    assert "OpenShift 4.17 added" in changes and "Kubernetes 1.29 added" in changes


def test_platform_eol_true_and_odd_cycles_are_left_out_with_a_note(tmp_path: Path) -> None:
    data = '[{"cycle": "1.37", "releaseDate": "2026-08-26", "eol": false}, {"cycle": "1.10", "releaseDate": ' + (
        '"2018-03-26", "eol": true}, {"cycle": "1", "releaseDate": "2015-07-21", "eol": "2016-01-01"}]'
    )
    path = tmp_path / "k8s.json"
    path.write_text(data)
    result = build("--platform-eol", f"kubernetes={path}")
    assert built_doc(result)["spec"]["platforms"]["kubernetes"] == [{"version": "1.37", "released": "2026-08-26"}]
    assert "cycle 1.10 ended without a date, left out" in result.stderr
    assert "cycle '1' is not major.minor" in result.stderr


def test_provenance_is_the_label_or_the_url_never_a_local_path(tmp_path: Path) -> None:
    local = tmp_path / "secret-dir" / "index.yaml"
    local.parent.mkdir()
    local.write_bytes(INDEX.read_bytes())
    unlabeled = build_from(local)
    assert str(tmp_path) not in unlabeled.stdout and "secret-dir" not in unlabeled.stdout
    assert "a local copy of https://stakater.github.io/stakater-charts/index.yaml" in unlabeled.stdout
    assert "--source-label" in unlabeled.stderr
    labeled = build_from(
        local, "--source-label", "stakater-charts index.yaml @ 4f2a9c1", "--base", str(local.parent / "b")
    )
    assert labeled.exit_code == 4  # the base does not exist: the label does not hide input errors
    labeled = build_from(local, "--source-label", "stakater-charts index.yaml @ 4f2a9c1")
    doc = built_doc(labeled)
    assert str(tmp_path) not in labeled.stdout
    sources = [r.get("source", "") for p in doc["spec"]["products"] for r in p["releases"]]
    assert any(s.startswith("stakater-charts index.yaml @ 4f2a9c1: chart ") for s in sources), sources
    assert "from the chart index stakater-charts index.yaml @ 4f2a9c1" in labeled.stdout.splitlines()[0]
    empty = build_from(local, "--source-label", "  ")
    assert empty.exit_code == 4 and "--source-label is empty" in empty.stderr


def build_from(index: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["matrix", "build", "--chart-index", str(index), *args], catch_exceptions=False)


def test_a_mass_reindex_date_and_an_unconfirmed_app_release_are_warned_and_noted(tmp_path: Path) -> None:
    """A line whose first chart carries the index's re-index timestamp, and a latest version known only
    from a chart without appVersion, are each a warning and a note in the line's source."""
    index = yaml.safe_load(INDEX.read_text())
    stamp = "2026-09-01T10:00:{:02d}.5Z"  # a re-index: 30 charts of another product in one minute
    index["entries"]["other"] = [
        {"name": "other", "version": f"0.{i}.0", "created": stamp.format(i)} for i in range(30)
    ]
    index["entries"]["reloader"].insert(
        0, {"name": "reloader", "version": "2.3.0", "appVersion": "v1.9.0", "created": stamp.format(59)}
    )
    index["entries"]["reloader"].insert(0, {"name": "reloader", "version": "2.3.1", "created": "2026-10-01T10:00:00Z"})
    path = tmp_path / "index.yaml"
    path.write_text(yaml.safe_dump(index))
    result = build_from(path, "--product", "reloader", "--source-label", "charts")
    doc = built_doc(result)
    line = releases(doc, "reloader")
    warnings = [w for w in result.stderr.splitlines() if w.startswith("warning: ")]
    assert any("reloader 1.9: released 2026-09-01 is when the index was re-indexed" in w for w in warnings), warnings
    assert "mass re-index" in line["1.9"]["source"]
    # chart 2.3.1 has no appVersion: "app 2.3.1" is only a chart version
    assert any("reloader 2.3: latest 2.3.1 comes from a chart version without appVersion" in w for w in warnings)
    assert "no app release confirmed" in line["2.3"]["source"]
    plain = build_from(INDEX, "--product", "reloader")
    assert "warning:" not in plain.stderr  # the shipped base predates every re-index date it could take


# ------------------------------------------------------------------ bad input: a clear message, exit 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--chart-index", "/nonexistent/index.yaml"], "/nonexistent/index.yaml: no such file"),
        (["--chart-index", "http://example.com/index.yaml"], "only https:// URLs are read"),
        (["--chart-index", str(INDEX), "--product", "relaoder"], "no product relaoder (known: "),
        (["--chart-index", str(INDEX), "--platform-eol", "kubernetes"], "expected NAME=FILE"),
        (["--chart-index", str(INDEX), "--platform-eol", f"windows={KUBERNETES}"], "expected one of kubernetes"),
    ],
)
def test_build_refuses_bad_arguments(args: list[str], message: str) -> None:
    result = invoke("build", *args)
    assert result.exit_code == 4, result.output
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("entries: [unclosed\n", "invalid YAML (line 2)"),
        ("apiVersion: v1\nentries:\n  nginx: [{version: 1.0.0}]\n", "the index has no chart of reloader"),
        ("- just a list\n", "not a Helm repository index"),
        ("entries:\n  reloader: [{version: latest}]\n", "chart 'reloader' has no released version"),
        ("a: 1\n---\nb: 2\n", "expected one YAML document, found 2"),
    ],
)
def test_build_refuses_a_bad_index(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "index.yaml"
    path.write_text(content)
    result = invoke("build", "--chart-index", str(path), "--product", "reloader")
    assert result.exit_code == 4, result.output
    assert message in result.stderr


def test_build_refuses_an_invalid_base_as_an_applied_matrix_would_be(tmp_path: Path) -> None:
    base = default_matrix()
    base["spec"]["products"].append(dict(base["spec"]["products"][0]))  # reloader twice
    path = tmp_path / "base.yaml"
    path.write_text(yaml.safe_dump(base))
    result = build("--base", str(path))
    assert result.exit_code == 4
    assert "invalid CompatibilityMatrix: product 'reloader' is listed twice" in result.stderr


def test_an_oversized_input_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "index.yaml"
    path.write_bytes(b"entries: {}\n" + b"#" * 2048)
    monkeypatch.setattr(sources, "MAX_INPUT_BYTES", 1024)
    with pytest.raises(SourceError, match="more than the 1024-byte limit"):
        sources.read_bytes(str(path), limit=1024)
    result = invoke("build", "--chart-index", str(path))
    assert result.exit_code == 4 and "1024-byte limit" in result.stderr


class _Handler(http.server.BaseHTTPRequestHandler):
    """/index.yaml: the real index; /stream: an endless body without Content-Length; /http: a redirect
    to plain http; /big: a Content-Length above any cap; anything else 404."""

    def do_GET(self) -> None:
        if self.path == "/index.yaml":
            body = INDEX.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/stream":
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(64):
                    self.wfile.write(b"#" * 65536)
            except OSError:
                pass  # the client stopped reading at its cap
        elif self.path == "/http":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/index.yaml")
            self.end_headers()
        elif self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(10**12))
            self.end_headers()
        else:
            self.send_error(404)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext]]:
    """A real TLS server on loopback with its own CA, and a client context that trusts that CA."""
    cert = webhook.self_signed(tmp_path / "tls", ["127.0.0.1"])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.socket = webhook.tls_context(cert).wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = ssl.create_default_context(cadata=cert.ca_pem.decode())
    yield f"https://127.0.0.1:{server.server_address[1]}", client
    server.shutdown()
    server.server_close()


def test_an_https_index_is_read_and_bounded(https_server: tuple[str, ssl.SSLContext]) -> None:
    url, tls = https_server
    assert sources.read_bytes(f"{url}/index.yaml", tls=tls) == INDEX.read_bytes()
    with pytest.raises(SourceError, match=r"\(TooLarge\).* larger than the cap of 100000 bytes"):
        sources.read_bytes(f"{url}/stream", limit=100_000, tls=tls)  # no Content-Length: counted while read
    with pytest.raises(SourceError, match=r"\(TooLarge\).* is 1000000000000 bytes, larger than the cap"):
        sources.read_bytes(f"{url}/big", tls=tls)
    with pytest.raises(SourceError, match=re.escape("redirects to a non-https URL: http://127.0.0.1:9/index.yaml")):
        sources.read_bytes(f"{url}/http", tls=tls)
    with pytest.raises(SourceError, match="HTTP 404"):
        sources.read_bytes(f"{url}/nope.yaml", tls=tls)
    # without trusting the test CA, the certificate is refused (the system trust store is the default)
    with pytest.raises(SourceError, match=r"cannot fetch \(SourceUnreachable\): .*CERTIFICATE_VERIFY_FAILED"):
        sources.read_bytes(f"{url}/index.yaml")


def test_plain_http_is_refused() -> None:
    with pytest.raises(SourceError, match="only https:// URLs"):
        sources.read_bytes("http://127.0.0.1:9/index.yaml")


def test_an_unreachable_https_url_is_an_input_error() -> None:
    with pytest.raises(SourceError, match="cannot fetch"):
        sources.read_bytes("https://127.0.0.1:9/index.yaml", timeout=2)


# ------------------------------------------------------------------ diff


def test_diff_names_each_change(tmp_path: Path) -> None:
    old_doc, new_doc = default_matrix(), default_matrix()
    spec = new_doc["spec"]
    reloader = spec["products"][0]
    reloader["releases"][3]["endOfSupport"] = "2026-03-01"  # 1.2
    reloader["releases"].append({"version": "1.5", "released": "2026-09-01", "latest": "1.5.0"})
    reloader["releases"][-2]["endOfSupport"] = "2027-09-01"  # 1.4
    spec["products"] = [p for p in spec["products"] if p["name"] != "konfigurator"]
    charts = next(p for p in spec["products"] if p["name"] == "forecastle")["recognition"]["charts"][0]["versions"]
    old_charts = next(p for p in old_doc["spec"]["products"] if p["name"] == "forecastle")
    old_charts["recognition"]["charts"][0]["versions"].append({"chart": "9.8"})
    charts.append({"chart": "9.9"})
    spec["platforms"]["kubernetes"].append({"version": "1.37", "released": "2026-08-26"})
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(yaml.safe_dump(old_doc))
    new.write_text(yaml.safe_dump(new_doc))
    result = invoke("diff", str(old), str(new))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "reloader 1.2 end of support moved from 2026-02-17 to 2026-03-01",
        "reloader 1.4 end of support set to 2027-09-01",
        "reloader 1.5 added",
        "charts forecastle 9.8.x no longer listed (installed forecastle 9.8)",
        "charts forecastle 9.9.x install forecastle 9.9 (added)",
        "product konfigurator removed",
        "Kubernetes 1.37 added",
    ]
    same = invoke("diff", str(old), str(old))
    assert (same.exit_code, same.stdout.strip()) == (0, "no differences")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("kind: ConfigMap\n", "expected a CompatibilityMatrix"),
        ("kind: CompatibilityMatrix\nspec:\n  products: [{name: BAD_NAME}]\n", "invalid CompatibilityMatrix"),
        ("kind: [\n", "invalid YAML"),
    ],
)
def test_diff_input_errors_exit_4(tmp_path: Path, content: str, message: str) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(yaml.safe_dump(default_matrix()))
    bad.write_text(content)
    for args in ((str(good), str(bad)), (str(bad), str(good))):
        result = invoke("diff", *args)
        assert result.exit_code == 4 and message in result.stderr, result.output
    missing = invoke("diff", str(good), str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 4 and "no such file" in missing.stderr


def test_derive_lines_from_real_releases() -> None:
    index = yaml.safe_load(INDEX.read_text())
    lines = {d.line: d for d in derive_lines(chart_releases(index, "forecastle", "index"))}
    assert lines["2.0"].latest == "2.0.1" and lines["2.0"].charts == ("1.2.0", "2.0.0")
    assert add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2025, 4, 4), 12) == dt.date(2026, 4, 4)

"""``eligibility-operator triage``: the same triage offline, as a table and as JSON, with exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from eligibility_operator.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "samples"
COVERED = {"support.stakater.com/covered": "true"}


def write_request(tmp_path: Path, **spec: Any) -> Path:
    body = {
        "apiVersion": "support.stakater.com/v1alpha1",
        "kind": "SupportRequest",
        "metadata": {"name": "r", "namespace": "tools"},
        "spec": {"category": "Incident", "title": "reloader does not reload", **spec},
    }
    path = tmp_path / "request.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["triage", *args, "--engagement", str(SAMPLES / "engagement.yaml")])
    return result.exit_code, result.output


def test_in_scope_p1_against_an_end_of_life_reloader_says_upgrade_first(tmp_path: Path) -> None:
    request = write_request(
        tmp_path,
        workloads=["shop/Deployment/legacy-reloader"],
        severity="P1",
        impact="ProductionOutage",
        workaround="None",
        reproduction="edit the ConfigMap",
        ticket={"openedAt": "2026-11-27T15:00:00Z"},
    )
    code, out = run("-f", str(request), "-f", str(SAMPLES), "-o", "json", "--now", "2026-11-27T15:00:00Z")
    assert code == 0, out
    status = json.loads(out)
    assert (status["scope"], status["route"]) == ("InScope", "Support")
    assert status["products"][0]["lifecycle"] == "EndOfLife"
    assert status["products"][0]["note"].startswith("upgrade first: reloader 1.2.0 is end of life")
    # The sample engagement is Premium: P1 is one hour of elapsed time.
    assert status["firstResponse"]["due"] == "2026-11-27T16:00:00Z"
    eligible = next(c for c in status["conditions"] if c["type"] == "Eligible")
    assert (eligible["status"], eligible["reason"]) == ("False", "UpgradeFirst")
    assert status["errors"] == []


def test_excluded_request_exits_1_with_the_route_in_the_table(tmp_path: Path) -> None:
    request = write_request(tmp_path, category="SecurityAssessment", description="pen test of the cluster")
    code, out = run("-f", str(request))
    assert code == 1, out
    assert "Scope:          Excluded -> ProfessionalServices: section 2: security assessments" in out
    assert "Customer  Request a Professional Services agreement for this activity" in out


def test_missing_workload_is_input_error_naming_the_field(tmp_path: Path) -> None:
    request = write_request(tmp_path, workloads=["tools/Deployment/nope"])
    code, out = run("-f", str(request), "-f", str(SAMPLES))
    assert code == 4
    assert "Ready=False InvalidSpec: spec.workloads[0]: workload tools/Deployment/nope does not exist" in out


def test_oversized_or_malformed_request_is_refused(tmp_path: Path) -> None:
    request = write_request(tmp_path, title="x" * 201, severity="P9")
    code, out = run("-f", str(request))
    assert code == 4
    assert "invalid SupportRequest" in out and "spec.title" in out and "spec.severity" in out


def test_a_file_of_several_requests_needs_name() -> None:
    requests = str(SAMPLES / "requests.yaml")
    code, out = run("-f", requests)
    assert code == 4 and "holds 2 SupportRequests (reloader-not-reloading, pen-test); pick one with --name" in out
    code, out = run("-f", requests, "--name", "pen-test")
    assert code == 1 and "Scope:          Excluded -> ProfessionalServices" in out
    code, out = run("-f", requests, "--name", "nope")
    assert code == 4 and "expected a SupportRequest named 'nope'" in out


def test_an_internal_error_exits_4_never_a_triage(tmp_path: Path, monkeypatch: Any) -> None:
    from eligibility_operator.offline import triage as request_triage

    def broken(*_: Any, **__: Any) -> Any:
        raise KeyError("a bug in the triage")

    monkeypatch.setattr(request_triage, "triage_offline", broken)
    result = CliRunner().invoke(
        main, ["triage", "-f", str(write_request(tmp_path)), "--engagement", str(SAMPLES / "engagement.yaml")]
    )
    assert result.exit_code == 4, result.output  # 1 would read as "not in scope"
    assert "internal error, no triage: KeyError" in result.output


def test_triage_reads_flux_sources_as_check_does(tmp_path: Path) -> None:
    # External Secrets' chart is also named "reloader": only its HelmRepository (read alongside) tells it apart.
    # triage turns manifests into the inventory the way check does, so both leave it out.
    def release(name: str, source: str, version: str) -> dict[str, Any]:
        chart = {"chart": "reloader", "version": version, "sourceRef": {"kind": "HelmRepository", "name": source}}
        return {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": "tools"},
            "spec": {"chart": {"spec": chart}},
        }

    def repository(name: str, url: str) -> dict[str, Any]:
        return {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": name, "namespace": "tools"},
            "spec": {"url": url},
        }

    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tools", "labels": COVERED}},
        repository("stakater", "https://stakater.github.io/stakater-charts/"),
        repository("eso", "oci://oci.external-secrets.io/charts"),
        release("reloader", "stakater", "2.2.8"),
        release("eso-reloader", "eso", "0.0.5"),
    ]
    (tmp_path / "flux.yaml").write_text(yaml.safe_dump_all(docs))
    request = write_request(tmp_path, product="reloader")
    code, out = run("-f", str(request), "-f", str(tmp_path / "flux.yaml"), "-o", "json")
    status = json.loads(out)
    assert [(p["version"], p["workloads"]) for p in status["products"]] == [
        ("1.4.13", ["tools/HelmRelease/reloader"])
    ], out
    assert (code, status["scope"], status["errors"]) == (0, "InScope", [])

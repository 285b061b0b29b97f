"""SupportRequests triaged by the operator against the real API server.

Every scope outcome, due times across a weekend, a public holiday and a daylight-saving change,
Premium against Standard, bad input, diagnostics with Events, and re-triage when the affected
product is upgraded.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..builders import API, engagement, matrix, workload
from ..conftest import Kubectl, OperatorProcess, wait_for

RELOADER_OK = "ghcr.io/stakater/reloader:v1.4.21"
RELOADER_EOL = "registry.example.internal:5000/mirror/stakater/reloader:v1.1.0"


def request(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"category": "Incident", "title": f"request {name}"}
    body.update(spec)
    return {
        "apiVersion": API,
        "kind": "SupportRequest",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def sr_status(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    result = kubectl.run("get", "sr", name, "-n", namespace, "-o", "json", check=False)
    if result.returncode != 0:
        return {}
    return dict(json.loads(result.stdout).get("status") or {})


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == type_), {})


def wait_sr(
    kubectl: Kubectl,
    namespace: str,
    name: str,
    predicate: Callable[[dict[str, Any]], bool] = lambda s: bool(s.get("conditions")),
    what: str = "triaged",
    timeout: float = 20,
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        st = sr_status(kubectl, namespace, name)
        return st if st and predicate(st) else None

    return dict(wait_for(probe, timeout=timeout, what=f"{namespace}/{name}: {what}"))


@pytest.fixture
def test_matrix(kubectl: Kubectl, namespace: str) -> Iterator[str]:
    name = f"m-{namespace}"
    kubectl.apply(matrix(name))
    yield name
    kubectl.run("delete", "compatibilitymatrix", name, "--wait=false", check=False)


@pytest.fixture(autouse=True)
def _operator_running(operator: OperatorProcess, kubectl: Kubectl, namespace: str) -> Iterator[None]:
    yield
    kubectl.run("delete", "supportrequests", "--all", "-n", namespace, "--wait=false", check=False)
    assert operator.proc.poll() is None, f"operator died:\n{operator.log()[-3000:]}"


def test_every_scope_outcome(kubectl: Kubectl, namespace: str, test_matrix: str) -> None:
    ns = namespace
    kubectl.apply(
        workload(ns, "reloader", RELOADER_OK),
        workload(ns, "shop", "registry.example.internal/shop/frontend:v3"),
        engagement(ns, matrixRef={"name": test_matrix}, products=[{"name": "reloader"}]),
    )
    kubectl.apply(
        request(
            ns,
            "incident",
            workloads=[f"{ns}/Deployment/reloader"],
            severity="P2",
            impact="MajorDegradation",
            workaround="NotSustainable",
            reproduction="edit the ConfigMap",
        ),
        request(ns, "pentest", category="SecurityAssessment", description="a penetration test"),
        request(ns, "expansion", category="ChangeRequest", description="a second cluster"),
        request(ns, "upstream", category="ThirdParty", workloads=[f"{ns}/Deployment/reloader"], vendor="cert-manager"),
        request(ns, "other-product", category="Question", product="forecastle"),
        request(ns, "app-debugging", workloads=[f"{ns}/Deployment/shop"]),
    )
    want = {
        "incident": ("InScope", "Support", "True"),
        "pentest": ("Excluded", "ProfessionalServices", "False"),
        "expansion": ("ChangeRequest", "CommercialApproval", "False"),
        "upstream": ("ThirdParty", "Shared", "True"),
        "other-product": ("NotCovered", "CommercialApproval", "False"),
        "app-debugging": ("Excluded", "ProfessionalServices", "False"),
    }
    for name, (scope, route, in_scope) in want.items():
        st = wait_sr(kubectl, ns, name, lambda s: s.get("scope") not in (None, "Unknown"), "a scope")
        assert (st["scope"], st["route"]) == (scope, route), st["reason"]
        assert condition(st, "Ready")["status"] == "True"
        assert condition(st, "InScope")["status"] == in_scope
        assert st["engagement"] == f"{ns}/contract"
        assert ("firstResponse" in st) == (in_scope == "True")
        assert st["responsibilities"]
    incident = sr_status(kubectl, ns, "incident")
    assert condition(incident, "Complete")["status"] == "True"
    assert condition(incident, "Eligible")["status"] == "True"
    assert incident["products"][0]["product"] == "reloader" and incident["products"][0]["version"] == "1.4.21"
    assert incident["diagnostics"]["workloads"][0]["workload"] == f"{ns}/Deployment/reloader"
    assert "timelines depend on the vendor" in sr_status(kubectl, ns, "upstream")["firstResponse"]["note"]
    # the printer columns answer "where does it go, and when is the answer due" at a glance
    table = kubectl.run("get", "sr", "-n", ns).stdout
    header = table.splitlines()[0].split()
    assert header[:8] == ["NAME", "SCOPE", "ROUTE", "SEVERITY", "SUGGESTED", "DUE", "ELIGIBLE", "COMPLETE"]
    assert any(line.split()[:3] == ["pentest", "Excluded", "ProfessionalServices"] for line in table.splitlines())


def test_due_times_weekend_holiday_dst_and_premium(kubectl: Kubectl, namespace: str, test_matrix: str) -> None:
    ns = namespace
    calendar = {"timeZone": "Europe/Berlin", "holidayCalendar": "DE"}
    kubectl.apply(
        workload(ns, "reloader", RELOADER_OK),
        engagement(ns, "standard", matrixRef={"name": test_matrix}, agreement=calendar),
        engagement(ns, "premium", matrixRef={"name": test_matrix}, agreement=calendar, plan="Premium"),
    )
    common = {"workloads": [f"{ns}/Deployment/reloader"], "severity": "P1"}
    cases = {
        # Friday 15:00 CET + 8 business hours: the clocks go forward on Sunday -> Monday 15:00 CEST = 13:00 UTC
        "dst": ("standard", "2026-03-27T14:00:00Z", "2026-03-30T13:00:00Z"),
        # Friday 15:00 CEST; Monday 25 May is Whit Monday -> Tuesday 15:00 CEST
        "holiday": ("standard", "2026-05-22T13:00:00Z", "2026-05-26T13:00:00Z"),
        # Saturday: business hours start on Monday 09:00 CEST -> Monday 17:00 CEST
        "weekend": ("standard", "2026-06-06T10:00:00Z", "2026-06-08T15:00:00Z"),
        # Premium P1: one hour of elapsed time, weekend or not
        "premium": ("premium", "2026-06-06T10:00:00Z", "2026-06-06T11:00:00Z"),
    }
    for name, (plan, opened, _) in cases.items():
        kubectl.apply(request(ns, name, engagementRef={"name": plan}, ticket={"openedAt": opened}, **common))
    for name, (plan, _, due) in cases.items():
        st = wait_sr(kubectl, ns, name, lambda s: "firstResponse" in s, "a due time")
        assert st["firstResponse"]["due"] == due, (name, st["firstResponse"])
        assert st["engagement"] == f"{ns}/{plan}"
    assert sr_status(kubectl, ns, "dst")["firstResponse"]["businessHours"] is True
    assert "public holidays DE" in sr_status(kubectl, ns, "holiday")["firstResponse"]["calendar"]


def test_bad_input_is_not_ready_or_refused(kubectl: Kubectl, namespace: str, test_matrix: str) -> None:
    ns = namespace
    kubectl.apply(workload(ns, "reloader", RELOADER_OK), engagement(ns, matrixRef={"name": test_matrix}))
    kubectl.apply(
        request(ns, "no-engagement", engagementRef={"name": "nope"}),
        request(ns, "no-workload", workloads=[f"{ns}/Deployment/ghost"]),
        request(ns, "no-product", product="relaoder"),
        request(ns, "contradiction", product="forecastle", workloads=[f"{ns}/Deployment/reloader"]),
    )
    expected = {
        "no-engagement": ("EngagementNotFound", f"spec.engagementRef: SupportEngagement {ns}/nope not found"),
        "no-workload": ("InvalidSpec", f"spec.workloads[0]: workload {ns}/Deployment/ghost does not exist"),
        "no-product": ("InvalidSpec", "spec.product: 'relaoder' is not in CompatibilityMatrix"),
        "contradiction": ("InvalidSpec", "runs reloader, not spec.product 'forecastle'"),
    }
    for name, (reason, message) in expected.items():
        st = wait_sr(kubectl, ns, name, lambda s: condition(s, "Ready").get("status") == "False", "Ready=False")
        ready = condition(st, "Ready")
        assert ready["reason"] == reason and message in ready["message"], ready
    # schema limits refuse oversized or malformed requests at apply
    refused = kubectl.apply(
        request(ns, "huge", title="x" * 201, severity="P9", workloads=["not a ref"] * 21),
        check=False,
        server_validation_only=True,
    )
    assert refused.returncode != 0
    for field in ("spec.title", "spec.severity", "spec.workloads"):
        assert field in refused.stderr, refused.stderr
    # nothing was written to the workload
    meta = kubectl.get("deployment", "reloader", "-n", ns)["metadata"]
    assert not any("stakater" in key for key in (meta.get("annotations") or {}))
    assert not meta.get("finalizers")


def test_retriage_after_upgrade_with_events_and_diagnostics(
    kubectl: Kubectl, namespace: str, test_matrix: str, operator: OperatorProcess
) -> None:
    ns = namespace
    kubectl.apply(workload(ns, "reloader", RELOADER_EOL), engagement(ns, matrixRef={"name": test_matrix}))
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "reloader.crashloop", "namespace": ns},
            "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "reloader", "namespace": ns},
            "reason": "BackOff",
            "message": "Back-off restarting failed container",
            "type": "Warning",
            "count": 7,
            "firstTimestamp": "2026-06-01T10:00:00Z",
            "lastTimestamp": "2026-06-01T10:05:00Z",
        }
    )
    kubectl.apply(
        request(
            ns,
            "p1",
            workloads=[f"{ns}/Deployment/reloader"],
            severity="P1",
            impact="ProductionOutage",
            workaround="None",
        )
    )
    st = wait_sr(kubectl, ns, "p1", lambda s: condition(s, "Eligible").get("reason") == "UpgradeFirst", "UpgradeFirst")
    product = st["products"][0]
    assert (product["lifecycle"], product["eligibility"], product["actionOwner"]) == (
        "EndOfLife",
        "Ineligible",
        "Customer",
    )
    assert "upgrade first" in product["note"]
    assert st["responsibilities"][0]["item"] == "Upgrade reloader 1.1.0 to 1.4.21 first"
    diag = st["diagnostics"]["workloads"][0]
    assert diag["found"] is True and any("BackOff (x7): Back-off restarting" in e for e in diag["events"])
    # metrics: the P1 against an ineligible product is visible to the alert
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert (
        f'stakater_support_request_ineligible_products{{namespace="{ns}",owner="Customer",request="p1",'
        f'request_severity="P1"}} 1.0' in text
    )
    assert (
        f'stakater_support_request_first_response_due_seconds{{engagement="contract",namespace="{ns}",request="p1",request_severity="P1"}}'
        in text
    )

    kubectl.run("set", "image", "deployment/reloader", f"c0={RELOADER_OK}", "-n", ns)
    st = wait_sr(
        kubectl, ns, "p1", lambda s: condition(s, "Eligible").get("status") == "True", "Eligible after upgrade"
    )
    assert st["products"][0]["version"] == "1.4.21"
    assert not any(r["item"].startswith("Upgrade") for r in st["responsibilities"])

    def events() -> list[dict[str, Any]]:
        out = kubectl.run(
            "get", "events", "-n", ns, "--field-selector", "involvedObject.kind=SupportRequest", "-o", "json"
        )
        return [e for e in json.loads(out.stdout)["items"] if e["involvedObject"]["name"] == "p1"]

    seen = wait_for(lambda: len(events()) >= 2 and events(), what="two triage Events")
    reasons = [(e["type"], e["reason"]) for e in seen]
    assert ("Warning", "Triaged") in reasons and ("Normal", "Triaged") in reasons

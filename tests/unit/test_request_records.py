"""SupportRequest records, status writes and the bounded diagnostics summary. Pure."""

from __future__ import annotations

import datetime as dt

from eligibility_operator.api.requests import Scope, SupportRequestStatus
from eligibility_operator.core.requests.diagnostics import summary, workload_diagnostics
from eligibility_operator.core.requests.records import record_from_body, status_to_write, triage_summary
from eligibility_operator.core.requests.triage import not_ready
from eligibility_operator.core.verdict.evaluation import Platform

NOW = dt.datetime(2026, 6, 2, 10, 0, tzinfo=dt.UTC)


def body(**spec: object) -> dict[str, object]:
    return {
        "metadata": {
            "namespace": "team-a",
            "name": "r",
            "uid": "u1",
            "generation": 2,
            "creationTimestamp": "2026-06-02T09:00:00Z",
        },
        "spec": {"category": "Incident", "title": "t", **spec},
    }


def test_record_opened_at_defaults_to_creation_time() -> None:
    record = record_from_body(body())
    assert record.key == ("team-a", "r") and record.spec is not None
    assert record.opened_at == dt.datetime(2026, 6, 2, 9, 0, tzinfo=dt.UTC)
    opened = record_from_body(body(ticket={"openedAt": "2026-06-01T08:00:00+02:00"}))
    assert opened.opened_at == dt.datetime(2026, 6, 1, 6, 0, tzinfo=dt.UTC)


def test_invalid_spec_is_kept_with_the_error() -> None:
    record = record_from_body(body(severity="P7"))
    assert record.spec is None and record.spec_error and "spec.severity" in record.spec_error


def test_status_written_only_on_change_and_transition_times_kept() -> None:
    status = not_ready("InvalidSpec", "spec.product: nope", 2)
    first = status_to_write(status, None, NOW)
    assert first is not None and first["lastTriageTime"] == "2026-06-02T10:00:00Z"
    assert status_to_write(status, first, NOW + dt.timedelta(hours=1)) is None
    changed = status.model_copy(update={"reason": "other"})
    second = status_to_write(changed, first, NOW + dt.timedelta(hours=1))
    assert second is not None
    assert second["conditions"][0]["lastTransitionTime"] == "2026-06-02T10:00:00Z"
    assert triage_summary(second) == ("Unknown", "Unknown", "False", "Unknown", None)
    assert triage_summary(None) == ()
    assert SupportRequestStatus.model_validate(second).scope == Scope.UNKNOWN


def test_diagnostics_are_bounded_and_read_only_status_and_events() -> None:
    events = [
        {
            "type": "Warning",
            "reason": f"R{i}",
            "message": "m" * 500,
            "count": 3,
            "lastTimestamp": f"2026-06-02T09:{i:02d}:00Z",
        }
        for i in range(30)
    ]
    status = {
        "readyReplicas": 1,
        "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "x"}]
        * 20,
    }
    d = workload_diagnostics("team-a/Deployment/reloader", status, 2, events)
    assert d.found and d.replicas == "1/2 ready"
    assert len(d.conditions) == 10 and len(d.events) == 5
    assert d.events[0].startswith("2026-06-02T09:29:00Z Warning R29 (x3): m")
    assert all(len(line) <= 200 for line in d.events)
    gone = workload_diagnostics("team-a/Deployment/gone", None, None, [])
    assert not gone.found and gone.events == []
    ds = workload_diagnostics("team-a/DaemonSet/agent", {"numberReady": 3, "desiredNumberScheduled": 4}, None, [])
    assert ds.replicas == "3/4 ready"
    s = summary(Platform(kubernetes="1.30.2", openshift="4.18.3"), ["reloader 1.4.21 (Supported)"], [d, gone])
    assert s.platform == "Kubernetes 1.30.2, OpenShift 4.18.3" and len(s.workloads) == 2
    assert summary(Platform(), [], []).platform == "unknown"

"""The refresher's pure parts: conditions (Stale after maxAge), change descriptions, durations, the stored
copy's encoding, and the spec.source settings that are refused."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from eligibility_operator.api.models import CompatibilityMatrixObjectSpec, CompatibilityMatrixSpec, MatrixSource
from eligibility_operator.core.compat.matrix import settings_problem
from eligibility_operator.matrix_source import Reason, SourceError
from eligibility_operator.matrix_source.duration import seconds
from eligibility_operator.runtime.controllers.matrix_status import (
    Sourced,
    matrix_changes,
    source_conditions,
)
from eligibility_operator.runtime.controllers.matrix_store import MemoryStore, StoredCopy

from ..builders import matrix

NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
SOURCE = MatrixSource(url="https://stakater.example/matrix.yaml", digest="sha256:" + "a" * 64, max_age="7d")


def _sourced(**state: object) -> Sourced:
    s = Sourced("m", "uid", 1, SOURCE, 6 * 3600.0, 7 * 86400.0)
    for key, value in state.items():
        setattr(s, key, value)
    return s


def _by_type(s: Sourced, when: dt.datetime = NOW) -> dict[str, tuple[str, str, str]]:
    return {c.type: (c.status, c.reason, c.message) for c in source_conditions(s, when)}


def test_conditions_current_failing_stale_and_never_fetched() -> None:
    fetched = NOW - dt.timedelta(hours=1)
    ok = _by_type(_sourced(revision="sha256:r", last_fetched=fetched, attempted=True))
    assert ok["Fetched"][:2] == ("True", "Fetched") and ok["Current"][:2] == ("True", "UpToDate")
    down = SourceError(Reason.SOURCE_UNREACHABLE, "connection refused")
    failing = _by_type(_sourced(revision="sha256:r", last_fetched=fetched, attempted=True, failure=down))
    assert failing["Fetched"][:2] == ("False", "SourceUnreachable") and "connection refused" in failing["Fetched"][2]
    assert failing["Current"][:2] == ("False", "SourceUnreachable") and "sha256:r" in failing["Current"][2]
    old = NOW - dt.timedelta(days=8)
    stale = _by_type(_sourced(revision="sha256:r", last_fetched=old, attempted=True, failure=down))
    assert stale["Current"][:2] == ("False", "Stale") and "7d" in stale["Current"][2]
    assert stale["Current"][2].startswith("[EO301] ")  # the finding code (docs/reference/findings.md)
    never = _by_type(_sourced(attempted=True, failure=SourceError(Reason.SIGNATURE_INVALID, "x")))
    assert never["Current"][:2] == ("False", "SignatureInvalid") and "cannot be evaluated" in never["Current"][2]
    assert never["Fetched"][2].startswith("[EO302] ") and not failing["Fetched"][2].startswith("[")
    assert _by_type(_sourced())["Fetched"][:2] == ("Unknown", "Pending")


def test_changes_name_added_lines_and_moved_dates() -> None:
    old = CompatibilityMatrixSpec.model_validate(matrix("m")["spec"])
    raw = matrix("m")["spec"]
    raw["products"][0]["releases"].append({"version": "1.5", "released": "2026-11-01", "latest": "1.5.0"})
    raw["products"][0]["releases"][2]["endOfSupport"] = "2027-11-01"
    raw["products"][1]["releases"][0]["latest"] = "2.0.2"
    raw["products"].append({"name": "tronador"})
    new = CompatibilityMatrixSpec.model_validate(raw)
    changes = matrix_changes(old, new)
    assert "reloader 1.5 added" in changes
    assert "reloader 1.4 end of support set to 2027-11-01" in changes
    assert "forecastle 2.0 latest moved from 2.0.1 to 2.0.2" in changes
    assert "product tronador added" in changes
    assert "product tronador removed" in matrix_changes(new, old)
    assert matrix_changes(new, new) == []


@pytest.mark.parametrize(("text", "want"), [("30s", 30), ("15m", 900), ("6h", 21600), ("7d", 604800), ("1h30m", 5400)])
def test_durations(text: str, want: float) -> None:
    assert seconds(text) == want


@pytest.mark.parametrize("text", ["", "6", "h", "0s", "1x", "6h ", "-1h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        seconds(text)


def test_stored_copies_round_trip_and_a_damaged_entry_is_left_out() -> None:
    store = MemoryStore()
    copy = StoredCopy(b"kind: CompatibilityMatrix\n", b"sig\n", "sha256:r", "oci://r/m:1", "2026-12-01T00:00:00Z", "x")
    store.save("a", copy)
    store.save("a.b", copy)  # names with dots do not collide
    store.save("a", copy)
    assert store.load() == {"a": copy, "a.b": copy}
    store.binary["a.yaml.gz"] = "not base64 gzip"
    assert store.load() == {"a.b": copy}


def test_a_source_must_be_pinned_or_signed_and_alone() -> None:
    bare = CompatibilityMatrixObjectSpec.model_validate({"source": {"url": "https://x/m.yaml"}})
    assert "digest or publicKey" in (settings_problem(bare) or "")
    mixed = CompatibilityMatrixObjectSpec.model_validate(
        {"source": SOURCE.model_dump(by_alias=True), "products": yaml.safe_load("[{name: reloader}]")}
    )
    assert "come from the fetched document" in (settings_problem(mixed) or "")
    assert settings_problem(CompatibilityMatrixObjectSpec.model_validate({"source": SOURCE.model_dump()})) is None


def test_current_turns_stale_when_max_age_passes_without_a_fetch() -> None:
    """The refresher re-writes the status when maxAge passes, once; not at the next fetch attempt."""
    from eligibility_operator.runtime.controllers.matrices import MatrixRefresher
    from eligibility_operator.runtime.metrics import OperatorMetrics
    from eligibility_operator.runtime.parts import Parts
    from eligibility_operator.runtime.state import OperatorState
    from eligibility_operator.runtime.tasks import BackgroundTasks

    from ..fake_kube import FakeKubeApi

    now = [NOW]
    parts = Parts(OperatorState(), FakeKubeApi(), OperatorMetrics(), BackgroundTasks())  # type: ignore[arg-type]
    written: list[str] = []
    refresher = MatrixRefresher(
        parts, MemoryStore(), changed=lambda name, content: written.append(name), clock=lambda: now[0]
    )
    refresher.sources["m"] = _sourced(revision="sha256:r", last_fetched=NOW, attempted=True)
    refresher.notice_stale()
    assert written == []  # fresh, as its status says
    now[0] = NOW + dt.timedelta(days=7, seconds=1)
    refresher.notice_stale()
    refresher.notice_stale()
    assert written == ["m"]  # once
    assert _by_type(refresher.sources["m"], now[0])["Current"][:2] == ("False", "Stale")
    refresher.sources["m"].last_fetched = now[0]  # a good fetch: fresh again, and the status is told
    refresher.notice_stale()
    assert written == ["m", "m"]

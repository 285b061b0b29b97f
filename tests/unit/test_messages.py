"""Condition messages are bounded without cutting findings or words."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from eligibility_operator.core.verdict.messages import shorten


def test_short_messages_are_unchanged() -> None:
    assert shorten("reloader 1.0.0 is end of life; forecastle 1.0.1 is end of life") == (
        "reloader 1.0.0 is end of life; forecastle 1.0.1 is end of life"
    )


def test_whole_findings_are_dropped_and_counted() -> None:
    findings = [f"reloader 1.0.{i} is end of life in ns/Deployment/w{i}" for i in range(100)]
    text = shorten("; ".join(findings), limit=300)
    assert len(text) <= 300
    kept = text.split("; and ")[0].split("; ")
    assert kept == findings[: len(kept)]  # no finding is cut
    assert text.endswith(f"; and {100 - len(kept)} more (see status.products)")


def test_one_long_finding_is_cut_at_a_word() -> None:
    text = shorten("word " * 400, limit=100)
    assert len(text) <= 100 and text.endswith("word…")


@given(st.lists(st.text(alphabet="ab ", min_size=1, max_size=80), min_size=1, max_size=40), st.integers(60, 400))
def test_never_longer_than_the_limit(parts: list[str], limit: int) -> None:
    assert len(shorten("; ".join(parts), limit=limit)) <= limit

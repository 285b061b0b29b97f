"""Audit Events from the admission webhook: de-duplicated, rate-limited, bounded, clean. Pure.

Anybody who can reach the webhook, or create workloads, decides how often it is called and what
the reviewed objects are named. Without limits every review in Audit mode becomes one Warning
Event per covering engagement (1,000 forged reviews x 20 engagements = 20,000 Events), with
attacker-chosen text. Here:

- de-duplication: one Event per finding key (engagement, workload, product version) per window;
  repeats are counted and the count goes into the next Event for that key;
- rate limit: at most ``burst`` Events per engagement, refilled at ``burst`` per window, so that
  findings with ever new workload names cannot flood either; what is held back is counted and
  reported in the engagement's next Event. All engagements together get ``total_burst`` per window:
  one finding under 100 overlapping engagements is 100 Events, and a cap per engagement alone
  multiplied with them (issue 37);
- bounds: at most ``max_keys`` keys are remembered (the oldest are forgotten first) and at most
  ``max_pending`` Events wait to be posted (the rest are dropped and counted);
- text: control characters (newlines, escape sequences, bidi overrides) become spaces.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass

# C0 and C1 control characters, DEL, and the Unicode line/paragraph separators and bidi controls:
# all can fake lines or reorder text in `kubectl describe` and terminals.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")

Engagement = tuple[str, str]  # namespace, name
AuditKey = tuple[str, str, str]  # engagement namespace, engagement name, the finding (workload, product, version)


def clean_text(text: str, limit: int = 1024) -> str:
    """``text`` with control characters replaced by a space, cut to ``limit`` characters."""
    cleaned = _CONTROL.sub(" ", text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


@dataclass(frozen=True)
class AuditEvent:
    """One Event to post on ``engagement``; ``repeats`` and ``held_back`` findings were not posted before it."""

    engagement: Engagement
    message: str
    repeats: int = 0
    held_back: int = 0

    def text(self) -> str:
        notes = []
        if self.repeats:
            notes.append(f"seen {self.repeats} more times since the last Event about it")
        if self.held_back:
            notes.append(f"{self.held_back} other findings on this engagement were not posted (rate limit)")
        return clean_text(self.message + (f" ({'; '.join(notes)})" if notes else ""))


@dataclass
class _Bucket:
    tokens: float
    updated: float
    held_back: int = 0


class AuditLimiter:
    """Decides which audit findings become Events; the caller posts them and owns the clock."""

    def __init__(
        self,
        window: float = 3600.0,
        burst: int = 10,
        max_keys: int = 4096,
        max_pending: int = 100,
        total_burst: int = 50,
    ) -> None:
        self.window = window
        self.burst = burst
        self.total_burst = total_burst
        self._total = _Bucket(tokens=float(total_burst), updated=0.0)
        self.max_keys = max_keys
        self.max_pending = max_pending
        self._seen: OrderedDict[AuditKey, tuple[float, int]] = OrderedDict()  # key -> (last posted, repeats)
        self._buckets: dict[Engagement, _Bucket] = {}
        self.pending = 0  # Events handed out and not yet reported done
        self.suppressed_total = 0  # repeats within the window
        self.held_back_total = 0  # over the rate limit
        self.dropped_total = 0  # over the pending bound

    def admit(self, key: AuditKey, message: str, now: float) -> AuditEvent | None:
        """An Event to post for ``key`` now, or None (a repeat, over the rate, or too much pending)."""
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.window:
            self._seen[key] = (seen[0], seen[1] + 1)
            self.suppressed_total += 1
            return None
        engagement = (key[0], key[1])
        bucket = self._bucket(engagement, now)
        total = self._refill(self._total, self.total_burst, now)
        if bucket.tokens < 1 or total.tokens < 1:
            bucket.held_back += 1
            self.held_back_total += 1
            return None
        if self.pending >= self.max_pending:
            bucket.held_back += 1
            self.dropped_total += 1
            return None
        bucket.tokens -= 1
        total.tokens -= 1
        event = AuditEvent(engagement, message, repeats=seen[1] if seen else 0, held_back=bucket.held_back)
        bucket.held_back = 0
        self._seen[key] = (now, 0)
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        self.pending += 1
        return event

    def done(self) -> None:
        """One Event handed out by :meth:`admit` was posted (or failed)."""
        self.pending = max(0, self.pending - 1)

    def retain(self, live: Collection[Engagement]) -> None:
        """Drop the rate state of engagements not in ``live`` (deleted ones; their keys age out of the
        bounded table). Linear in the engagements with rate state, at most the covering ones."""
        for engagement in [e for e in self._buckets if e not in live]:
            del self._buckets[engagement]

    def withheld(self) -> dict[str, int]:
        """Findings not posted so far, by reason (the metric's labels)."""
        return {
            "duplicate": self.suppressed_total,
            "rate_limited": self.held_back_total,
            "overflow": self.dropped_total,
        }

    @property
    def engagements(self) -> int:
        """How many engagements have rate state."""
        return len(self._buckets)

    def _bucket(self, engagement: Engagement, now: float) -> _Bucket:
        bucket = self._buckets.get(engagement)
        if bucket is None:
            bucket = self._buckets[engagement] = _Bucket(tokens=float(self.burst), updated=now)
        return self._refill(bucket, self.burst, now)

    def _refill(self, bucket: _Bucket, burst: int, now: float) -> _Bucket:
        refill = max(0.0, now - bucket.updated) * burst / self.window
        bucket.tokens = min(float(burst), bucket.tokens + refill)
        bucket.updated = now
        return bucket

"""Audit Events from the admission webhook: de-duplicated, rate-limited, bounded, clean. Pure.

Anybody who can reach the webhook, or create workloads, decides how often it is called and what
the reviewed objects are named. Without limits every review in Audit mode becomes one Warning
Event per covering engagement (1,000 forged reviews x 20 engagements = 20,000 Events), with
attacker-chosen text. Here each (engagement, workload, product version) gives at most one Event
per window; repeats within the window are counted and reported with the next Event for that key.
Memory is bounded: at most ``max_keys`` keys are remembered (the oldest are forgotten first) and
at most ``max_pending`` Events wait to be posted (the rest are dropped and counted).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

# C0 and C1 control characters, DEL, and the Unicode line/paragraph separators and bidi controls:
# all can fake lines or reorder text in `kubectl describe` and terminals.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")

AuditKey = tuple[str, str, str, str, str]  # engagement namespace, engagement name, workload ref, product, version


def clean_text(text: str, limit: int = 1024) -> str:
    """``text`` with control characters replaced by a space, cut to ``limit`` characters."""
    cleaned = _CONTROL.sub(" ", text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


@dataclass(frozen=True)
class AuditEvent:
    """One Event to post: for ``engagement`` (namespace, name), ``repeats`` suppressed before it."""

    engagement: tuple[str, str]
    message: str
    repeats: int

    def text(self) -> str:
        suffix = f" (and {self.repeats} more like it in the last hour)" if self.repeats else ""
        return clean_text(self.message + suffix)


@dataclass
class _Seen:
    last_posted: float
    suppressed: int = 0


class AuditLimiter:
    """Decides which audit findings become Events; the caller posts them and owns the clock."""

    def __init__(self, window: float = 3600.0, max_keys: int = 10_000, max_pending: int = 100) -> None:
        self.window = window
        self.max_keys = max_keys
        self.max_pending = max_pending
        self._seen: OrderedDict[AuditKey, _Seen] = OrderedDict()
        self.pending = 0  # Events handed out and not yet reported done
        self.suppressed_total = 0
        self.dropped_total = 0

    def admit(self, key: AuditKey, message: str, now: float) -> AuditEvent | None:
        """An Event to post for ``key`` now, or None (a repeat within the window, or too much pending)."""
        seen = self._seen.get(key)
        if seen is not None and now - seen.last_posted < self.window:
            seen.suppressed += 1
            self.suppressed_total += 1
            return None
        if self.pending >= self.max_pending:
            self.dropped_total += 1
            if seen is not None:
                seen.suppressed += 1
            return None
        repeats = seen.suppressed if seen is not None else 0
        self._seen[key] = _Seen(last_posted=now)
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        self.pending += 1
        return AuditEvent(engagement=(key[0], key[1]), message=message, repeats=repeats)

    def done(self) -> None:
        """One Event handed out by :meth:`admit` was posted (or failed)."""
        self.pending = max(0, self.pending - 1)

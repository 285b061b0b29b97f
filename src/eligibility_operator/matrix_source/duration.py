"""Durations as the API writes them: ``30s``, ``15m``, ``6h``, ``7d``, ``1h30m``."""

from __future__ import annotations

import re

_PART = re.compile(r"([0-9]+)(s|m|h|d)")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str) -> float:
    """Seconds in ``text``; ValueError when it is not a duration or is zero."""
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r} (e.g. 30s, 15m, 6h, 7d, 1h30m)")
    total = sum(int(n) * _UNIT[u] for n, u in parts)
    if total <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    return float(total)

"""Bounded messages that are never cut mid-word.

Condition messages join findings with "; ". When they do not fit the limit, whole findings are
dropped from the end and the message says how many: "...; and 3 more (see status.products)".
A single finding longer than the limit is cut at a word boundary and marked with an ellipsis.
"""

from __future__ import annotations

SEPARATOR = "; "
DEFAULT_LIMIT = 1024


def _cut_at_word(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - 1)]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip(" ;,") + "…"


def shorten(text: str, limit: int = DEFAULT_LIMIT, where: str = "status.products") -> str:
    """``text`` within ``limit`` characters, dropping whole findings and saying how many."""
    if len(text) <= limit:
        return text
    parts = text.split(SEPARATOR)
    kept: list[str] = []
    for index, part in enumerate(parts):
        rest = len(parts) - index - 1
        suffix = f"{SEPARATOR}and {rest} more (see {where})" if rest else ""
        candidate = SEPARATOR.join([*kept, part])
        if len(candidate) + len(suffix) > limit:
            break
        kept.append(part)
    dropped = len(parts) - len(kept)
    if not kept:  # the first finding alone is too long
        suffix = f"{SEPARATOR}and {dropped - 1} more (see {where})" if dropped > 1 else ""
        return _cut_at_word(parts[0], limit - len(suffix)) + suffix
    return SEPARATOR.join(kept) + f"{SEPARATOR}and {dropped} more (see {where})"

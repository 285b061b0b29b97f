"""Log lines about bad requests: one line each, no traceback, at most a few per minute.

Whoever reaches a port decides how many bad requests it sends; aiohttp logs each malformed request
("Error handling request") with a full traceback, and a hostile review produced 117 of them. The
servers here hand aiohttp a logger of their own (``eligibility_operator.http``) whose filter turns
each record into one line naming the exception, and lets ``burst`` lines through per ``window``
seconds; the next line that passes says how many were left out. Handlers log their own bad-request
lines through :func:`bad_request` with the same limit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ...core.admission.audit import clean_text

HTTP_LOGGER = "eligibility_operator.http"


class BadRequestFilter(logging.Filter):
    """Rate-limits records and strips their tracebacks (the exception's type and text stay)."""

    def __init__(self, burst: int = 10, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self._clock = clock
        self._started = -window
        self._passed = 0
        self.suppressed = 0  # left out since the last line that passed
        self.suppressed_total = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        if now - self._started >= self.window:
            self._started, self._passed = now, 0
        if self._passed >= self.burst:
            self.suppressed += 1
            self.suppressed_total += 1
            return False
        self._passed += 1
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message = f"{message}: {type(exc).__name__}: {exc}"
        if self.suppressed:
            message += f" ({self.suppressed} similar lines left out)"
            self.suppressed = 0
        record.msg, record.args = clean_text(" ".join(message.split()), 300), None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        if record.levelno > logging.INFO:
            record.levelno, record.levelname = logging.INFO, "INFO"  # the client's fault, not ours
        return True


def http_logger() -> logging.Logger:
    """The logger aiohttp writes to for the operator's servers (one filter, installed once)."""
    logger = logging.getLogger(HTTP_LOGGER)
    if not any(isinstance(f, BadRequestFilter) for f in logger.filters):
        logger.addFilter(BadRequestFilter())
    return logger


def bad_request(text: str, *args: object) -> None:
    """Log one line about a bad request (rate-limited with aiohttp's own)."""
    http_logger().info(text, *args)

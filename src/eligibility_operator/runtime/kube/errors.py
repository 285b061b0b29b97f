"""An error status from the API server. Its own module, free of aiohttp and Kopf, so that what only needs
to recognise one (the Lease, imported by the command line) does not load them: the webhook's parser
process imports the command line's modules again when it starts, and each library there costs it memory."""

from __future__ import annotations


class ApiHttpError(Exception):
    """An HTTP error status from the API server (``status``, ``reason`` and the server's message)."""

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        super().__init__(f"HTTP {status} {reason}: {message[:300]}")
        self.status = status
        self.reason = reason
        self.message = message

"""Webhooks of access requests: HMAC-SHA256-signed POSTs, retried, never on the request path.

Each delivery is a JSON body ``{"event": "access_request.created" | "access_request.decided",
"request": {...}}`` with the headers ``X-Rebac-Timestamp`` (Unix seconds) and
``X-Rebac-Signature: sha256=<hex>``, the HMAC-SHA256 of ``<timestamp>.<body>`` under the shared
secret. A receiver recomputes it and rejects stale timestamps. Deliveries run as background tasks
(:meth:`Webhooks.fire` returns at once) with :data:`ATTEMPTS` tries and exponential back-off; a
failure is logged (the URL's host only) and dropped, so a broken receiver never delays or fails
an access request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import urllib.request
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = ["ATTEMPTS", "Webhooks", "sign"]

ATTEMPTS: Final = 4
"""Tries per delivery (the first and three retries)."""
_TIMEOUT_SECONDS: Final = 5.0
_FIRST_BACKOFF_SECONDS: Final = 0.2
_MAX_PENDING: Final = 1_000
"""Deliveries in flight at most; more are dropped (and logged), never queued without bound."""
_LOG = logging.getLogger("rebac.webhooks")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Rebac-Signature`` value of ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - configured URLs
    with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:  # noqa: S310
        return int(response.status)


class Webhooks:
    """Signed deliveries to the configured URLs.

    Args:
        urls: Receivers (none: every :meth:`fire` is a no-op).
        secret: The HMAC key (``None``: deliveries are sent unsigned).
    """

    __slots__ = ("_pending", "_secret", "_urls")

    def __init__(self, urls: tuple[str, ...], secret: str | None) -> None:
        self._urls = urls
        self._secret = secret
        self._pending: set[asyncio.Task[None]] = set()

    def fire(self, event: str, payload: dict[str, Any]) -> None:
        """Schedule ``event`` to every receiver and return at once."""
        if not self._urls:
            return
        body = json.dumps({"event": event, "request": payload}, sort_keys=True).encode()
        for url in self._urls:
            if len(self._pending) >= _MAX_PENDING:
                _LOG.warning("webhook to %s dropped: too many deliveries in flight", urlsplit(url).hostname)
                continue
            task = asyncio.get_running_loop().create_task(self._deliver(url, body))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _deliver(self, url: str, body: bytes) -> None:
        delay = _FIRST_BACKOFF_SECONDS
        for attempt in range(1, ATTEMPTS + 1):
            timestamp = str(int(time.time()))
            headers = {"Content-Type": "application/json", "X-Rebac-Timestamp": timestamp}
            if self._secret is not None:
                headers["X-Rebac-Signature"] = sign(self._secret, timestamp, body)
            try:
                status = await asyncio.to_thread(_post, url, body, headers)
            except (OSError, ValueError) as exc:
                status, error = 0, type(exc).__name__
            else:
                error = ""
                if status < 300:
                    return
            if attempt == ATTEMPTS:
                host = urlsplit(url).hostname
                _LOG.warning("webhook to %s failed after %d attempts (%s)", host, attempt, error or status)
                return
            await asyncio.sleep(delay)
            delay *= 2

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait (at most ``timeout`` seconds) for deliveries in flight, then cancel the rest."""
        if not self._pending:
            return
        _, late = await asyncio.wait(set(self._pending), timeout=timeout)
        for task in late:
            task.cancel()

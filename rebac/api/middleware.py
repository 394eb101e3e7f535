"""The ASGI layer around the whole app: request ids, the access log, and NUL-free query strings.

:class:`EdgeMiddleware` wraps Litestar's handler (router and exception handling included), so it
sees every HTTP request, unknown routes and refused keys too:

- **X-Request-ID.** The request's id (when present and sane: ASCII, not blank, at most 200
  characters) is echoed on the response, errors included (AuthZEN requires it); otherwise a new
  one is assigned and returned.
- **The access log.** One JSON line per request on the logger ``rebac.access`` (level INFO):
  ``time`` (UTC, when the request arrived), ``method``, ``path``, ``status``, ``keyId`` (the
  authenticated API key's id, never its secret; ``null`` when none was accepted), ``latencyMs``
  (until the response ended) and ``requestId``. ``REBAC_ACCESS_LOG=off`` turns it off.
- **NUL in the URL.** A query string or path holding a NUL character (``%00``) is refused with
  a 400 problem before routing: PostgreSQL text cannot hold it, and no filter needs it.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Final, cast

import msgspec
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from rebac.api.auth import Principal
from rebac.api.problems import PROBLEM_MEDIA_TYPE, clip, problem_for
from rebac.errors import InvalidInputError

__all__ = ["ACCESS_LOGGER", "EdgeMiddleware"]

ACCESS_LOGGER: Final = "rebac.access"
_HEADER: Final = b"x-request-id"
_MAX_LENGTH: Final = 200
_NUL_QUERY: Final = b"%00"
_ENCODER: Final = msgspec.json.Encoder()


def _request_id(scope: Scope) -> bytes:
    """The request's own ``X-Request-ID`` when sane, else a new one."""
    for name, value in scope["headers"]:
        if name == _HEADER:
            if len(value) <= _MAX_LENGTH and value.isascii() and value.strip():
                return bytes(value)
            break
    return uuid.uuid4().hex.encode()


class EdgeMiddleware:
    """See the module docstring.

    Args:
        app: Litestar's ASGI handler (router and exception handling).
        access_log: The logger of the access lines; ``None`` writes none.
    """

    __slots__ = ("_log", "app")

    def __init__(self, app: ASGIApp, *, access_log: logging.Logger | None) -> None:
        self.app = app
        self._log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection (anything but HTTP passes through untouched)."""
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self.app(scope, receive, send)
            return
        arrived = time.time()
        started = time.perf_counter()
        request_id = _request_id(scope)
        status = 500  # what the client gets when the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER]
                headers.append((_HEADER, request_id))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if _NUL_QUERY in scope["query_string"] or "\x00" in scope["path"]:
                await _refuse_nul(send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            log = self._log
            if log is not None and log.isEnabledFor(logging.INFO):
                log.info(_line(cast("HTTPScope", scope), status, arrived, started, request_id))


def _line(scope: HTTPScope, status: int, arrived: float, started: float, request_id: bytes) -> str:
    principal: Any = scope.get("state", {}).get("principal")
    return _ENCODER.encode(
        {
            "time": datetime.fromtimestamp(arrived, UTC).isoformat(timespec="milliseconds"),
            "method": scope["method"],
            "path": clip(scope["path"]),
            "status": status,
            "keyId": principal.key_id if isinstance(principal, Principal) else None,
            "latencyMs": round((time.perf_counter() - started) * 1000, 3),
            "requestId": request_id.decode("ascii"),
        }
    ).decode()


async def _refuse_nul(send: Send) -> None:
    problem = problem_for(
        InvalidInputError("the URL holds a NUL character (%00), which is not accepted", details={"at": "url"})
    )
    body = _ENCODER.encode(problem.body())
    await send(
        {
            "type": "http.response.start",
            "status": problem.kind.status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})

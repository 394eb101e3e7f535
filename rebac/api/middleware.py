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
  The request path only appends the line's raw fields to an :class:`AccessLog`; its thread
  formats and writes them every ``flush_seconds`` (50 ms), one write for the whole batch when
  the logger has only the standard-error handler. A crash can lose the last 50 ms of lines; a
  clean shutdown writes them all (:meth:`AccessLog.close`, from the app's lifespan).
- **NUL in the URL.** A query string or path holding a NUL character (``%00``) is refused with
  a 400 problem before routing: PostgreSQL text cannot hold it, and no filter needs it.
- **Front routes.** ``POST`` to a path in ``front`` (the decision endpoints, see
  :mod:`rebac.api.hot`) is offered to its :class:`~rebac.api.hot.HotRoute` before Litestar's
  exception middleware and router: an ordinary request is answered there with one start and one
  body message (the request id among its headers, so no per-message wrapper runs); anything else
  goes to the router with the body replayed, as if no front route existed. The access line and
  the metrics are the same for both (``path_template`` is the route's path).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any, Final, cast

import msgspec
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from rebac.api.auth import Principal
from rebac.api.hot import HotRoute
from rebac.api.problems import PROBLEM_MEDIA_TYPE, clip, problem_for
from rebac.errors import InvalidInputError
from rebac.services.observability import Metrics

__all__ = ["ACCESS_LOGGER", "AccessLog", "BatchHandler", "EdgeMiddleware"]

ACCESS_LOGGER: Final = "rebac.access"
_HEADER: Final = b"x-request-id"
_MAX_LENGTH: Final = 200
_NUL_QUERY: Final = b"%00"
_ENCODER: Final = msgspec.json.Encoder()
_FLUSH_SECONDS: Final = 0.05
_UNMATCHED: Final = "unmatched"

_Fields = tuple[float, str, str, int, str | None, float, bytes]
"""``(arrived, method, path, status, keyId, latencyMs, requestId)`` of one request."""


class BatchHandler(logging.Handler):
    """A handler that can also take many formatted lines at once (one write)."""

    def write_lines(self, text: str) -> None:
        """Write ``text`` (newline-terminated lines) as is."""
        raise NotImplementedError


class AccessLog:
    """The access lines of one app: appended by the request path, written by a thread.

    Args:
        logger: The ``rebac.access`` logger.
        flush_seconds: How long a line waits, at most, before it is written.
    """

    def __init__(self, logger: logging.Logger, *, flush_seconds: float = _FLUSH_SECONDS) -> None:
        self.logger = logger
        self._flush_seconds = flush_seconds
        self._pending: deque[_Fields] = deque()
        self._wake = threading.Event()
        self._drain_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def offer(self, fields: _Fields) -> None:
        """Queue one request's line (the request path's whole cost)."""
        if self._closed:
            self._write([fields])
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rebac-access-log", daemon=True)
            self._thread.start()
        if not self._pending:
            self._wake.set()
        self._pending.append(fields)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            time.sleep(self._flush_seconds)  # gather a batch
            self.flush()

    def flush(self) -> None:
        """Write every queued line now."""
        with self._drain_lock:
            pending = self._pending
            batch = [pending.popleft() for _ in range(len(pending))]
            if batch:
                self._write(batch)

    def _write(self, batch: list[_Fields]) -> None:
        lines = [_line(*fields) for fields in batch]
        handlers = list(self.logger.handlers)  # a snapshot: one added meanwhile waits for the next batch
        if (
            handlers
            and all(isinstance(h, BatchHandler) for h in handlers)
            and self.logger.isEnabledFor(logging.INFO)
        ):
            text = "\n".join(lines) + "\n"
            for handler in handlers:
                handler.write_lines(text)  # type: ignore[attr-defined]
            return
        for line in lines:
            self.logger.info(line)

    def close(self) -> None:
        """Write what is queued and stop the thread (later lines are written directly)."""
        self._closed = True
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(5.0)
        self.flush()


def _request_id(scope: Scope) -> bytes:
    """The request's own ``X-Request-ID`` when sane, else a new one."""
    for name, value in scope["headers"]:
        if name == _HEADER:
            if len(value) <= _MAX_LENGTH and value.isascii() and value.strip():
                return bytes(value)
            break
    return os.urandom(16).hex().encode()  # 32 hex digits, as uuid4().hex, without the UUID object


class EdgeMiddleware:
    """See the module docstring.

    Args:
        app: Litestar's ASGI handler (router and exception handling).
        access_log: Where the access lines go; ``None`` writes none.
        metrics: Where each request's duration is counted, by route template (``/metrics``).
    """

    __slots__ = ("access_log", "app", "front", "metrics")

    def __init__(
        self,
        app: ASGIApp,
        *,
        access_log: AccessLog | None,
        metrics: Metrics | None = None,
        front: dict[str, HotRoute] | None = None,
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.metrics = metrics
        self.front = front or {}

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
            elif (hot := self.front.get(scope["path"])) is not None and cast("HTTPScope", scope)[
                "method"
            ] == "POST":

                async def route(replayed: Receive) -> None:
                    await self.app(scope, replayed, send_with_id)

                scope["path_template"] = scope["path"]
                served = await hot.serve(scope, receive, send, send_with_id, route, ((_HEADER, request_id),))
                if served is not None:
                    status = served
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            http = cast("HTTPScope", scope)
            metrics = self.metrics
            if metrics is not None:
                metrics.observe_request(
                    http["method"], http.get("path_template", _UNMATCHED), status, elapsed
                )
            log = self.access_log
            if log is not None:
                principal: Any = http.get("state", {}).get("principal")
                log.offer(
                    (
                        arrived,
                        http["method"],
                        http["path"],
                        status,
                        principal.key_id if isinstance(principal, Principal) else None,
                        elapsed * 1000,
                        request_id,
                    )
                )


def _line(  # noqa: PLR0917 - the fields of one queued line, in order
    arrived: float,
    method: str,
    path: str,
    status: int,
    key_id: str | None,
    latency_ms: float,
    request_id: bytes,
) -> str:
    return _ENCODER.encode(
        {
            "time": datetime.fromtimestamp(arrived, UTC).isoformat(timespec="milliseconds"),
            "method": method,
            "path": clip(path),
            "status": status,
            "keyId": key_id,
            "latencyMs": round(latency_ms, 3),
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

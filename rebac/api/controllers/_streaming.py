"""Shared helpers: page-size limits, NDJSON negotiation and streaming (errors end the stream)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final, TypeVar

import msgspec
from litestar import Request
from litestar.response import Stream

from rebac.api.problems import problem_for
from rebac.config import ApiSettings
from rebac.errors import LimitExceededError
from rebac.limits import DEFAULT_LOOKUP_PAGE_SIZE

__all__ = [
    "NDJSON",
    "SSE",
    "event_stream",
    "ndjson",
    "page_limit",
    "primed",
    "wants_ndjson",
    "wants_sse",
]

NDJSON: Final = "application/x-ndjson"
SSE: Final = "text/event-stream"
T = TypeVar("T")
_NOTHING: Final[Any] = object()


def wants_ndjson(request: Request[Any, Any, Any]) -> bool:
    """True when the caller asked for NDJSON (``Accept: application/x-ndjson``)."""
    return NDJSON in request.headers.get("accept", "")


def wants_sse(request: Request[Any, Any, Any]) -> bool:
    """True when the caller asked for server-sent events (``Accept: text/event-stream``)."""
    return SSE in request.headers.get("accept", "")


def page_limit(requested: int | None, settings: ApiSettings, *, name: str = "optionalLimit") -> int:
    """The page size to use: the default when unset or 0, else the request's if within the limit.

    Raises:
        LimitExceededError: a negative size or one above ``max_page_size``.
    """
    if requested is None or requested == 0:
        return min(DEFAULT_LOOKUP_PAGE_SIZE, settings.max_page_size)
    if requested < 0 or requested > settings.max_page_size:
        raise LimitExceededError(
            f"{name} must be between 1 and {settings.max_page_size}",
            limit="MAX_LOOKUP_PAGE_SIZE",
            maximum=settings.max_page_size,
            actual=requested,
        )
    return requested


async def primed(items: AsyncIterator[T]) -> AsyncIterator[T]:
    """``items``, whose first item is read now: an error before any item is an ordinary problem.

    A stream's status line is sent before its first item, so without this a query that fails at
    once (a store error, say) would answer 200 and one error line.
    """
    try:
        first = await anext(items)
    except StopAsyncIteration:
        first = _NOTHING

    async def chained() -> AsyncIterator[T]:
        if first is not _NOTHING:
            yield first
        async for item in items:
            yield item

    return chained()


async def _lines(items: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    encoder = msgspec.json.Encoder()
    try:
        async for item in items:
            yield encoder.encode({"result": item}) + b"\n"
    except Exception as exc:  # noqa: BLE001 - the stream has started: report the error as its last line
        yield encoder.encode({"error": problem_for(exc).body()}) + b"\n"


def ndjson(items: AsyncIterator[Any], headers: dict[str, str] | None = None) -> Stream:
    """Stream ``{"result": item}`` lines; an error mid-stream becomes a final ``{"error": problem}`` line."""
    # The explicit header wins over the JSON media type of handlers that may also answer JSON.
    return Stream(_lines(items), media_type=NDJSON, headers={"Content-Type": NDJSON, **(headers or {})})


async def _events(items: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    encoder = msgspec.json.Encoder()
    try:
        async for item in items:
            yield b"event: result\ndata: " + encoder.encode(item) + b"\n\n"
    except Exception as exc:  # noqa: BLE001 - the stream has started: report the error as its last event
        yield b"event: error\ndata: " + encoder.encode(problem_for(exc).body()) + b"\n\n"


def event_stream(items: AsyncIterator[Any]) -> Stream:
    """Server-sent events: one ``result`` event per item; an error ends the stream as an ``error`` event."""
    return Stream(_events(items), media_type=SSE, headers={"Content-Type": SSE, "Cache-Control": "no-store"})

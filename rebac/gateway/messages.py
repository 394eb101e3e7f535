"""JSON-RPC messages as the gateway sees them, and the answers it forwards.

An answer of the streamable HTTP transport is one JSON document (``application/json``) or a
server-sent event stream (``text/event-stream``) whose ``message`` events carry JSON-RPC
messages; :func:`rewrite_response` edits the response to one request id in either form.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

__all__ = [
    "Answer",
    "Incoming",
    "decode_message",
    "error_answer",
    "json_answer",
    "read_all",
    "rewrite_response",
]

JSON: Final = b"application/json"
SSE: Final = b"text/event-stream"
_DECODER: Final = msgspec.json.Decoder()
_ENCODER: Final = msgspec.json.Encoder()
Headers = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class Incoming:
    """One POSTed JSON-RPC message: its text, its decoded form and the request's headers."""

    body: bytes
    message: dict[str, Any]
    headers: Headers

    @property
    def method(self) -> str | None:
        """The method, for a request or a notification."""
        method = self.message.get("method")
        return method if isinstance(method, str) else None

    @property
    def params(self) -> dict[str, Any] | None:
        """The params, when an object."""
        params = self.message.get("params")
        return params if isinstance(params, dict) else None


@dataclass(slots=True)
class Answer:
    """What goes back to the client: a status, headers and a body (whole, or streamed)."""

    status: int
    headers: Headers
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    close: Callable[[], Awaitable[None]] | None = field(default=None, repr=False)
    ended: Callable[[], bool] | None = field(default=None, repr=False)
    """Whether the stream has nothing more after the chunk it last gave (its end goes with that chunk)."""

    @property
    def media(self) -> bytes:
        """The ``Content-Type`` without parameters, lowercased."""
        for name, value in self.headers:
            if name.lower() == b"content-type":
                return value.split(b";", 1)[0].strip().lower()
        return b""


def decode_message(body: bytes) -> dict[str, Any]:
    """One JSON-RPC message object.

    Raises:
        ValueError: not JSON, or not one object (a batch is refused: MCP has none since 2025-06-18).
    """
    try:
        message = _DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(f"the body is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        # a bad body (reported as a parse error), not a programming error: ValueError, not TypeError
        raise ValueError("the body must be one JSON-RPC message object (batches are not accepted)")  # noqa: TRY004
    return message


def json_answer(message: Any, status: int = 200, headers: Headers | None = None) -> Answer:
    """``message`` as an ``application/json`` answer."""
    return Answer(status, [(b"content-type", JSON), *(headers or [])], _ENCODER.encode(message))


def error_answer(request_id: Any, error: dict[str, Any], status: int = 200) -> Answer:
    """A JSON-RPC error response to ``request_id``."""
    return json_answer({"jsonrpc": "2.0", "id": request_id, "error": error}, status)


async def read_all(answer: Answer) -> Answer:
    """``answer`` with its stream read into ``body``."""
    if answer.stream is None:
        return answer
    chunks = [chunk async for chunk in answer.stream]
    if answer.close is not None:
        await answer.close()
    return Answer(answer.status, answer.headers, b"".join(chunks))


Edit = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


async def rewrite_response(answer: Answer, request_id: Any, edit: Edit) -> Answer:
    """``answer`` read whole, the ``result`` of the response to ``request_id`` replaced by ``edit``'s."""
    answer = await read_all(answer)
    if answer.status != 200:
        return answer
    headers = [(k, v) for k, v in answer.headers if k.lower() != b"content-length"]
    if answer.media == JSON:
        message = decode_message(answer.body)
        if message.get("id") == request_id and isinstance(message.get("result"), dict):
            message["result"] = await edit(message["result"])
        return Answer(200, headers, _ENCODER.encode(message))
    if answer.media == SSE:
        return Answer(200, headers, await _rewrite_events(answer.body, request_id, edit))
    return answer


async def _rewrite_events(body: bytes, request_id: Any, edit: Edit) -> bytes:
    out: list[bytes] = []
    for event in body.replace(b"\r\n", b"\n").split(b"\n\n"):
        if not event.strip():
            continue
        lines = event.split(b"\n")
        data = b"\n".join(line[5:].lstrip(b" ") for line in lines if line.startswith(b"data:"))
        message = _DECODER.decode(data) if data else None
        if (
            isinstance(message, dict)
            and message.get("id") == request_id
            and isinstance(message.get("result"), dict)
        ):
            message["result"] = await edit(message["result"])
            kept = [line for line in lines if not line.startswith(b"data:")]
            lines = [*kept, b"data: " + _ENCODER.encode(message)]
        out.append(b"\n".join(lines) + b"\n\n")
    return b"".join(out)

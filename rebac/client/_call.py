"""What a client method asks for, as data: one request, a streamed request, or a cursor walk.

The sync and async clients share every request builder; they differ only in how they send a
:class:`Call` (``httpx.Client`` or ``httpx.AsyncClient``, ``time.sleep`` or ``asyncio.sleep``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from rebac.client._config import Idempotency, Timeouts

if TYPE_CHECKING:
    import httpx

__all__ = ["Call", "Page", "Paged", "StreamCall", "T", "decoder", "json_decoder"]

T = TypeVar("T")
W = TypeVar("W")

Page = tuple[list[T], str | None]
"""One page of items and the cursor of the next page (``None``: the last page)."""


def decoder(wire: type[W]) -> Callable[[bytes | str], W]:
    """A function that decodes JSON as ``wire``; the msgspec decoder is built on first use.

    Building a decoder resolves every type it names, which would otherwise be paid at import.
    """
    built: list[msgspec.json.Decoder[W]] = []

    def decode(body: bytes | str) -> W:
        if not built:
            built.append(msgspec.json.Decoder(wire))
        return built[0].decode(body)

    return decode


def json_decoder(wire: type[W], convert: Callable[[W], T]) -> Callable[[bytes], T]:
    """A function that decodes a body as ``wire`` and converts it with ``convert``."""
    decode_wire = decoder(wire)

    def decode(body: bytes) -> T:
        return convert(decode_wire(body))

    return decode


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request and how to read its answer.

    Attributes:
        method: HTTP method.
        path: Path below the base URL.
        decode: Turns the body of a 2xx answer into the method's value.
        json: The JSON body, if any.
        params: Query parameters.
        headers: Extra headers (the AuthZEN consistency header).
        idempotency: How safe a retry is.
        token: The consistency token an answer carries (remembered for read-your-writes).
        auto_token: The read-your-writes token this request carries, if it was added automatically.
        timeout: Overrides the client's timeouts for this call.
        content: A streamed request body (bulk import).
    """

    method: str
    path: str
    decode: Callable[[bytes], T]
    json: Any = None
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotency: Idempotency = Idempotency.READ
    token: Callable[[T], str | None] | None = None
    auto_token: str | None = None
    timeout: httpx.Timeout | Timeouts | None = None
    content: Any = None

    def without_auto_token(self) -> Call[T]:
        """This call after the server refused its automatic token: fully consistent instead.

        A fully consistent read sees every write the refused token could have named, so
        read-your-writes still holds. AuthZEN has no such mode: the header is dropped and the
        server's bounded staleness applies.
        """
        body = self.json
        if isinstance(body, dict) and "consistency" in body:
            body = {**body, "consistency": {"fullyConsistent": True}}
        headers = {k: v for k, v in self.headers.items() if k.lower() != "x-rebac-consistency-token"}
        return dataclasses.replace(self, json=body, headers=headers, auto_token=None)


@dataclass(frozen=True, slots=True)
class StreamCall(Generic[T]):
    """A request whose answer is NDJSON, read line by line.

    Attributes:
        method: HTTP method.
        path: Path below the base URL.
        line: Turns one line into an item (``None``: skip it); raises for an ``{"error"}`` line.
        json: The JSON body, if any.
        params: Query parameters.
        idempotency: How safe it is to open the stream again (before any line was read).
        timeout: Overrides the client's timeouts for this stream.
        token_header: A response header whose value is a consistency token to remember.
        token: The consistency token an item carries.
        last: True for the item that ends the stream (a watch checkpoint).
        auto_token: The read-your-writes token this request carries, if it was added automatically.
    """

    method: str
    path: str
    line: Callable[[str], T | None]
    json: Any = None
    params: Mapping[str, str] | None = None
    idempotency: Idempotency = Idempotency.READ
    timeout: httpx.Timeout | Timeouts | None = None
    token_header: str | None = None
    token: Callable[[T], str | None] | None = None
    last: Callable[[T], bool] | None = None
    auto_token: str | None = None

    def without_auto_token(self) -> StreamCall[T]:
        """This stream after the server refused its automatic token: fully consistent instead."""
        body = self.json
        if isinstance(body, dict) and "consistency" in body:
            body = {**body, "consistency": {"fullyConsistent": True}}
        return dataclasses.replace(self, json=body, auto_token=None)


@dataclass(frozen=True, slots=True)
class Paged(Generic[T]):
    """A cursor walk: ``page(cursor)`` is the call for the page after ``cursor``.

    Attributes:
        page: Builds the call of one page.
        cursor: Where the walk starts (``None``: the beginning).
    """

    page: Callable[[str | None], Call[Page[T]]]
    cursor: str | None = None

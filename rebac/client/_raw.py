"""An opt-in lean path under the async client: a transport that takes a request as plain values.

httpx's ``AsyncClient`` layer (URL merging, request and response models, cookies, auth and
redirect flows) costs a few hundred microseconds a call, more than a loopback check itself. A
``transport=`` that also implements :class:`RawTransport` lets :class:`rebac.client.AsyncClient`
hand it the request as values and read the answer from a :class:`RawAnswer`, skipping that layer.
Everything above the socket stays the SDK's own: the request body and headers (the same bytes
httpx would send: its JSON encoding), the retries, the problem mapping and the fail-closed
decisions. Its failures must be httpx's :class:`httpx.TransportError` subclasses, as an httpx
transport's are. A request with a streamed body or query parameters still goes through httpx.
"""

from __future__ import annotations

from collections.abc import Mapping
from json import dumps
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import httpx

__all__ = ["RawAnswer", "RawTransport", "json_body"]


class RawAnswer(Protocol):
    """An HTTP answer read whole."""

    @property
    def status_code(self) -> int:
        """The status."""

    @property
    def reason_phrase(self) -> str:
        """The status's phrase (``""`` when unknown)."""

    @property
    def headers(self) -> Mapping[str, str]:
        """The headers (names lowercase)."""

    @property
    def content(self) -> bytes:
        """The body."""


@runtime_checkable
class RawTransport(Protocol):
    """A transport that sends a request given as values and reads its answer whole."""

    async def raw_request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeout: httpx.Timeout
    ) -> RawAnswer:
        """Send one request; raise an :class:`httpx.TransportError` when no answer came."""


def json_body(value: Any) -> bytes:
    """``value`` as httpx encodes a ``json=`` body (compact, UTF-8, no NaN)."""
    return dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")

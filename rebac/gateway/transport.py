"""The gateway's HTTP/1.1 client (:mod:`rebac.gateway.http1`) under the SDK: an httpx transport.

:class:`Http1Transport` goes under an ``httpx.AsyncClient`` (the SDK's ``transport=``), so
everything above the socket (the SDK's requests, retries, answers and fail-closed decisions)
stays as it is. It is also a :class:`rebac.client.RawTransport`: the SDK then hands it each
request as values (:meth:`Http1Transport.raw_request`) and skips httpx's client layer. Its
failures are httpx's own exceptions either way: :class:`httpx.ConnectError` (nothing was sent),
:class:`httpx.ConnectTimeout`, :class:`httpx.ReadTimeout` (no answer within the read timeout) and
:class:`httpx.RemoteProtocolError` (the connection closed mid-answer or the answer is not HTTP).
Plain ``http://`` only: an ``https://`` URL is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Final

import httpx

from rebac.gateway.http1 import (
    Http1Pool,
    Http1Response,
    HttpBrokenError,
    HttpConnectError,
    HttpTimeoutError,
    request_bytes,
)

__all__ = ["Http1Transport", "RawAnswer"]

_TARGETS: Final = 64
"""URLs whose parts :meth:`Http1Transport.raw_request` remembers (the SDK uses a handful)."""


class _Body(httpx.AsyncByteStream):
    """An answer's body for httpx, its failures as httpx's exceptions."""

    def __init__(self, response: Http1Response, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.chunks():
                yield chunk
        except HttpTimeoutError as exc:
            raise httpx.ReadTimeout(str(exc), request=self._request) from exc
        except HttpBrokenError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=self._request) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


class RawAnswer:
    """An answer read whole, as :meth:`Http1Transport.raw_request` returns it."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def reason_phrase(self) -> str:
        """The status's phrase."""
        return httpx.codes.get_reason_phrase(self.status_code)


class Http1Transport(httpx.AsyncBaseTransport):
    """An httpx transport on :class:`Http1Pool` (one pool per ``host:port``; ``http://`` only).

    Args:
        max_connections: Requests in flight at once, per server.
        max_idle: Idle connections kept, per server.
    """

    def __init__(self, *, max_connections: int = 100, max_idle: int = 32) -> None:
        self._pools: dict[tuple[str, int], Http1Pool] = {}
        self._targets: dict[str, tuple[str, int, bytes, bytes]] = {}
        self._max_connections = max_connections
        self._max_idle = max_idle

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a pooled connection; the answer's body streams."""
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(
                f"the gateway's HTTP/1.1 client speaks http:// only, not {url.scheme}://"
            )
        pool = self._pool(url.host, url.port or 80)
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        data = request_bytes(request.method.encode(), url.raw_path, request.headers.raw, body)
        response = await self._send(pool, data, timeouts.get("read"), timeouts.get("connect"), request)
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_Body(response, request),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def raw_request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeout: httpx.Timeout
    ) -> RawAnswer:
        """The SDK's lean path (:class:`rebac.client.RawTransport`): the request as values, read whole.

        The same bytes as :meth:`handle_async_request` would write, without httpx's request and
        response models; the same httpx exceptions on failure.
        """
        target = self._targets.get(url)
        if target is None:
            parsed = httpx.URL(url)
            if parsed.scheme != "http":
                raise httpx.UnsupportedProtocol(
                    f"the gateway's HTTP/1.1 client speaks http:// only, not {parsed.scheme}://"
                )
            if len(self._targets) >= _TARGETS:
                self._targets.clear()
            target = self._targets[url] = (parsed.host, parsed.port or 80, parsed.netloc, parsed.raw_path)
        host, port, netloc, path = target
        head = [(b"host", netloc), *((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())]
        if body:
            head.append((b"content-length", str(len(body)).encode()))
        data = request_bytes(method.encode(), path, head, body, framed=True)
        response = await self._send(self._pool(host, port), data, timeout.read, timeout.connect, None)
        try:
            content = await response.read()
        except HttpTimeoutError as exc:
            raise httpx.ReadTimeout(str(exc)) from exc
        except HttpBrokenError as exc:
            raise httpx.RemoteProtocolError(str(exc)) from exc
        answer_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
        return RawAnswer(response.status, answer_headers, content)

    def _pool(self, host: str, port: int) -> Http1Pool:
        key = (host, port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = Http1Pool(
                host, port, max_connections=self._max_connections, max_idle=self._max_idle
            )
        return pool

    async def _send(
        self,
        pool: Http1Pool,
        data: bytes,
        read: float | None,
        connect: float | None,
        request: httpx.Request | None,
    ) -> Http1Response:
        try:
            return await pool.send(data, timeout=read, connect_timeout=connect)
        except HttpTimeoutError as exc:
            kind = httpx.ConnectTimeout if exc.connect else httpx.ReadTimeout
            raise kind(str(exc), request=request) from exc
        except HttpConnectError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except HttpBrokenError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc

    async def aclose(self) -> None:
        """Close every pool's idle connections."""
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            await pool.aclose()

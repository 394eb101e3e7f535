"""The async client's sending machinery: one ``httpx.AsyncClient``, retries with backoff, pages, streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from rebac.client._base import Core, TimeoutLike, retry_delay, transport_error, unverified_tls
from rebac.client._call import Call, Page, Paged, StreamCall
from rebac.client._config import DEFAULT_TIMEOUT, Retry
from rebac.client._errors import ConnectionLost, ProblemError, RebacClientError
from rebac.client._iterators import AsyncPageIterator, AsyncStream
from rebac.client._raw import RawAnswer, RawTransport, json_body

if TYPE_CHECKING:
    import httpx

__all__ = ["AsyncBase"]

T = TypeVar("T")


async def _sleep(seconds: float) -> None:
    # asyncio is imported when a retry first waits: sync users of rebac.client never pay for it
    import asyncio  # noqa: PLC0415

    await asyncio.sleep(seconds)


class AsyncBase:
    """Holds the connection pool and sends calls (see :class:`rebac.client.AsyncClient`)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        key: str | None = None,
        timeout: TimeoutLike = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        read_your_writes: bool = True,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._core = Core(
            base_url,
            key=key,
            timeout=timeout,
            retry=retry,
            read_your_writes=read_your_writes,
            headers=headers,
        )
        import httpx  # noqa: PLC0415 - httpx loads with the first client, not with the SDK

        tls = unverified_tls(self._core.base_url)
        if transport is None and tls is not None:
            transport = httpx.AsyncHTTPTransport(verify=tls)
        self._transport_errors: type[httpx.TransportError] = httpx.TransportError
        self._raw = transport if isinstance(transport, RawTransport) else None
        self._http = httpx.AsyncClient(
            headers=self._core.headers, transport=transport, timeout=self._core.timeout
        )

    # --- configuration ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The server's base URL."""
        return self._core.base_url

    @property
    def token(self) -> str | None:
        """The newest consistency token this client wrote or received (``None`` before any)."""
        return self._core.tokens.token

    @property
    def read_your_writes(self) -> bool:
        """Whether reads carry :attr:`token` as ``atLeastAsFresh`` (on by default)."""
        return self._core.tokens.enabled

    @read_your_writes.setter
    def read_your_writes(self, enabled: bool) -> None:
        self._core.tokens.enabled = enabled

    def reset_consistency(self) -> None:
        """Forget :attr:`token` (reads go back to the server's default until the next write)."""
        self._core.tokens.reset()

    # --- lifecycle -------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- sending ---------------------------------------------------------------------------------

    async def _send(self, call: Call[T], timeout: float | httpx.Timeout | None = None) -> T:
        core, attempt, refused = self._core, 0, False
        while True:
            attempt += 1
            headers: Mapping[str, str] | None = None
            try:
                response = await self._request(call, timeout)
            except self._transport_errors as exc:
                error: RebacClientError = transport_error(exc, core.base_url)
                cause: BaseException | None = exc
            else:
                try:
                    return core.finish(call, response)
                except ProblemError as exc:
                    if not refused and core.refused_auto_token(call, exc):
                        call, refused, attempt = call.without_auto_token(), True, attempt - 1
                        continue
                    error, cause, headers = exc, None, response.headers
            delay = retry_delay(core.retry, call.idempotency, attempt, error, headers)
            if delay is None:
                error.attempts = attempt
                raise error from cause
            await _sleep(delay)

    async def _request(self, call: Call[T], timeout: float | httpx.Timeout | None) -> RawAnswer:
        """One exchange: on the raw transport when there is one and the call suits it, else httpx."""
        request = self._core.request(call, timeout)
        if self._raw is None or call.params or call.content is not None:
            return await self._http.request(**request)
        headers = {k.lower(): v for k, v in self._core.headers.items()}
        body = b""
        if call.json is not None:
            body = json_body(call.json)
            headers["content-type"] = "application/json"
        headers.update((k.lower(), v) for k, v in (request["headers"] or {}).items())
        return await self._raw.raw_request(call.method, request["url"], headers, body, request["timeout"])

    def _pages(self, paged: Paged[T]) -> AsyncPageIterator[T]:
        async def fetch(call: Call[Page[T]]) -> Page[T]:
            return await self._send(call)

        return AsyncPageIterator(paged, fetch)

    async def _open(self, call: StreamCall[Any], timeout: float | httpx.Timeout | None) -> httpx.Response:
        core, attempt, refused = self._core, 0, False
        while True:
            attempt += 1
            headers: Mapping[str, str] | None = None
            try:
                request = self._http.build_request(**core.request(call, timeout))
                response = await self._http.send(request, stream=True)
            except self._transport_errors as exc:
                error: RebacClientError = transport_error(exc, core.base_url)
                cause: BaseException | None = exc
            else:
                if response.status_code < 400:
                    return response
                try:
                    await response.aread()
                    error, cause, headers = core.problem(response), None, response.headers
                except self._transport_errors as exc:
                    error, cause = transport_error(exc, core.base_url), exc
                finally:
                    await response.aclose()
            if isinstance(error, ProblemError) and not refused and core.refused_auto_token(call, error):
                call, refused, attempt = call.without_auto_token(), True, attempt - 1
                continue
            delay = retry_delay(core.retry, call.idempotency, attempt, error, headers)
            if delay is None:
                error.attempts = attempt
                raise error from cause
            await _sleep(delay)

    def _stream(self, call: StreamCall[T], timeout: float | httpx.Timeout | None = None) -> AsyncStream[T]:
        core = self._core

        async def items(stream: AsyncStream[T]) -> AsyncIterator[T]:
            response = await self._open(call, timeout)
            try:
                if call.token_header is not None:
                    stream.token = response.headers.get(call.token_header)
                    core.tokens.observe(stream.token)
                async for raw in response.aiter_lines():
                    item = core.line(call, raw)
                    if item is None:
                        continue
                    if call.token is not None:
                        stream.token = call.token(item) or stream.token
                    yield item
                    if call.last is not None and call.last(item):
                        return
                if call.last is not None:
                    raise ConnectionLost(f"{call.path}: the stream ended before its final line")
            except self._transport_errors as exc:
                raise transport_error(exc, core.base_url) from exc
            finally:
                await response.aclose()

        return AsyncStream(items)

"""The sync client's sending machinery: one ``httpx.Client``, retries with backoff, pages, streams."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from rebac.client._base import Core, TimeoutLike, retry_delay, transport_error, unverified_tls
from rebac.client._call import Call, Page, Paged, StreamCall
from rebac.client._config import DEFAULT_TIMEOUT, Retry
from rebac.client._errors import ConnectionLost, ProblemError, RebacClientError
from rebac.client._iterators import PageIterator, Stream

if TYPE_CHECKING:
    import httpx

__all__ = ["SyncBase"]

T = TypeVar("T")


class SyncBase:
    """Holds the connection pool and sends calls (see :class:`rebac.client.Client`)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        key: str | None = None,
        timeout: TimeoutLike = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        read_your_writes: bool = True,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
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
            transport = httpx.HTTPTransport(verify=tls)
        self._transport_errors: type[httpx.TransportError] = httpx.TransportError
        self._http = httpx.Client(headers=self._core.headers, transport=transport, timeout=self._core.timeout)

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

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- sending ---------------------------------------------------------------------------------

    def _send(self, call: Call[T], timeout: float | httpx.Timeout | None = None) -> T:
        core, attempt, refused = self._core, 0, False
        while True:
            attempt += 1
            headers: Mapping[str, str] | None = None
            try:
                response = self._http.request(**core.request(call, timeout))
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
            time.sleep(delay)

    def _pages(self, paged: Paged[T]) -> PageIterator[T]:
        def fetch(call: Call[Page[T]]) -> Page[T]:
            return self._send(call)

        return PageIterator(paged, fetch)

    def _open(self, call: StreamCall[Any], timeout: float | httpx.Timeout | None) -> httpx.Response:
        core, attempt, refused = self._core, 0, False
        while True:
            attempt += 1
            headers: Mapping[str, str] | None = None
            try:
                response = self._http.send(
                    self._http.build_request(**core.request(call, timeout)), stream=True
                )
            except self._transport_errors as exc:
                error: RebacClientError = transport_error(exc, core.base_url)
                cause: BaseException | None = exc
            else:
                if response.status_code < 400:
                    return response
                try:
                    response.read()
                    error, cause, headers = core.problem(response), None, response.headers
                except self._transport_errors as exc:
                    error, cause = transport_error(exc, core.base_url), exc
                finally:
                    response.close()
            if isinstance(error, ProblemError) and not refused and core.refused_auto_token(call, error):
                call, refused, attempt = call.without_auto_token(), True, attempt - 1
                continue
            delay = retry_delay(core.retry, call.idempotency, attempt, error, headers)
            if delay is None:
                error.attempts = attempt
                raise error from cause
            time.sleep(delay)

    def _stream(self, call: StreamCall[T], timeout: float | httpx.Timeout | None = None) -> Stream[T]:
        core = self._core

        def items(stream: Stream[T]) -> Iterator[T]:
            response = self._open(call, timeout)
            try:
                if call.token_header is not None:
                    stream.token = response.headers.get(call.token_header)
                    core.tokens.observe(stream.token)
                for raw in response.iter_lines():
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
                response.close()

        return Stream(items)

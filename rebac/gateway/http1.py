"""A lean HTTP/1.1 client for the gateway's two hops (the rebac server and an ``http://`` upstream).

On loopback, httpx spends most of a request in httpcore and anyio, not on the wire: two socket
sends per request (the head, then the body), anyio's stream layers, and h11's pure-Python state
machine. Here a request is one transport write and answers are parsed by httptools (llhttp, in
C). Idle keep-alive connections wait in a stack, the most recent first. One the server closed
drops out as soon as the event loop sees it close; before reuse, one idle too long, or whose
socket is readable (a close the loop has not seen yet), is dropped too.

:class:`rebac.gateway.transport.Http1Transport` puts this under the SDK. A connection whose
exchange failed, timed out, was cancelled or was not read to its end is closed, never reused.
"""

from __future__ import annotations

import asyncio
import select
import time
from collections.abc import AsyncIterator
from typing import Final, cast

import httptools

__all__ = [
    "Http1Pool",
    "Http1Response",
    "HttpBrokenError",
    "HttpConnectError",
    "HttpTimeoutError",
]

MAX_BUFFERED_BYTES: Final = 1024 * 1024
"""Reading from a connection pauses while this much of its answer waits unread."""
KEEPALIVE_EXPIRY_SECONDS: Final = 4.0
"""An idle connection is closed rather than reused after this long: under the 5 s of common servers."""


class HttpConnectError(Exception):
    """The connection could not be made: nothing was sent."""


class HttpBrokenError(Exception):
    """The connection closed before the answer was complete, or the answer is not HTTP/1.1."""


class HttpTimeoutError(TimeoutError):
    """No connection (``connect``) or no answer (``read``) within the timeout."""

    def __init__(self, message: str, *, connect: bool) -> None:
        super().__init__(message)
        self.connect = connect


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(HttpTimeoutError("no answer within the read timeout", connect=False))


def _stop_waiting(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _Connection(asyncio.Protocol):
    """One keep-alive connection: the answer in progress, filled by httptools' callbacks."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.busy = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.begin()

    def begin(self) -> None:
        """Forget the previous answer (a new request is about to be written)."""
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.error: BaseException | None = None

    # --- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = cast("asyncio.Transport", transport)  # a stream (uvloop's is no subclass)

    def data_received(self, data: bytes) -> None:
        """Feed the parser; bytes nobody asked for, or bytes that are not HTTP, break the connection."""
        if not self.busy:
            self._break(HttpBrokenError("the server sent bytes no request asked for"))
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._break(HttpBrokenError(f"the answer is not HTTP/1.1: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection closed: an answer that runs to the close ends here, any other breaks."""
        self.closed = True
        if not self.busy or self.complete or self.error is not None:
            return
        if self.head_done and self._runs_to_close():
            self.complete = True
            self._wake()
            return
        why = f": {exc}" if exc is not None else ""
        self.error = HttpBrokenError(f"the server closed the connection before its answer was complete{why}")
        self._wake()

    # --- httptools callbacks ---------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header of the answer."""
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        """The head is in: the status is known."""
        self.status = self.parser.get_status_code()
        if self.status < 200:  # an interim answer (we never send Expect): wait for the final one
            self.headers = []
            return
        self.head_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        """A piece of the body (chunked framing already removed)."""
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > MAX_BUFFERED_BYTES and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        """The answer is complete."""
        if self.status < 200:
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()
        self._wake()

    # --- waiting ---------------------------------------------------------------------------------

    async def wait(self, timeout: float | None) -> None:
        """Until the parser has something new (or the connection failed, or ``timeout`` passed)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    async def settle(self, seconds: float) -> None:
        """Until the parser has something new, or ``seconds`` passed (never raises: the caller looks)."""
        if self.error is not None or self.complete:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(seconds, _stop_waiting, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            timer.cancel()

    async def exchange(self, request: bytes, timeout: float | None) -> None:
        """Write ``request`` and wait for the head of its answer."""
        self.begin()
        self.busy = True
        assert self.transport is not None  # noqa: S101 - set when connected
        self.transport.write(request)
        while not self.head_done:
            if self.error is not None:
                raise self.error
            await self.wait(timeout)

    def take(self) -> bytes:
        """The body bytes received and not yet taken."""
        data = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks = []
        self.buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def readable(self) -> bool:
        """Whether the socket has something to read (while idle: the server closed it, or broke HTTP)."""
        sock = self.transport.get_extra_info("socket") if self.transport is not None else None
        if sock is None:
            return True
        try:
            ready, _, _ = select.select([sock.fileno()], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(ready)

    def close(self) -> None:
        """Close the connection (it is never reused)."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _break(self, error: HttpBrokenError) -> None:
        if self.error is None and not self.complete:
            self.error = error
        self.close()
        self._wake()

    def _runs_to_close(self) -> bool:
        names = {name.lower() for name, _ in self.headers}
        return b"content-length" not in names and b"transfer-encoding" not in names


class Http1Response:
    """An answer whose head is in; its body is read with :meth:`read` or :meth:`chunks`."""

    def __init__(self, pool: Http1Pool, connection: _Connection, timeout: float | None) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        self._timeout = timeout
        self.status = connection.status
        self.headers = connection.headers

    @property
    def complete(self) -> bool:
        """Whether the whole answer has arrived (its body then reads without waiting)."""
        return self._connection is None or self._connection.complete

    async def read(self) -> bytes:
        """The whole body."""
        connection = self._connection
        if connection is not None and connection.complete and connection.error is None:
            data = connection.take()  # all here: no stream to walk
            self.release()
            return data
        return b"".join([chunk async for chunk in self.chunks()])

    async def settle(self, first: float, rest: float) -> None:
        """Wait for the body: its first bytes up to ``first`` seconds, then its end up to ``rest`` more.

        For an answer whose head came alone: when its body follows at once, it can go on whole.
        """
        connection = self._connection
        if connection is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + first
        while not connection.chunks and not connection.complete and connection.error is None:
            left = deadline - loop.time()
            if left <= 0:
                return
            await connection.settle(left)
        deadline = loop.time() + rest
        while not connection.complete and connection.error is None:
            left = deadline - loop.time()
            if left <= 0:
                return
            await connection.settle(left)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (what has arrived is yielded at once, joined).

        Raises:
            HttpBrokenError: the connection broke before the body was complete.
            HttpTimeoutError: nothing arrived within the read timeout.
        """
        connection = self._connection
        if connection is None:
            return
        try:
            while True:
                if connection.chunks:
                    yield connection.take()
                    continue
                if connection.error is not None:
                    raise connection.error
                if connection.complete:
                    break
                await connection.wait(self._timeout)
        finally:
            self.release()

    async def aclose(self) -> None:
        """Let go of the answer (see :meth:`release`)."""
        self.release()

    def release(self) -> None:
        """Let go of the answer: a connection whose answer was not read to its end is closed."""
        connection, self._connection = self._connection, None
        if connection is not None:
            if not connection.complete or connection.chunks:
                connection.close()
            self._pool.release(connection)


class Http1Pool:
    """Keep-alive HTTP/1.1 connections to one ``host:port``.

    Args:
        host: The server's host.
        port: Its port.
        max_connections: Requests in flight at once; more wait for a free slot (within the read
            timeout, then :class:`HttpTimeoutError`).
        max_idle: Idle connections kept for reuse.
        keepalive_expiry: Seconds an idle connection is kept.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_connections: int = 100,
        max_idle: int = 32,
        keepalive_expiry: float = KEEPALIVE_EXPIRY_SECONDS,
    ) -> None:
        self.host = host
        self.port = port
        self._idle: list[_Connection] = []
        self._max_idle = max_idle
        self._keepalive_expiry = keepalive_expiry
        self._slots = asyncio.Semaphore(max_connections)

    async def send(
        self, request: bytes, *, timeout: float | None, connect_timeout: float | None
    ) -> Http1Response:
        """Write ``request`` (head and body, as bytes) and wait for the answer's head.

        Raises:
            HttpConnectError: no connection could be made (nothing was sent).
            HttpTimeoutError: no connection, slot or answer within the timeouts.
            HttpBrokenError: the connection broke, or the answer is not HTTP/1.1.
        """
        if self._slots.locked():
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout)
            except TimeoutError as exc:
                raise HttpTimeoutError("no free connection within the timeout", connect=True) from exc
        else:
            await self._slots.acquire()
        connection: _Connection | None = None
        try:
            connection = self._reusable() or await self._connect(connect_timeout)
            await connection.exchange(request, timeout)
        except BaseException:
            if connection is not None and connection.busy:
                connection.close()
                self.release(connection)
            else:
                self._slots.release()
            raise
        return Http1Response(self, connection, timeout)

    def release(self, connection: _Connection) -> None:
        """A request is over: its slot freed, its connection kept if it can serve another."""
        if not connection.busy:
            return
        connection.busy = False
        self._slots.release()
        if connection.closed or not connection.complete or not connection.keep_alive:
            connection.close()
            return
        if len(self._idle) >= self._max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)

    def _reusable(self) -> _Connection | None:
        """The most recent idle connection still fit to carry a request, if any.

        One the server may be about to close (idle past :data:`KEEPALIVE_EXPIRY_SECONDS`), or has
        closed or written to without the event loop having seen it yet (its socket is readable),
        is closed instead: a request written to it would be lost to the race.
        """
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if (
                connection.closed
                or now - connection.idle_since > self._keepalive_expiry
                or connection.readable()
            ):
                connection.close()
                continue
            return connection
        return None

    async def aclose(self) -> None:
        """Close the idle connections."""
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    async def _connect(self, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(_Connection, self.host, self.port), timeout
            )
        except TimeoutError as exc:
            raise HttpTimeoutError(
                f"could not connect to {self.host}:{self.port} in time", connect=True
            ) from exc
        except OSError as exc:
            raise HttpConnectError(f"could not connect to {self.host}:{self.port}: {exc}") from exc
        return connection


def request_bytes(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes, *, framed: bool = False
) -> bytes:
    """One HTTP/1.1 request (``headers`` must name ``Host``; ``Content-Length`` is added for a body).

    ``framed``: the caller put ``Content-Length`` in ``headers`` itself (not looked for again).

    Raises:
        ValueError: a header name or value with a line break (it would split the request).
    """
    lines = [method, b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        if b"\n" in name or b"\r" in name or b"\n" in value or b"\r" in value:
            raise ValueError("a header has a line break")
        lines += [name, b": ", value, b"\r\n"]
    if body and not framed and not any(name.lower() == b"content-length" for name, _ in headers):
        lines += [b"content-length: ", str(len(body)).encode(), b"\r\n"]
    lines += [b"\r\n", body]
    return b"".join(lines)

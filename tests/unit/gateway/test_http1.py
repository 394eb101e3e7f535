"""The gateway's HTTP/1.1 client: keep-alive, framing, and every failure a deny (through the SDK).

The servers here are raw asyncio servers on 127.0.0.1 that misbehave on purpose (nothing
listening, no answer, bytes that are not HTTP, a body cut short, a 503); a real rebac server's
answers through this client are covered by ``tests/integration/gateway/test_http1_live.py``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from rebac.client import Reason
from rebac.gateway import gateway_client
from rebac.gateway.http1 import Http1Pool, HttpBrokenError, HttpTimeoutError, request_bytes
from rebac.gateway.transport import Http1Transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A loopback server whose connections ``handler`` serves; it counts the connections."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[Server]:
    state = Server(0)

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(counted, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head and body (``Content-Length`` framed)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + (await reader.readexactly(length) if length else b"")


def answer(body: bytes, status: bytes = b"200 OK", extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\ncontent-length: "
        + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body
    )  # fmt: skip


def echo(count: int | None = None, extra: bytes = b"") -> Handler:
    """Answers each request with its own body, ``count`` times per connection (``None``: forever)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served = 0
        while count is None or served < count:
            try:
                request = await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            writer.write(answer(request.partition(b"\r\n\r\n")[2], extra=extra))
            await writer.drain()
            served += 1

    return handle


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def decide(url: str, timeout: float = 2.0) -> tuple[bool, Reason, str]:
    client = gateway_client(url, "k", timeout=timeout)
    async with client:
        decision = await client.decide("tool:search", "call", "agent:a", via=["agent:a", "user:alice"])
    return decision.allowed, decision.reason, decision.detail


# --- the transport ---------------------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection() -> None:
    async with serving(echo()) as server, httpx.AsyncClient(transport=Http1Transport()) as http:
        bodies = [(await http.post(server.url + "/x", content=f"n{n}".encode())).content for n in range(5)]
    assert bodies == [b"n0", b"n1", b"n2", b"n3", b"n4"]
    assert server.connections == 1


async def test_concurrent_requests_each_get_their_own_answer() -> None:
    async with serving(echo()) as server, httpx.AsyncClient(transport=Http1Transport()) as http:
        answers = await asyncio.gather(*(http.post(server.url, content=str(n).encode()) for n in range(20)))
    assert [a.content for a in answers] == [str(n).encode() for n in range(20)]
    assert server.connections <= 20


async def test_connection_close_answers_are_not_reused() -> None:
    handler = echo(1, extra=b"connection: close\r\n")
    async with serving(handler) as server, httpx.AsyncClient(transport=Http1Transport()) as http:
        first = await http.post(server.url, content=b"a")
        second = await http.post(server.url, content=b"b")
    assert (first.content, second.content) == (b"a", b"b")
    assert server.connections == 2


async def test_a_connection_the_server_closed_is_not_reused() -> None:
    request = request_bytes(b"POST", b"/", [(b"host", b"x")], b"again")
    async with serving(echo(1)) as server:  # answers once, keep-alive, then closes
        pool = Http1Pool("127.0.0.1", server.port)
        bodies = [await (await pool.send(request, timeout=5, connect_timeout=5)).read() for _ in range(3)]
        await pool.aclose()
    assert bodies == [b"again"] * 3
    assert server.connections == 3


async def test_idle_connections_expire() -> None:
    request = request_bytes(b"POST", b"/", [(b"host", b"x")], b"b")
    async with serving(echo()) as server:
        pool = Http1Pool("127.0.0.1", server.port, keepalive_expiry=0.0)
        for _ in range(3):
            assert await (await pool.send(request, timeout=5, connect_timeout=5)).read() == b"b"
        await pool.aclose()
    assert server.connections == 3


async def test_chunked_answer_streams_in_order() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        for part in (b"event: message\n", b"data: {}\n\n"):
            writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async with (
        serving(chunked) as server,
        httpx.AsyncClient(transport=Http1Transport()) as http,
        http.stream("POST", server.url, content=b"{}") as response,
    ):
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert body == b"event: message\ndata: {}\n\n"


async def test_answer_that_runs_to_the_close() -> None:
    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it")
        await writer.drain()

    async with serving(until_close) as server, httpx.AsyncClient(transport=Http1Transport()) as http:
        response = await http.get(server.url)
    assert response.content == b"all of it"


async def test_pool_refuses_a_cut_body_and_a_silent_server() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this")
        await writer.drain()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(30)

    request = request_bytes(b"GET", b"/", [(b"host", b"x")], b"")
    async with serving(cut) as server:
        pool = Http1Pool("127.0.0.1", server.port)
        response = await pool.send(request, timeout=5, connect_timeout=5)
        with pytest.raises(HttpBrokenError, match="before its answer was complete"):
            await response.read()
    async with serving(silent) as server:
        pool = Http1Pool("127.0.0.1", server.port)
        with pytest.raises(HttpTimeoutError) as exc:
            await pool.send(request, timeout=0.2, connect_timeout=5)
        assert not exc.value.connect


async def test_https_is_refused() -> None:
    async with httpx.AsyncClient(transport=Http1Transport()) as http:
        with pytest.raises(httpx.UnsupportedProtocol):
            await http.get("https://127.0.0.1:1/")


def test_a_header_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        request_bytes(b"POST", b"/", [(b"host", b"x"), (b"mcp-name", b"a\r\nx-evil: 1")], b"{}")
    assert request_bytes(b"POST", b"/p", [(b"host", b"h")], b"{}") == (
        b"POST /p HTTP/1.1\r\nhost: h\r\ncontent-length: 2\r\n\r\n{}"
    )


# --- fail closed: the SDK's decision through this transport -----------------------------------------


async def test_rebac_down_is_an_outage_deny() -> None:
    allowed, reason, _ = await decide(f"http://127.0.0.1:{free_port()}")
    assert (allowed, reason) == (False, Reason.OUTAGE)


async def test_no_answer_in_time_is_a_timeout_deny() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(30)

    async with serving(silent) as server:
        allowed, reason, _ = await decide(server.url, timeout=0.3)
    assert (allowed, reason) == (False, Reason.TIMEOUT)


@pytest.mark.parametrize(
    "reply",
    [
        b"garbage that is not HTTP\r\n\r\n",
        b'HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n{"permissionship":',
        answer(b'{"permissionship": "PERMISSIONSHIP_HAS_PERMISSION"'),
        answer(b"not json at all"),
        answer(b'{"unexpected": true}'),
    ],
    ids=["not-http", "cut-short", "truncated-json", "not-json", "wrong-shape"],
)
async def test_malformed_answer_is_a_deny(reply: bytes) -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply)
        await writer.drain()

    async with serving(broken) as server:
        allowed, reason, _ = await decide(server.url)
    assert not allowed
    assert reason in {Reason.ERROR, Reason.OUTAGE}


async def test_unavailable_server_is_an_outage_deny() -> None:
    problem = b'{"type": "about:blank", "title": "Service Unavailable", "status": 503}'
    reply = answer(problem, b"503 Service Unavailable", b"retry-after: 0\r\n")

    async def unavailable(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            writer.write(reply)
            await writer.drain()

    async with serving(unavailable) as server:
        allowed, reason, _ = await decide(server.url)
    assert (allowed, reason) == (False, Reason.OUTAGE)

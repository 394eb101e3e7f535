"""The HTTP upstream: an event stream whose body follows its head at once goes whole, else it streams."""

from __future__ import annotations

import asyncio

from test_http1 import read_request, serving

from rebac.gateway.messages import Incoming, decode_message
from rebac.gateway.upstream import FIRST_EVENT_SECONDS, HttpUpstream

EVENT = b'event: message\r\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\r\n\r\n'
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


def incoming() -> Incoming:
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}}'
    return Incoming(body, decode_message(body), [(b"content-type", b"application/json")])


async def exchange_with(pause: float, *, between: float = 0.0) -> tuple[bool, bytes, int]:
    """One POST to a server that writes its head, waits ``pause``, then the event and the end."""
    requests = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        await read_request(reader)
        requests += 1
        writer.write(HEAD)
        await writer.drain()
        await asyncio.sleep(pause)
        writer.write(chunk(EVENT))
        await writer.drain()
        await asyncio.sleep(between)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async with serving(handle) as server:
        upstream = HttpUpstream(server.url + "/mcp", timeout=5)
        await upstream.start()
        try:
            answer = await upstream.exchange("POST", incoming(), [])
            streamed = answer.stream is not None
            if answer.stream is not None:
                body = b"".join([c async for c in answer.stream])
                if answer.close is not None:
                    await answer.close()
            else:
                body = answer.body
        finally:
            await upstream.close()
    return streamed, body, requests


async def test_a_body_right_behind_its_head_goes_on_whole() -> None:
    streamed, body, requests = await exchange_with(0.0)
    assert not streamed
    assert body == EVENT
    assert requests == 1


async def test_a_slow_first_event_streams() -> None:
    streamed, body, requests = await exchange_with(FIRST_EVENT_SECONDS * 4)
    assert streamed
    assert body == EVENT
    assert requests == 1


async def test_an_open_stream_after_its_first_event_streams() -> None:
    streamed, body, _ = await exchange_with(0.0, between=0.2)
    assert streamed
    assert body == EVENT

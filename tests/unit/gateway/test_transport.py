"""The SDK's lean path on the gateway's transport (:class:`rebac.client.RawTransport`).

The request must be the one httpx's client layer would send (the same headers and body bytes);
retries, problems and fail-closed decisions must be the SDK's own. The misbehaving servers of
``test_http1.py`` already run through this path (``gateway_client`` is lean by default).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from test_http1 import answer, read_request, serving

from rebac.client import Decision, RawTransport, Reason
from rebac.gateway import gateway_client
from rebac.gateway.transport import Http1Transport

GRANTED = (
    b'{"permissionship": "PERMISSIONSHIP_HAS_PERMISSION", "checkedAt": {"token": "t1"}, "decisionId": "d1"}'
)


def test_the_transport_is_a_raw_transport() -> None:
    assert isinstance(Http1Transport(), RawTransport)


def parse(request: bytes) -> tuple[bytes, dict[str, str], bytes]:
    head, _, body = request.partition(b"\r\n\r\n")
    line, *fields = head.decode("latin-1").split("\r\n")
    headers = {}
    for field in fields:
        name, _, value = field.partition(":")
        headers[name.strip().lower()] = value.strip()
    return line.encode(), headers, body


async def decide_capturing(*, lean: bool) -> tuple[Decision, list[bytes]]:
    seen: list[bytes] = []

    async def granted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(answer(GRANTED))
        await writer.drain()

    async with serving(granted) as server, gateway_client(server.url, "k", lean=lean) as client:
        decision = await client.decide(
            "tool:search", "call", "agent:a", context={"arguments": {"q": "é"}}, via=["agent:a", "user:alice"]
        )
    return decision, seen


async def test_the_lean_path_sends_what_httpx_sends() -> None:
    lean, lean_seen = await decide_capturing(lean=True)
    full, full_seen = await decide_capturing(lean=False)
    assert lean.allowed
    assert full.allowed
    assert lean.decision_id == full.decision_id == "d1"
    (line, headers, body), (full_line, full_headers, full_body) = parse(lean_seen[0]), parse(full_seen[0])
    assert line == full_line == b"POST /v1/permissions/check HTTP/1.1"
    assert body == full_body  # byte for byte: the same JSON encoding
    assert json.loads(body)["context"] == {"arguments": {"q": "é"}}
    assert headers.pop("host").startswith("127.0.0.1:")
    # httpx's own transport adds its defaults; the servers' ports differ
    only_httpx = {"accept-encoding", "connection", "host"}
    assert {k: v for k, v in full_headers.items() if k not in only_httpx} == headers
    assert headers["authorization"] == "Bearer k"
    assert headers["x-rebac-decision-source"] == "mcp-gateway"
    assert headers["content-type"] == "application/json"


async def test_a_503_is_retried_on_the_lean_path() -> None:
    problem = b'{"type": "about:blank", "title": "Service Unavailable", "status": 503}'
    replies = [answer(problem, b"503 Service Unavailable", b"retry-after: 0\r\n"), answer(GRANTED)]
    requests = 0

    async def flaky(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        while replies:
            try:
                await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            requests += 1
            writer.write(replies.pop(0))
            await writer.drain()

    async with serving(flaky) as server, gateway_client(server.url, "k") as client:
        decision = await client.decide("tool:search", "call", "agent:a")
    assert decision.allowed
    assert requests == 2


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (b"401 Unauthorized", Reason.ERROR),
        (b"403 Forbidden", Reason.ERROR),
        (b"500 Internal Server Error", Reason.ERROR),
    ],
)
async def test_a_problem_is_a_deny_on_the_lean_path(status: bytes, reason: Reason) -> None:
    code = int(status.split()[0])
    problem = json.dumps({"type": "about:blank", "title": "no", "status": code}).encode()

    async def refusing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(problem, status))
        await writer.drain()

    async with serving(refusing) as server, gateway_client(server.url, "k") as client:
        decision = await client.decide("tool:search", "call", "agent:a")
    assert (decision.allowed, decision.reason) == (False, reason)
    assert str(code) in decision.detail or decision.error is not None

"""rebac inside MCP servers: the FastMCP middleware (a real FastMCP server with JWT auth, over
streamable HTTP) and the low-level ``mcp`` SDK hook (an in-memory client and server session)."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_helpers import KEY, Keys, Proc, guarded_server, mcp_session
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import McpError
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import TextContent, Tool

from rebac.integrations.mcp_lowlevel import McpGuard
from rebac.integrations.mcp_policy import Actor, Authorizer, decision_client
from rebac.refs import SubjectRef

pytestmark = pytest.mark.integration

with warnings.catch_warnings():  # fastmcp's auth imports authlib's deprecated modules
    warnings.simplefilter("ignore", DeprecationWarning)
    importlib.import_module("rebac.integrations.fastmcp")  # the middleware imports in-process too

AGENT: dict[str, Any] = {"client_id": "assistant"}


@pytest.fixture(scope="module")
def guarded(rebac: str, keys: Keys, calls: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    with guarded_server(rebac, keys, calls, tmp_path_factory.mktemp("guarded")) as proc:
        yield proc


def lines(calls: Path) -> list[str]:
    return calls.read_text(encoding="utf-8").splitlines()


async def test_fastmcp_middleware_checks_and_filters(guarded: Proc, keys: Keys, calls: Path) -> None:
    async with mcp_session(guarded.url, keys.token(guarded.url, **AGENT)) as session:
        ok = await session.call_tool("search", {"query": "mw-ok"})
        assert not ok.isError
        refused = await session.call_tool("delete_database", {"name": "mw-db"})
        tools = {t.name for t in (await session.list_tools()).tools}
        with pytest.raises(McpError) as exc:
            await session.read_resource("file:///secret/keys.txt")  # type: ignore[arg-type]
        cheap = await session.call_tool("transfer", {"amount": 5, "to": "mw-bob"})
        dear = await session.call_tool("transfer", {"amount": 5000, "to": "mw-eve"})
    assert refused.isError
    text = refused.content[0]
    assert isinstance(text, TextContent)
    assert "rebac denied call on tool:delete_database: delegation" in text.text
    assert "decision " in text.text
    assert tools == {"search", "transfer", "files.read"}
    assert exc.value.error.code == -32003
    assert not cheap.isError
    assert dear.isError
    seen = lines(calls)
    assert "tool search mw-ok" in seen
    assert "tool transfer 5 mw-bob" in seen
    assert not [line for line in seen if "mw-db" in line or "mw-eve" in line or "secret" in line]


async def test_fastmcp_middleware_chain_mismatch(guarded: Proc, keys: Keys) -> None:
    lying = keys.token(guarded.url, client_id="helper", act={"sub": "intruder"})
    async with mcp_session(guarded.url, lying) as session:
        refused = await session.call_tool("search", {"query": "mw-lie"})
    assert refused.isError
    assert "chain_mismatch" in refused.content[0].text  # type: ignore[union-attr]


@pytest.fixture
async def lowlevel(rebac: str) -> AsyncIterator[tuple[Server, list[str]]]:
    server: Server = Server("lowlevel-demo")
    ran: list[str] = []
    client = decision_client(rebac, KEY, source="mcp-server")
    acting = Actor(
        SubjectRef("agent", "assistant"), (SubjectRef("agent", "assistant"), SubjectRef("user", "alice"))
    )
    guard = McpGuard(Authorizer(client), resolve=lambda: acting)

    @server.list_tools()  # type: ignore[no-untyped-call, untyped-decorator]
    @guard.list_tools
    async def list_tools() -> list[Tool]:
        schema = {"type": "object"}
        return [Tool(name=n, inputSchema=schema) for n in ("search", "delete_database", "transfer")]

    @server.call_tool()  # type: ignore[untyped-decorator]
    @guard.call_tool
    async def call_tool(name: str, arguments: dict[str, object]) -> list[TextContent]:
        ran.append(name)
        return [TextContent(type="text", text=f"ran {name}")]

    yield server, ran
    await client.aclose()


async def test_lowlevel_hook(lowlevel: tuple[Server, list[str]]) -> None:
    server, ran = lowlevel
    async with create_connected_server_and_client_session(server) as session:
        tools = {t.name for t in (await session.list_tools()).tools}
        ok = await session.call_tool("search", {"query": "x"})
        refused = await session.call_tool("delete_database", {})
    assert tools == {"search", "transfer"}
    assert not ok.isError
    assert refused.isError
    assert "delegation" in refused.content[0].text  # type: ignore[union-attr]
    assert ran == ["search"]

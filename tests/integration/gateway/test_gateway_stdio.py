"""The gateway in front of a stdio MCP server, and the gateway with rebac down (fail closed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_helpers import Keys, Proc, free_port, gateway, mcp_session, stdio_command, upstream_http
from mcp.shared.exceptions import McpError

pytestmark = pytest.mark.integration

AGENT: dict[str, Any] = {"client_id": "assistant"}


@pytest.fixture(scope="module")
def gw(rebac: str, keys: Keys, calls: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    log = tmp_path_factory.mktemp("gw") / "gw.log"
    with gateway(rebac, keys, log, calls, "--upstream-command", stdio_command()) as proc:
        yield proc


def lines(calls: Path) -> list[str]:
    return calls.read_text(encoding="utf-8").splitlines()


async def test_stdio_allowed_denied_and_filtered(gw: Proc, keys: Keys, calls: Path) -> None:
    async with mcp_session(gw.url, keys.token(gw.url, **AGENT)) as session:
        result = await session.call_tool("search", {"query": "over-stdio"})
        assert "3 results for 'over-stdio'" in result.content[0].text  # type: ignore[union-attr]
        with pytest.raises(McpError) as exc:
            await session.call_tool("delete_database", {"name": "stdio-db"})
        assert exc.value.error.code == -32003
        assert exc.value.error.data["reason"] == "delegation"  # type: ignore[index]
        tools = {t.name for t in (await session.list_tools()).tools}
        with pytest.raises(McpError):
            await session.call_tool("transfer", {"amount": 1000, "to": "stdio-eve"})
        ok = await session.call_tool("transfer", {"amount": 1, "to": "stdio-bob"})
        assert not ok.isError
    assert tools == {"search", "transfer", "files.read"}
    seen = lines(calls)
    assert "tool search over-stdio" in seen
    assert "tool transfer 1 stdio-bob" in seen
    assert not [line for line in seen if "stdio-db" in line or "stdio-eve" in line]


@pytest.fixture(scope="module")
def gw_rebac_down(keys: Keys, calls: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """A gateway whose rebac endpoint has nothing listening, in front of a live HTTP upstream."""
    directory = tmp_path_factory.mktemp("down")
    nowhere = f"http://127.0.0.1:{free_port()}"
    with (
        upstream_http(calls, directory / "up.log") as upstream,
        gateway(nowhere, keys, directory / "gw.log", calls, "--upstream", upstream.url) as proc,
    ):
        yield proc


async def test_rebac_down_denies_and_never_calls_the_upstream(
    gw_rebac_down: Proc, keys: Keys, calls: Path
) -> None:
    gw = gw_rebac_down
    async with mcp_session(gw.url, keys.token(gw.url, **AGENT)) as session:
        with pytest.raises(McpError) as exc:
            await session.call_tool("search", {"query": "while-down"})
        tools = (await session.list_tools()).tools
    assert exc.value.error.code == -32003
    assert exc.value.error.data["reason"] == "outage"  # type: ignore[index]
    assert tools == []  # an outage lists nothing
    assert "tool search while-down" not in lines(calls)
    log = gw.output()
    assert "denied tools/call search for agent:assistant -> user:alice: outage" in log
    assert "hid every item of tools/list" in log

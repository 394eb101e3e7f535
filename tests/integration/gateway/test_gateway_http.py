"""A real MCP SDK client -> ``rebac mcp-gateway`` -> the demo FastMCP server over streamable HTTP.

Decisions come from a live rebac server; tokens are minted from the test JWKS. "The upstream
was never called" is proved by the demo server's calls file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import KEY, Keys, Proc, gateway, mcp_session, upstream_http
from mcp.shared.exceptions import McpError

from rebac.client import Client, DecisionRecord, NotFound

pytestmark = pytest.mark.integration

AGENT: dict[str, Any] = {"client_id": "assistant"}


@pytest.fixture(scope="module")
def upstream(calls: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    with upstream_http(calls, tmp_path_factory.mktemp("up") / "up.log") as proc:
        yield proc


@pytest.fixture(scope="module")
def gw(
    rebac: str, keys: Keys, calls: Path, upstream: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proc]:
    log = tmp_path_factory.mktemp("gw") / "gw.log"
    with gateway(rebac, keys, log, calls, "--upstream", upstream.url) as proc:
        yield proc


def lines(calls: Path) -> list[str]:
    return calls.read_text(encoding="utf-8").splitlines()


def denied(exc: pytest.ExceptionInfo[McpError]) -> dict[str, Any]:
    error = exc.value.error
    assert error.code == -32003
    assert isinstance(error.data, dict)
    assert error.data["decisionId"] or error.data["reason"] in {"outage", "error", "timeout"}
    return error.data


async def test_allowed_call_reaches_the_server(gw: Proc, keys: Keys, calls: Path) -> None:
    async with mcp_session(gw.url, keys.token(gw.url, **AGENT)) as session:
        result = await session.call_tool("search", {"query": "q1"})
    assert not result.isError
    assert "3 results for 'q1'" in result.content[0].text  # type: ignore[union-attr]
    assert "tool search q1" in lines(calls)


async def test_denied_call_never_reaches_the_server(gw: Proc, keys: Keys, calls: Path) -> None:
    # the agent holds delete_database, but alice (its principal) does not: the chain caps it
    async with mcp_session(gw.url, keys.token(gw.url, **AGENT)) as session:
        with pytest.raises(McpError) as exc:
            await session.call_tool("delete_database", {"name": "prod-1"})
    data = denied(exc)
    assert data["reason"] == "delegation"
    assert data["resource"] == "tool:delete_database"
    assert data["decisionId"] in str(exc.value)
    assert not [line for line in lines(calls) if "delete_database" in line]


async def test_lists_are_filtered(gw: Proc, keys: Keys) -> None:
    async with mcp_session(gw.url, keys.token(gw.url, **AGENT)) as session:
        tools = {t.name for t in (await session.list_tools()).tools}
        resources = {str(r.uri) for r in (await session.list_resources()).resources}
        prompts = {p.name for p in (await session.list_prompts()).prompts}
    # transfer is conditional (a caveat on the arguments), so it is listed; each call decides
    assert tools == {"search", "transfer", "files.read"}
    assert resources == {"file:///docs/readme.txt"}
    assert prompts == {"summarize"}


async def test_resources_and_prompts_are_checked(gw: Proc, keys: Keys, calls: Path) -> None:
    async with mcp_session(gw.url, keys.token(gw.url, **AGENT)) as session:
        read = await session.read_resource("file:///docs/readme.txt")  # type: ignore[arg-type]
        assert read.contents[0].text == "welcome"  # type: ignore[union-attr]
        with pytest.raises(McpError) as exc:
            await session.read_resource("file:///secret/keys.txt")  # type: ignore[arg-type]
        assert denied(exc)["resource"] == 'mcp_resource:"file:///secret/keys.txt"'
        prompt = await session.get_prompt("summarize", {"text": "x"})
        assert prompt.messages
        with pytest.raises(McpError):
            await session.get_prompt("exfiltrate")
    seen = lines(calls)
    assert "resource file:///secret/keys.txt" not in seen
    assert "prompt exfiltrate" not in seen


async def test_dotted_tool_name_is_checked_as_it_is(gw: Proc, keys: Keys) -> None:
    async with mcp_session(gw.url, keys.token(gw.url, **AGENT)) as session:
        result = await session.call_tool("files.read", {"path": "/a"})
    assert "contents of /a" in result.content[0].text  # type: ignore[union-attr]


async def test_caveat_on_arguments(gw: Proc, keys: Keys, calls: Path) -> None:
    async with mcp_session(gw.url, keys.token(gw.url, **AGENT)) as session:
        ok = await session.call_tool("transfer", {"amount": 50, "to": "bob"})
        assert not ok.isError
        with pytest.raises(McpError) as exc:
            await session.call_tool("transfer", {"amount": 500, "to": "eve"})
    assert denied(exc)["resource"] == "tool:transfer"
    seen = lines(calls)
    assert "tool transfer 50 bob" in seen
    assert not [line for line in seen if "eve" in line]


async def test_act_chain_must_match_the_recorded_principals(gw: Proc, keys: Keys, calls: Path) -> None:
    # helper's recorded principal is assistant; a token claiming helper acts through "intruder" lies
    lying = keys.token(gw.url, client_id="helper", act={"sub": "intruder"})
    async with mcp_session(gw.url, lying) as session:
        with pytest.raises(McpError) as exc:
            await session.call_tool("search", {"query": "lie"})
    data = denied(exc)
    assert data["reason"] == "delegation"
    assert "chain_mismatch" in data["detail"]
    assert "tool search lie" not in lines(calls)
    honest = keys.token(gw.url, client_id="helper", act={"sub": "assistant"})
    async with mcp_session(gw.url, honest) as session:
        result = await session.call_tool("search", {"query": "honest"})
    assert not result.isError


async def test_user_token_without_client(gw: Proc, keys: Keys) -> None:
    async with mcp_session(gw.url, keys.token(gw.url)) as session:  # subject user:alice
        tools = {t.name for t in (await session.list_tools()).tools}
    assert tools == {"search", "transfer", "files.read"}


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (None, None),
        ("forged", "invalid_token"),
        ("expired", "invalid_token"),
        ("audience", "invalid_token"),
        ("garbage", "invalid_token"),
    ],
)
def test_bad_tokens_get_401_with_the_metadata(
    gw: Proc, keys: Keys, token: str | None, error: str | None
) -> None:
    tokens = {
        "forged": keys.token(gw.url, forged=True),
        "expired": keys.token(gw.url, lifetime=-60),
        "audience": keys.token("http://elsewhere.test/mcp"),
        "garbage": "not.a.jwt",
    }
    headers = {"Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {tokens[token]}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search", "arguments": {}}}
    response = httpx.post(gw.url, json=body, headers=headers, timeout=10)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    base = gw.url.removesuffix("/mcp")
    assert f'resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"' in challenge
    assert (f'error="{error}"' in challenge) == (error is not None)
    metadata = httpx.get(f"{base}/.well-known/oauth-protected-resource/mcp", timeout=10).json()
    assert metadata["resource"] == gw.url
    assert metadata["authorization_servers"] == ["https://idp.test"]
    assert metadata["bearer_methods_supported"] == ["header"]


def test_header_that_disagrees_with_the_body_is_refused(gw: Proc, keys: Keys, calls: Path) -> None:
    headers = {
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {keys.token(gw.url, **AGENT)}",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "search",
    }
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "delete_database", "arguments": {}},
    }
    response = httpx.post(gw.url, json=body, headers=headers, timeout=10)
    assert response.status_code == 400
    assert "Mcp-Name" in response.json()["error"]["message"]
    assert not [line for line in lines(calls) if "delete_database" in line]


def recorded(rebac: str, decision_id: str) -> DecisionRecord:
    """The decision's record, once the server's recorder has written it (bounded wait)."""
    with Client(rebac, key=KEY) as client:
        for _ in range(100):
            try:
                return client.decision(decision_id)
            except NotFound:
                time.sleep(0.1)
    pytest.fail(f"decision {decision_id} was not recorded")


async def test_decision_log_records_the_gateway(gw: Proc, rebac: str, keys: Keys) -> None:
    async with mcp_session(gw.url, keys.token(gw.url, **AGENT)) as session:
        with pytest.raises(McpError) as exc:
            await session.call_tool("transfer", {"amount": 700, "to": "mallory"})
    record = recorded(rebac, denied(exc)["decisionId"])
    assert record.source == "mcp-gateway"
    assert record.resource == "tool:transfer"
    assert record.permission == "call"
    assert record.subject == "agent:assistant"
    assert record.result == "denied"
    assert record.context == {
        "arguments": {"amount": 700, "to": "mallory"},
        "tool": "transfer",
        "gateway": "gw-test",
    }
    assert [hop["subject"] for hop in record.chain] == ["agent:assistant", "user:alice"]

"""Free-string ids on every server surface: the v1 API, AuthZEN, the decision log, import/export.

An id is any non-empty string up to 767 UTF-8 bytes (e-mails, URLs, dotted tool names, Unicode,
an id that starts with ``=``). Callers always get their ids back as they wrote them; the store
holds SpiceDB-grammar ids only (``rebac.refs.encode_id``), and ids that fit that grammar are
stored exactly as they are.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_helpers import AUTH, Client, check_body, obj, rel, settings, subj
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.refs import MAX_FREE_ID_BYTES, encode_id
from rebac.store.memory import MemoryTupleStore

pytestmark = pytest.mark.integration

SCHEMA = """
definition user {}

definition tool {
    relation invoker: user
    permission invoke = invoker
}
"""

FREE_IDS = [
    "rick@the-citadel.com",
    "https://example.test/a/b?c=1#frag",
    "mcp.tools.search",
    "ünïcödé 名前 🚀",
    "=cmlja0B0aGUtY2l0YWRlbC5jb20",  # the stored form of rick's id, written as an id of its own
    "=",
    "with space",
    'quote " and \\ backslash',
    "*x",
]
PLAIN = ["tom", "a-b_c|d/e+f", "x=y"]


async def _write(client: Client, *rels: dict[str, Any]) -> str:
    updates = [{"operation": "OPERATION_TOUCH", "relationship": r} for r in rels]
    response = await client.post("/v1/relationships/write", json={"updates": updates}, headers=AUTH)
    assert response.status_code == 200, response.text
    token: str = response.json()["writtenAt"]["token"]
    return token


def _fresh(token: str) -> dict[str, Any]:
    return {"atLeastAsFresh": {"token": token}}


async def _read(client: Client, resource_type: str) -> list[dict[str, Any]]:
    body = {"relationshipFilter": {"resourceType": resource_type}, "consistency": {"fullyConsistent": True}}
    response = await client.post("/v1/relationships/read", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return [r["relationship"] for r in response.json()["results"]]


@pytest.fixture
async def tools(client: Client) -> Client:
    response = await client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)
    assert response.status_code == 200, response.text
    return client


async def test_v1_takes_free_ids_and_gives_them_back_as_written(tools: Client) -> None:
    ids = FREE_IDS + PLAIN
    token = ""
    for start in range(0, len(ids), 5):
        token = await _write(tools, *(rel("tool", i, "invoker", "user", i) for i in ids[start : start + 5]))
    found = await _read(tools, "tool")
    assert sorted((r["resource"]["objectId"], r["subject"]["object"]["objectId"]) for r in found) == sorted(
        (i, i) for i in ids
    )
    for id_ in ids:
        body = {**check_body("x", "invoke", id_), "resource": obj("tool", id_), "consistency": _fresh(token)}
        response = await tools.post("/v1/permissions/check", json=body, headers=AUTH)
        assert response.json()["permissionship"] == "PERMISSIONSHIP_HAS_PERMISSION", (id_, response.text)
    # rick's id and the id spelled like rick's stored form are two ids, not one
    body = {
        **check_body("x", "invoke", "rick@the-citadel.com"),
        "resource": obj("tool", "=cmlja0B0aGUtY2l0YWRlbC5jb20"),
        "consistency": _fresh(token),
    }
    response = await tools.post("/v1/permissions/check", json=body, headers=AUTH)
    assert response.json()["permissionship"] == "PERMISSIONSHIP_NO_PERMISSION"


async def test_lookups_give_free_ids_back(tools: Client) -> None:
    token = await _write(
        tools,
        rel("tool", "mcp.tools.search", "invoker", "user", "rick@the-citadel.com"),
        rel("tool", "mcp.tools.fetch", "invoker", "user", "rick@the-citadel.com"),
        rel("tool", "mcp.tools.search", "invoker", "user", "ünï"),
    )
    body = {
        "resourceObjectType": "tool",
        "permission": "invoke",
        "subject": subj("user", "rick@the-citadel.com"),
        "consistency": _fresh(token),
    }
    response = await tools.post("/v1/permissions/resources", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    found = sorted(r["resourceObjectId"] for r in response.json()["results"])
    assert found == ["mcp.tools.fetch", "mcp.tools.search"]
    body = {
        "resource": obj("tool", "mcp.tools.search"),
        "permission": "invoke",
        "subjectObjectType": "user",
        "consistency": _fresh(token),
    }
    response = await tools.post("/v1/permissions/subjects", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    subjects = [r["subject"]["subjectObjectId"] for r in response.json()["results"]]
    assert sorted(subjects) == ["rick@the-citadel.com", "ünï"]
    # a filter on a free id finds it
    flt = {
        "resourceType": "tool",
        "optionalSubjectFilter": {"subjectType": "user", "optionalSubjectId": "ünï"},
    }
    response = await tools.post(
        "/v1/relationships/read",
        json={"relationshipFilter": flt, "consistency": {"fullyConsistent": True}},
        headers=AUTH,
    )
    rows = [r["relationship"] for r in response.json()["results"]]
    assert [r["resource"]["objectId"] for r in rows] == ["mcp.tools.search"]


async def test_the_length_limit_is_767_bytes_and_a_longer_id_writes_nothing(tools: Client) -> None:
    longest = "é" * (MAX_FREE_ID_BYTES // 2) + "@" * (MAX_FREE_ID_BYTES % 2)
    assert len(longest.encode()) == MAX_FREE_ID_BYTES == 767
    assert len(encode_id(longest)) <= 1024
    await _write(tools, rel("tool", longest, "invoker", "user", "tom"))
    too_long = longest + "@"
    for bad in (
        rel("tool", too_long, "invoker", "user", "tom"),
        rel("tool", "t1", "invoker", "user", too_long),
    ):
        updates = [
            {"operation": "OPERATION_TOUCH", "relationship": r}
            for r in (rel("tool", "t2", "invoker", "user", "a"), bad)
        ]
        response = await tools.post("/v1/relationships/write", json={"updates": updates}, headers=AUTH)
        assert response.status_code == 400, response.text
        assert response.json()["type"] == "urn:rebac:problem:malformed-reference"
        assert "767" in response.json()["detail"]
    assert [r["resource"]["objectId"] for r in await _read(tools, "tool")] == [longest]
    response = await tools.post("/v1/permissions/check", json=check_body("", "view", "tom"), headers=AUTH)
    assert response.status_code == 400  # an empty id is refused, never looked up


async def test_the_decision_log_shows_ids_as_written(tools: Client) -> None:
    token = await _write(tools, rel("tool", "mcp.tools.search", "invoker", "user", "rick@the-citadel.com"))
    body = {
        "resource": obj("tool", "mcp.tools.search"),
        "permission": "invoke",
        "subject": subj("user", "rick@the-citadel.com"),
        "consistency": _fresh(token),
    }
    response = await tools.post("/v1/permissions/check", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    decision_id = response.json()["decisionId"]
    for _ in range(50):
        shown = await tools.get(f"/v1/decisions/{decision_id}", headers=AUTH)
        if shown.status_code == 200:
            break
        await _sleep()
    assert shown.status_code == 200, shown.text
    record = shown.json()
    assert record["subject"] == 'user:"rick@the-citadel.com"'
    assert record["resource"] == 'tool:"mcp.tools.search"'
    for spelled in ('user:"rick@the-citadel.com"',):
        listed = await tools.get("/v1/decisions", params={"subject": spelled}, headers=AUTH)
        assert listed.status_code == 200, listed.text
        assert decision_id in json.dumps(listed.json())


async def _sleep() -> None:
    import asyncio  # noqa: PLC0415

    await asyncio.sleep(0.1)


async def test_export_writes_ids_as_written_and_import_reads_them_back(tools: Client) -> None:
    await _write(
        tools,
        rel("tool", "mcp.tools.search", "invoker", "user", "rick@the-citadel.com"),
        rel("tool", "=x", "invoker", "user", "ünï"),
        rel("tool", "plain", "invoker", "user", "tom"),
    )
    response = await tools.post(
        "/v1/relationships/exportbulk", json={"consistency": {"fullyConsistent": True}}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    lines = sorted(json.loads(line)["relationship"] for line in response.text.splitlines() if line.strip())
    assert lines == [
        'tool:"=x"#invoker@user:"ünï"',
        'tool:"mcp.tools.search"#invoker@user:"rick@the-citadel.com"',
        "tool:plain#invoker@user:tom",
    ]
    # The export imports back unchanged: the same ids, read back as written.
    twin = "\n".join(json.dumps({"relationship": line}) for line in lines)
    delete = {"relationshipFilter": {"resourceType": "tool"}}
    assert (await tools.post("/v1/relationships/delete", json=delete, headers=AUTH)).status_code == 200
    response = await tools.post("/v1/relationships/importbulk", content=twin.encode(), headers=AUTH)
    assert response.status_code == 200, response.text
    found = sorted(
        (r["resource"]["objectId"], r["subject"]["object"]["objectId"]) for r in await _read(tools, "tool")
    )
    assert found == [("=x", "ünï"), ("mcp.tools.search", "rick@the-citadel.com"), ("plain", "tom")]
    bad = b'tool:"' + b"x" * 800 + b'@"#invoker@user:tom\n'
    response = await tools.post("/v1/relationships/importbulk", content=bad, headers=AUTH)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("line 1:")


async def test_authzen_and_v1_name_the_same_id(tools: Client) -> None:
    await _write(tools, rel("tool", "https://example.test/tool", "invoker", "user", "rick@the-citadel.com"))
    request = {
        "subject": {"type": "user", "id": "rick@the-citadel.com"},
        "action": {"name": "invoke"},
        "resource": {"type": "tool", "id": "https://example.test/tool"},
    }
    response = await tools.post("/access/v1/evaluation", json=request, headers=AUTH)
    assert response.json()["decision"] is True, response.text
    search = {"subject": {"type": "user", "id": "rick@the-citadel.com"}, "action": {"name": "invoke"}}
    search["resource"] = {"type": "tool"}
    response = await tools.post("/access/v1/search/resource", json=search, headers=AUTH)
    assert response.json()["results"] == [{"type": "tool", "id": "https://example.test/tool"}]


async def test_a_bulk_item_with_free_ids_and_a_malformed_permission_is_a_400(tools: Client) -> None:
    # Free ids no longer stop such an item at the id: its permission name is checked on its own.
    item = {**check_body("x", "", "rick@the-citadel.com"), "resource": obj("tool", "mcp.tools.search")}
    response = await tools.post("/v1/permissions/checkbulk", json={"items": [item]}, headers=AUTH)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "urn:rebac:problem:malformed-reference"


AGENTS = """
definition user {}

definition agent {
    relation principal: user
    acts_for principal
}

definition tool {
    relation invoker: user | agent
    permission invoke = invoker
}
"""


async def test_keys_identities_and_errors_name_ids_as_written(client: Client) -> None:
    response = await client.post("/v1/schema/write", json={"schema": AGENTS}, headers=AUTH)
    assert response.status_code == 200, response.text
    await _write(client, rel("agent", "bot.v1", "principal", "user", "rick@the-citadel.com"))

    found = await client.get("/v1/identities", headers=AUTH)
    assert found.status_code == 200, found.text
    (identity,) = found.json()["identities"]
    assert identity["subject"] == 'agent:"bot.v1"'
    assert identity["chain"] == ['agent:"bot.v1"', 'user:"rick@the-citadel.com"']
    assert identity["owners"] == ['user:"rick@the-citadel.com"']

    bad = rel("tool", "mcp.tools.search", "invoker", "tool", "a@b")  # a tool cannot invoke
    refused = await client.post(
        "/v1/relationships/write",
        json={"updates": [{"operation": "OPERATION_TOUCH", "relationship": bad}]},
        headers=AUTH,
    )
    assert refused.status_code == 400, refused.text
    problem = refused.json()
    assert problem["relationship"] == 'tool:"mcp.tools.search"#invoker@tool:"a@b"'
    assert encode_id("a@b") not in refused.text


async def test_key_subjects_are_shown_as_written() -> None:
    app = create_app(settings(), store=MemoryTupleStore(quantization_seconds=0), schema_refresh_seconds=0)
    async with AsyncTestClient(app) as client:
        made = await client.post(
            "/v1/keys",
            json={
                "scopes": ["check"],
                "name": "bot",
                "subject": {"objectType": "agent", "objectId": "bot.v1"},
            },
            headers=AUTH,
        )
        assert made.status_code == 200, made.text
        assert made.json()["subject"] == 'agent:"bot.v1"'
        listed = await client.get("/v1/keys", headers=AUTH)
        assert [k["subject"] for k in listed.json()["keys"]] == ['agent:"bot.v1"']

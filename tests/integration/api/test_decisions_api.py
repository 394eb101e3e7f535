"""``/v1/decisions``: every decision is recorded with the id returned to the caller, and queryable."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_helpers import AUTH, Client, KeyTable, flush_decisions, obj, subj

pytestmark = pytest.mark.integration


async def _check(client: Client, subject: str, permission: str = "view", doc: str = "d1") -> dict[str, Any]:
    response = await client.post(
        "/v1/permissions/check",
        json={"resource": obj("document", doc), "permission": permission, "subject": subj("user", subject)},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _list(client: Client, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/decisions", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_check_returns_the_id_of_its_record(seeded: Client) -> None:
    allowed = await _check(seeded, "tom")
    denied = await _check(seeded, "bob")
    await flush_decisions(seeded)
    found = {d["decisionId"]: d for d in (await _list(seeded))["decisions"]}
    tom, bob = found[allowed["decisionId"]], found[denied["decisionId"]]
    assert (tom["result"], tom["subject"], tom["resource"], tom["permission"]) == (
        "allowed",
        "user:tom",
        "document:d1",
        "view",
    )
    assert (tom["source"], tom["caller"], tom["schemaVersion"]) == ("check", "preshared", 1)
    assert tom["revision"] >= 1
    assert len(tom["schemaHash"]) == 64
    assert tom["latencyMs"] >= 0
    assert bob["result"] == "denied"
    assert bob["reason"] == "no path grants the permission"


async def test_bulk_items_and_authzen_evaluations_are_recorded(seeded: Client) -> None:
    response = await seeded.post(
        "/v1/permissions/checkbulk",
        json={
            "items": [
                {"resource": obj("document", "d1"), "permission": "view", "subject": subj("user", "tom")},
                {"resource": obj("document", "d1"), "permission": "nope", "subject": subj("user", "tom")},
            ]
        },
        headers=AUTH,
    )
    pairs = response.json()["pairs"]
    assert all(pair["decisionId"] for pair in pairs)
    evaluation = await seeded.post(
        "/access/v1/evaluation",
        json={
            "subject": {"type": "user", "id": "ann"},
            "resource": {"type": "document", "id": "d1"},
            "action": {"name": "edit"},
        },
        headers=AUTH,
    )
    authzen_id = evaluation.json()["context"]["decision_id"]
    await flush_decisions(seeded)
    found = {d["decisionId"]: d for d in (await _list(seeded))["decisions"]}
    assert found[pairs[0]["decisionId"]]["source"] == "checkbulk"
    error = found[pairs[1]["decisionId"]]
    assert error["result"] == "error"
    assert error["reason"].startswith("error: UnknownRelationError")
    assert found[authzen_id]["source"] == "authzen"
    assert found[authzen_id]["result"] == "allowed"


async def test_filters_pagination_and_ndjson_export(seeded: Client) -> None:
    ids = [(await _check(seeded, name))["decisionId"] for name in ("tom", "bob", "tom", "eve", "tom")]
    await _check(seeded, "tom", doc="d2")
    await flush_decisions(seeded)
    toms = await _list(seeded, subject="user:tom", resource="document:d1")
    assert [d["decisionId"] for d in toms["decisions"]] == [ids[4], ids[2], ids[0]]  # newest first
    denied = await _list(seeded, result="denied")
    assert {d["subject"] for d in denied["decisions"]} == {"user:bob", "user:eve"}
    future = await _list(seeded, since="2999-01-01T00:00:00Z")
    assert future["decisions"] == []
    assert len((await _list(seeded, until="2999-01-01T00:00:00"))["decisions"]) == 6

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = await _list(seeded, **params)
        seen += [d["decisionId"] for d in page["decisions"]]
        if "nextCursor" not in page:
            break
        params["cursor"] = page["nextCursor"]
    assert len(seen) == 6 == len(set(seen))

    export = await seeded.get("/v1/decisions/export", params={"subject": "user:tom"}, headers=AUTH)
    assert export.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert len(lines) == 4
    assert all(line["subject"] == "user:tom" for line in lines)


async def test_bad_parameters_are_problems(seeded: Client) -> None:
    bad_result = await seeded.get("/v1/decisions", params={"result": "maybe"}, headers=AUTH)
    assert bad_result.status_code == 400
    assert bad_result.json()["type"] == "urn:rebac:problem:invalid-input"
    bad_cursor = await seeded.get("/v1/decisions", params={"cursor": "!!"}, headers=AUTH)
    assert bad_cursor.json()["type"] == "urn:rebac:problem:invalid-token"
    bad_time = await seeded.get("/v1/decisions", params={"since": "yesterday"}, headers=AUTH)
    assert bad_time.status_code == 400
    too_many = await seeded.get("/v1/decisions", params={"limit": 100_000}, headers=AUTH)
    assert too_many.json()["type"] == "urn:rebac:problem:limit-exceeded"


async def test_admin_scope_is_required_and_stats_count(seeded: Client, keys: KeyTable) -> None:
    checker = keys.add("check")
    response = await seeded.get("/v1/decisions", headers={"Authorization": f"Bearer {checker.text}"})
    assert response.status_code == 403
    await _check(seeded, "tom")
    await flush_decisions(seeded)
    stats = (await seeded.get("/v1/decisions/stats", headers=AUTH)).json()
    assert stats["enabled"] is True
    assert stats["written"] >= 1
    assert stats["recorded"] == stats["written"] + stats["queued"] + stats["failed"]
    assert stats["dropped"] == 0


async def test_one_decision_by_its_id(seeded: Client) -> None:
    allowed = await _check(seeded, "tom")
    denied = await _check(seeded, "bob")
    await flush_decisions(seeded)
    listed = {d["decisionId"]: d for d in (await _list(seeded))["decisions"]}
    for made in (allowed, denied):
        response = await seeded.get(f"/v1/decisions/{made['decisionId']}", headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.json() == listed[made["decisionId"]]  # the shape of the list's items
    assert (await seeded.get(f"/v1/decisions/{denied['decisionId']}", headers=AUTH)).json()["result"] == (
        "denied"
    )


async def test_an_unknown_or_malformed_decision_id_is_a_problem(seeded: Client, keys: KeyTable) -> None:
    made = await _check(seeded, "tom")
    await flush_decisions(seeded)
    unknown = made["decisionId"][:-12] + "000000000000"  # the same day and time, another id
    assert unknown != made["decisionId"]
    missing = await seeded.get(f"/v1/decisions/{unknown}", headers=AUTH)
    assert missing.status_code == 404, missing.text
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["type"] == "urn:rebac:problem:not-found"
    assert missing.json()["decisionId"] == unknown
    for text in ("not-a-uuid", "6f1c6a4e-3b1f-4c1e-9a1e-2b3c4d5e6f70"):  # a UUIDv4 is no decision id
        malformed = await seeded.get(f"/v1/decisions/{text}", headers=AUTH)
        assert malformed.status_code == 400, malformed.text
        assert malformed.json()["type"] == "urn:rebac:problem:invalid-input"
    checker = keys.add("check")
    refused = await seeded.get(
        f"/v1/decisions/{made['decisionId']}", headers={"Authorization": f"Bearer {checker.text}"}
    )
    assert refused.status_code == 403
    # the static routes still win over the id route
    assert (await seeded.get("/v1/decisions/stats", headers=AUTH)).json()["enabled"] is True


async def test_an_unknown_query_parameter_is_a_problem_naming_it(seeded: Client) -> None:
    made = await _check(seeded, "tom")
    await flush_decisions(seeded)
    for path in ("/v1/decisions", "/v1/decisions/export"):
        response = await seeded.get(path, params={"decisionId": made["decisionId"]}, headers=AUTH)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["type"] == "urn:rebac:problem:invalid-input"
        assert body["parameter"] == "decisionId"
        assert "decisionId" in body["detail"]
        assert "/v1/decisions/{decisionId}" in body["detail"]
    typo = await seeded.get("/v1/decisions", params={"subjekt": "user:tom", "limit": 5}, headers=AUTH)
    assert typo.status_code == 400
    assert typo.json()["parameter"] == "subjekt"
    cursor = await seeded.get("/v1/decisions/export", params={"cursor": "x"}, headers=AUTH)
    assert cursor.status_code == 400  # export has no cursor: it streams everything
    assert cursor.json()["parameter"] == "cursor"
    # every documented filter is still accepted
    known = {"subject": "user:tom", "resource": "document:d1", "permission": "view", "result": "allowed"}
    assert len((await _list(seeded, **known, since="2000-01-01T00:00:00Z", limit=10))["decisions"]) >= 1

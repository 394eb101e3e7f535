"""Access requests through the API on the memory store (its twin of the access-request table).

The same rules as on PostgreSQL (``test_authzen_requests``): ask, approve, the grant allows,
a second approval is a 409 problem that changes nothing, and every step is in the decision log
even with a sampling rate of 0 (the approver's allowed check is then sampled out; the steps are not).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from api_helpers import AUTH, settings
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.store.memory import MemoryTupleStore

pytestmark = pytest.mark.integration

SCHEMA = """
use expiration

definition user {}

definition agent {
    relation principal: user
    acts_for principal
}

definition document {
    relation owner: user
    relation viewer: user | agent with expiration
    permission view = viewer + owner
    permission approve_access = owner
}
"""
RELATIONSHIPS = (
    "agent:bot#principal@user:alice\ndocument:plan#owner@user:bob\ndocument:plan#viewer@user:alice"
)
EVALUATION = {
    "subject": {"type": "user", "id": "alice"},
    "action": {"name": "view"},
    "resource": {"type": "document", "id": "plan"},
    "context": {"agent": "bot"},
}


async def _keys(client: AsyncTestClient[Any]) -> dict[str, dict[str, str]]:
    made = {}
    for name, subject in (("bot", "agent:bot"), ("bob", "user:bob")):
        body = {
            "scopes": ["check"],
            "name": name,
            "subject": {"objectType": subject.split(":")[0], "objectId": subject.split(":")[1]},
        }
        response = await client.post("/v1/keys", json=body, headers=AUTH)
        assert response.status_code in {200, 201}, response.text
        made[name] = {"Authorization": f"Bearer {response.json()['key']}"}
    return made


async def _allowed(client: AsyncTestClient[Any]) -> bool:
    response = await client.post("/access/v1/evaluation", json=EVALUATION, headers=AUTH)
    assert response.status_code == 200, response.text
    return bool(response.json()["decision"])


async def test_the_flow_on_the_memory_store() -> None:
    base = settings()
    unsampled = replace(base, decisions=replace(base.decisions, sample_rate=0.0))  # allowed checks: not kept
    app = create_app(unsampled, store=MemoryTupleStore(quantization_seconds=0), schema_refresh_seconds=0)
    async with AsyncTestClient(app) as client:
        assert (
            await client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)
        ).status_code == 200
        imported = await client.post(
            "/v1/relationships/importbulk", content=RELATIONSHIPS.encode(), headers=AUTH
        )
        assert imported.status_code == 200, imported.text
        keys = await _keys(client)
        assert not await _allowed(client)

        submission = {**EVALUATION, "requested_access": {"relation": "viewer", "duration_seconds": 600}}
        created = await client.post("/access/v1/requests", json=submission, headers=keys["bot"])
        assert created.status_code == 202, created.text
        request_id = created.json()["task"]["id"]
        listed = await client.get("/access/v1/requests", params={"status": "pending"}, headers=keys["bob"])
        assert [r["task"]["id"] for r in listed.json()["requests"]] == [request_id]

        approved = await client.post(f"/access/v1/requests/{request_id}/approve", headers=keys["bob"])
        assert approved.status_code == 200, approved.text
        assert approved.json()["request"]["grant"]["revision"] > 0
        assert await _allowed(client)

        again = await client.post(f"/access/v1/requests/{request_id}/approve", headers=keys["bob"])
        assert again.status_code == 409
        assert again.json()["type"].startswith("urn:rebac:problem:")
        status = await client.get(f"/access/v1/requests/{request_id}", headers=keys["bot"])
        assert status.json()["task"]["status"] == "approved"
        unknown = await client.post("/access/v1/requests/ar_nope/deny", headers=keys["bob"])
        assert unknown.status_code == 404

        sources: set[str] = set()
        for _ in range(100):  # the recorder writes in batches: a bounded poll
            page = await client.get("/v1/decisions", params={"subject": "agent:bot"}, headers=AUTH)
            sources = {d["source"] for d in page.json()["decisions"]}
            if {"access_request.created", "access_request.approved"} <= sources:
                break
            await asyncio.sleep(0.1)
        assert {"access_request", "access_request.created", "access_request.approved"} <= sources
        approver = await client.get("/v1/decisions", params={"subject": "user:bob"}, headers=AUTH)
        assert "access_approval" not in {d["source"] for d in approver.json()["decisions"]}  # sampled out


async def test_a_listing_longer_than_a_page_lists_every_request_once() -> None:
    app = create_app(settings(), store=MemoryTupleStore(quantization_seconds=0), schema_refresh_seconds=0)
    async with AsyncTestClient(app) as client:
        assert (
            await client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)
        ).status_code == 200
        imported = await client.post(
            "/v1/relationships/importbulk", content=RELATIONSHIPS.encode(), headers=AUTH
        )
        assert imported.status_code == 200, imported.text
        keys = await _keys(client)
        made = []
        for n in range(105):  # more than one page (100)
            body = {
                **EVALUATION,
                "resource": {"type": "document", "id": f"d{n}"},
                "requested_access": {"relation": "viewer", "duration_seconds": 600},
            }
            created = await client.post("/access/v1/requests", json=body, headers=keys["bot"])
            assert created.status_code == 202, created.text
            made.append(created.json()["task"]["id"])

        seen: list[str] = []
        params: dict[str, str] = {"status": "pending"}
        for _ in range(5):  # bounded: two pages are expected
            page = await client.get("/access/v1/requests", params=params, headers=AUTH)
            assert page.status_code == 200, page.text
            seen.extend(r["task"]["id"] for r in page.json()["requests"])
            token = page.json()["next_token"]
            if not token:
                break
            params = {"status": "pending", "page_token": token}
        assert sorted(seen) == sorted(made)
        assert len(seen) == len(set(seen))

        first = await client.get("/access/v1/requests", params={"status": "pending"}, headers=AUTH)
        token = first.json()["next_token"]
        other_query = await client.get("/access/v1/requests", params={"page_token": token}, headers=AUTH)
        assert other_query.status_code == 400, other_query.text
        garbage = await client.get("/access/v1/requests", params={"page_token": "x" + token}, headers=AUTH)
        assert garbage.status_code == 400, garbage.text

"""Delegation through the API: hop evidence on v1 checks, ``optionalVia`` and AuthZEN ``via``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from api_helpers import AUTH, FULL, Client, obj, subj

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def agents(client: Client) -> Client:
    schema = (ROOT / "schema" / "agents.zed").read_text(encoding="utf-8")
    assert (await client.post("/v1/schema/write", json={"schema": schema}, headers=AUTH)).status_code == 200
    lines = (ROOT / "schema" / "agents_demo.txt").read_text(encoding="utf-8").splitlines()
    lines += ["document:payroll#viewer@agent:planner", "document:roadmap#viewer@agent:search"]
    body = "\n".join(line for line in lines if line and not line.startswith("//"))
    response = await client.post("/v1/relationships/importbulk", content=body.encode(), headers=AUTH)
    assert response.status_code == 200, response.text
    return client


def _check(resource: str, subject: str, **extra: Any) -> dict[str, Any]:
    rtype, rid = resource.split(":")
    stype, sid = subject.split(":")
    return {"resource": obj(rtype, rid), "permission": "view", "subject": subj(stype, sid), **FULL, **extra}


async def test_agent_is_capped_by_its_principal(agents: Client) -> None:
    allowed = (
        await agents.post(
            "/v1/permissions/check", json=_check("document:roadmap", "agent:planner"), headers=AUTH
        )
    ).json()
    assert allowed["permissionship"] == "PERMISSIONSHIP_HAS_PERMISSION"
    assert [hop["subject"]["object"]["objectId"] for hop in allowed["delegation"]] == ["planner", "alice"]
    capped = (
        await agents.post(
            "/v1/permissions/check", json=_check("document:payroll", "agent:planner"), headers=AUTH
        )
    ).json()
    assert capped["permissionship"] == "PERMISSIONSHIP_NO_PERMISSION"
    failed = [hop for hop in capped["delegation"] if hop["permissionship"] == "PERMISSIONSHIP_NO_PERMISSION"]
    assert failed[0]["subject"]["object"] == obj("user", "alice")
    assert failed[0]["reason"] == "denied"
    human = (
        await agents.post(
            "/v1/permissions/check", json=_check("document:roadmap", "user:alice"), headers=AUTH
        )
    ).json()
    assert "delegation" not in human


async def test_claimed_call_chain_must_match_recorded_principals(agents: Client) -> None:
    good = _check(
        "document:roadmap", "agent:search", optionalVia=[subj("agent", "planner"), subj("user", "alice")]
    )
    assert (await agents.post("/v1/permissions/check", json=good, headers=AUTH)).json()[
        "permissionship"
    ] == "PERMISSIONSHIP_HAS_PERMISSION"
    forged = _check("document:roadmap", "agent:search", optionalVia=[subj("user", "bob")])
    answer = (await agents.post("/v1/permissions/check", json=forged, headers=AUTH)).json()
    assert answer["permissionship"] == "PERMISSIONSHIP_NO_PERMISSION"
    assert any(hop["reason"] == "chain_mismatch" for hop in answer["delegation"])


async def test_authzen_via_and_failed_hop(agents: Client) -> None:
    base = {"resource": {"type": "document", "id": "roadmap"}, "action": {"name": "view"}}
    ok = await agents.post(
        "/access/v1/evaluation",
        json={
            **base,
            "subject": {
                "type": "agent",
                "id": "search",
                "properties": {"via": ["agent:planner", "user:alice"]},
            },
        },
        headers={**AUTH, "X-Rebac-Consistency-Token": await _token(agents)},
    )
    assert ok.json()["decision"] is True  # context carries the decision_id
    forged = await agents.post(
        "/access/v1/evaluation",
        json={
            **base,
            "subject": {
                "type": "agent",
                "id": "search",
                "properties": {"via": [{"type": "user", "id": "bob"}]},
            },
        },
        headers={**AUTH, "X-Rebac-Consistency-Token": await _token(agents)},
    )
    assert forged.json()["decision"] is False
    assert forged.json()["context"]["failed_hop"]["reason"] == "chain_mismatch"
    bad = await agents.post(
        "/access/v1/evaluation",
        json={**base, "subject": {"type": "agent", "id": "search", "properties": {"via": "user:alice"}}},
        headers=AUTH,
    )
    assert bad.status_code == 400


async def _token(client: Client) -> str:
    read = await client.post("/v1/schema/read", headers=AUTH)
    token: str = read.json()["readAt"]["token"]
    return token

"""The ``schema/agents.zed`` scenarios of issue 6, end to end through the HTTP API.

The schema is written with ``/v1/schema/write`` and the relationships of ``schema/agents.yaml``
are loaded with ``/v1/relationships/importbulk``; every scenario then asks ``/v1/permissions/check``
(and AuthZEN ``/access/v1/evaluation`` for some) and asserts both the decision and the
``delegation`` hop list that names the failing hop and its reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_helpers import AUTH, FULL, Client, obj, rel, subj

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]

HAS = "PERMISSIONSHIP_HAS_PERMISSION"
NO = "PERMISSIONSHIP_NO_PERMISSION"
CONDITIONAL = "PERMISSIONSHIP_CONDITIONAL_PERMISSION"


@pytest.fixture
async def agents(client: Client) -> Client:
    """``schema/agents.zed`` with the relationships of ``schema/agents.yaml``."""
    schema = (ROOT / "schema" / "agents.zed").read_text(encoding="utf-8")
    response = await client.post("/v1/schema/write", json={"schema": schema}, headers=AUTH)
    assert response.status_code == 200, response.text
    validation = yaml.safe_load((ROOT / "schema" / "agents.yaml").read_text(encoding="utf-8"))
    lines = [line.strip() for line in validation["relationships"].splitlines()]
    body = "\n".join(line for line in lines if line and not line.startswith("//"))
    response = await client.post("/v1/relationships/importbulk", content=body.encode(), headers=AUTH)
    assert response.status_code == 200, response.text
    return client


def _ref(text: str) -> tuple[str, str]:
    type_, id_ = text.split(":")
    return type_, id_


async def check(client: Client, resource: str, permission: str, subject: str, **extra: Any) -> dict[str, Any]:
    """``/v1/permissions/check``; ``subject`` is ``type:id`` or ``type:id#relation``."""
    subject_obj, _, relation = subject.partition("#")
    body = {
        "resource": obj(*_ref(resource)),
        "permission": permission,
        "subject": subj(*_ref(subject_obj), relation),
        **FULL,
        **extra,
    }
    response = await client.post("/v1/permissions/check", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def hops(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The delegation hops as (``type:id``, permissionship, reason), subject first."""
    return [
        (
            f"{hop['subject']['object']['objectType']}:{hop['subject']['object']['objectId']}",
            hop["permissionship"],
            hop["reason"],
        )
        for hop in result["delegation"]
    ]


def failed_hop(result: dict[str, Any]) -> tuple[str, str, str]:
    """The first hop without permission."""
    return next(hop for hop in hops(result) if hop[1] == NO)


async def evaluate(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    """AuthZEN ``/access/v1/evaluation`` at the head revision."""
    read = await client.post("/v1/schema/read", headers=AUTH)
    token = read.json()["readAt"]["token"]
    response = await client.post(
        "/access/v1/evaluation", json=body, headers={**AUTH, "X-Rebac-Consistency-Token": token}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def authzen(resource: str, action: str, subject: str, **properties: Any) -> dict[str, Any]:
    rtype, rid = _ref(resource)
    stype, sid = _ref(subject)
    who: dict[str, Any] = {"type": stype, "id": sid}
    if properties:
        who["properties"] = properties
    return {"subject": who, "action": {"name": action}, "resource": {"type": rtype, "id": rid}}


async def test_three_hop_chain_denied_at_the_root_human(agents: Client) -> None:
    # alice -> planner -> search -> fetcher: fetcher (and its chain) may view the launch doc, alice may not
    denied = await check(agents, "document:launch", "view", "agent:fetcher")
    assert denied["permissionship"] == NO
    assert [hop[0] for hop in hops(denied)] == [
        "agent:fetcher",
        "agent:search",
        "agent:planner",
        "user:alice",
    ]
    assert hops(denied)[:3] == [
        ("agent:fetcher", HAS, "granted"),
        ("agent:search", HAS, "granted"),
        ("agent:planner", HAS, "granted"),
    ]
    assert failed_hop(denied) == ("user:alice", NO, "denied")
    assert [hop["depth"] for hop in denied["delegation"]] == [0, 1, 2, 3]
    # what every link may do, the sub-sub-agent may do
    allowed = await check(agents, "document:handbook", "view", "agent:fetcher")
    assert allowed["permissionship"] == HAS
    assert all(hop[1] == HAS for hop in hops(allowed))
    assert len(allowed["delegation"]) == 4


async def test_orphan_agent_is_denied(agents: Client) -> None:
    result = await check(agents, "tool:email", "invoke", "agent:orphan")
    assert result["permissionship"] == NO
    assert failed_hop(result) == ("agent:orphan", NO, "orphan")
    # an agent whose only principal edge expired is an orphan again
    expired = await check(agents, "tool:calendar", "invoke", "agent:intern")
    assert expired["permissionship"] == NO
    assert failed_hop(expired) == ("agent:intern", NO, "orphan")
    decision = await evaluate(agents, authzen("tool:email", "invoke", "agent:orphan"))
    assert decision["decision"] is False
    assert decision["context"]["failed_hop"] == {"type": "agent", "id": "orphan", "reason": "orphan"}


async def test_chain_mismatch_is_denied(agents: Client) -> None:
    via = [subj("agent", "planner"), subj("user", "alice")]
    good = await check(agents, "tool:email", "invoke", "agent:search", optionalVia=via)
    assert good["permissionship"] == HAS
    forged = await check(agents, "tool:email", "invoke", "agent:search", optionalVia=[subj("user", "bob")])
    assert forged["permissionship"] == NO
    assert failed_hop(forged)[2] == "chain_mismatch"
    ok = await evaluate(
        agents, authzen("tool:email", "invoke", "agent:search", via=["agent:planner", "user:alice"])
    )
    assert ok["decision"] is True
    mismatch = await evaluate(agents, authzen("tool:email", "invoke", "agent:search", via=["user:bob"]))
    assert mismatch["decision"] is False
    assert mismatch["context"]["failed_hop"]["reason"] == "chain_mismatch"


async def test_expiring_agent_grant(agents: Client) -> None:
    now = datetime.now(UTC)
    future = (now + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    past = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    updates = [
        {"operation": "OPERATION_TOUCH", "relationship": rel("tool", "timer", "invoker", "user", "alice")},
        {
            "operation": "OPERATION_TOUCH",
            "relationship": {
                **rel("tool", "timer", "invoker", "agent", "planner"),
                "optionalExpiresAt": future,
            },
        },
        {
            "operation": "OPERATION_TOUCH",
            "relationship": {**rel("tool", "timer", "invoker", "agent", "search"), "optionalExpiresAt": past},
        },
    ]
    response = await agents.post("/v1/relationships/write", json={"updates": updates}, headers=AUTH)
    assert response.status_code == 200, response.text

    valid = await check(agents, "tool:timer", "invoke", "agent:planner")
    assert valid["permissionship"] == HAS
    assert hops(valid) == [("agent:planner", HAS, "granted"), ("user:alice", HAS, "granted")]
    expired = await check(agents, "tool:timer", "invoke", "agent:search")
    assert expired["permissionship"] == NO
    assert failed_hop(expired) == ("agent:search", NO, "denied")  # its own grant expired
    decision = await evaluate(agents, authzen("tool:timer", "invoke", "agent:search"))
    assert decision["decision"] is False


async def test_agent_star_inherits_the_principals_rights(agents: Client) -> None:
    """A grant to ``agent:*`` means: any agent, within what its principals may view."""
    alice_agent = await check(agents, "document:handbook", "view", "agent:planner")
    assert alice_agent["permissionship"] == HAS
    assert hops(alice_agent) == [("agent:planner", HAS, "granted"), ("user:alice", HAS, "granted")]
    bob_agent = await check(agents, "document:handbook", "view", "agent:bobbot")
    assert bob_agent["permissionship"] == NO
    assert hops(bob_agent)[0] == ("agent:bobbot", HAS, "granted")  # agent:* matches it
    assert failed_hop(bob_agent) == ("user:bob", NO, "denied")
    orphan = await check(agents, "document:handbook", "view", "agent:orphan")
    assert orphan["permissionship"] == NO
    assert failed_hop(orphan) == ("agent:orphan", NO, "orphan")


async def test_tool_call_caveat_on_its_arguments(agents: Client) -> None:
    # planner's limit is 100, alice's 1000, search's 5000: the smallest along the chain applies
    under = await check(agents, "tool:payments", "invoke", "agent:search", context={"amount": 50})
    assert under["permissionship"] == HAS
    assert all(hop[1] == HAS for hop in hops(under))
    over = await check(agents, "tool:payments", "invoke", "agent:search", context={"amount": 500})
    assert over["permissionship"] == NO
    assert hops(over)[0] == ("agent:search", HAS, "granted")  # within its own limit
    assert failed_hop(over) == ("agent:planner", NO, "denied")
    unknown = await check(agents, "tool:payments", "invoke", "agent:search")
    assert unknown["permissionship"] == CONDITIONAL
    assert unknown["partialCaveatInfo"]["missingRequiredContext"] == ["amount"]
    assert hops(unknown)[0][1] == CONDITIONAL
    assert hops(unknown)[0][2] == "conditional"

    allowed = await evaluate(
        agents, {**authzen("tool:payments", "invoke", "agent:planner"), "context": {"amount": 50}}
    )
    assert allowed["decision"] is True
    denied = await evaluate(
        agents, {**authzen("tool:payments", "invoke", "agent:search"), "context": {"amount": 500}}
    )
    assert denied["decision"] is False
    assert denied["context"]["failed_hop"] == {"type": "agent", "id": "planner", "reason": "denied"}


async def test_team_of_agents(agents: Client) -> None:
    """A grant to a team of agents: each member stays within its principals' rights."""
    for agent in ("planner", "search"):
        result = await check(agents, "tool:web", "invoke", f"agent:{agent}")
        assert result["permissionship"] == HAS
        assert hops(result)[-1] == ("user:alice", HAS, "granted")
    bobbot = await check(agents, "tool:web", "invoke", "agent:bobbot")
    assert bobbot["permissionship"] == NO
    assert hops(bobbot)[0] == ("agent:bobbot", HAS, "granted")  # a team member
    assert failed_hop(bobbot) == ("user:bob", NO, "denied")
    team = await check(agents, "tool:web", "invoke", "team:bots#member")
    assert team["permissionship"] == HAS
    assert "delegation" not in team  # team membership itself is not capped

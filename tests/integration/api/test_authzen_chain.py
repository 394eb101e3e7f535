"""Chain-aware AuthZEN evaluation: COAZ ``context.agent``, an RFC 8693 ``act`` chain, a
``delegation_chain`` list and ``subject.properties.via``, each verified against recorded principals.

The reference model (``schema/agents.zed`` with its demo data): ``agent:planner`` acts for
``user:alice`` and ``agent:search`` for ``agent:planner``. Alice owns ``document:roadmap``; bob
owns ``document:payroll``, which the planner (but not alice) may view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from api_helpers import AUTH, Client

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
ALICE = {"type": "user", "id": "alice"}
BOB = {"type": "user", "id": "bob"}
VIEW = {"name": "view"}
ROADMAP = {"type": "document", "id": "roadmap"}
PAYROLL = {"type": "document", "id": "payroll"}


@pytest.fixture
async def agents(client: Client) -> Client:
    schema = (ROOT / "schema" / "agents.zed").read_text(encoding="utf-8")
    assert (await client.post("/v1/schema/write", json={"schema": schema}, headers=AUTH)).status_code == 200
    lines = (ROOT / "schema" / "agents_demo.txt").read_text(encoding="utf-8").splitlines()
    lines += [
        "document:payroll#viewer@agent:planner",
        "document:payroll#viewer@agent:search",
        "document:roadmap#viewer@agent:search",
    ]
    body = "\n".join(line for line in lines if line and not line.startswith("//"))
    response = await client.post("/v1/relationships/importbulk", content=body.encode(), headers=AUTH)
    assert response.status_code == 200, response.text
    return client


async def _evaluate(client: Client, subject: Any, resource: Any, context: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"subject": subject, "action": VIEW, "resource": resource}
    if context is not None:
        body["context"] = context
    response = await client.post("/access/v1/evaluation", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _hops(answer: dict[str, Any]) -> list[tuple[str, bool, str]]:
    return [
        (f"{h['type']}:{h['id']}", h["decision"], h["reason"]) for h in answer["context"]["chain"]["hops"]
    ]


async def test_coaz_agent_acts_for_the_subject(agents: Client) -> None:
    allowed = await _evaluate(agents, ALICE, ROADMAP, {"agent": "planner"})
    assert allowed["decision"] is True
    assert allowed["context"]["chain"]["form"] == "agent"
    assert _hops(allowed) == [("agent:planner", True, "granted"), ("user:alice", True, "granted")]
    capped = await _evaluate(agents, ALICE, PAYROLL, {"agent": {"type": "agent", "id": "planner"}})
    assert capped["decision"] is False
    assert capped["context"]["failed_hop"] == {"type": "user", "id": "alice", "reason": "denied"}
    assert ("agent:planner", True, "granted") in _hops(capped)


async def test_act_chain_is_verified_hop_by_hop(agents: Client) -> None:
    act = {"sub": "agent:search", "act": {"sub": "planner"}}
    allowed = await _evaluate(agents, ALICE, ROADMAP, {"act": act})
    assert allowed["decision"] is True
    assert allowed["context"]["chain"]["form"] == "act"
    assert [h[0] for h in _hops(allowed)] == ["agent:search", "agent:planner", "user:alice"]
    # the sub-agent may view payroll itself, and so may its planner, but the human may not
    capped = await _evaluate(agents, ALICE, PAYROLL, {"act": act})
    assert capped["decision"] is False
    assert capped["context"]["failed_hop"]["id"] == "alice"
    # the act claim may also travel in subject.properties
    in_subject = await _evaluate(agents, {**ALICE, "properties": {"act": act}}, ROADMAP)
    assert in_subject["decision"] is True


async def test_forged_chains_are_denied(agents: Client) -> None:
    # the planner does not act for bob, although bob may view payroll
    forged = await _evaluate(agents, BOB, PAYROLL, {"act": {"sub": "planner"}})
    assert forged["decision"] is False
    assert any(reason == "chain_mismatch" for _, _, reason in _hops(forged))
    skipped = await _evaluate(agents, ALICE, ROADMAP, {"delegation_chain": ["agent:search"]})
    assert skipped["decision"] is False  # search acts for the planner, not for alice directly


async def test_delegation_chain_list(agents: Client) -> None:
    allowed = await _evaluate(
        agents, ALICE, ROADMAP, {"delegation_chain": ["agent:planner", {"type": "agent", "id": "search"}]}
    )
    assert allowed["decision"] is True
    assert allowed["context"]["chain"]["form"] == "delegation_chain"
    assert [h[0] for h in _hops(allowed)] == ["agent:search", "agent:planner", "user:alice"]


async def test_precedence_act_then_delegation_chain_then_agent_then_via(agents: Client) -> None:
    # act (allowed) wins over a context.agent that would be forged
    both = await _evaluate(agents, ALICE, ROADMAP, {"act": {"sub": "planner"}, "agent": "mallory"})
    assert both["decision"] is True
    assert both["context"]["chain"]["form"] == "act"
    chain_over_agent = await _evaluate(
        agents, ALICE, ROADMAP, {"delegation_chain": ["agent:planner"], "agent": "mallory"}
    )
    assert chain_over_agent["context"]["chain"]["form"] == "delegation_chain"
    agent_over_via = await _evaluate(
        agents, {**ALICE, "properties": {"via": ["user:bob"]}}, ROADMAP, {"agent": "planner"}
    )
    assert agent_over_via["decision"] is True
    assert agent_over_via["context"]["chain"]["form"] == "agent"
    via = await _evaluate(
        agents, {"type": "agent", "id": "search", "properties": {"via": ["agent:planner"]}}, ROADMAP
    )
    assert via["decision"] is True
    assert via["context"]["chain"]["form"] == "via"


@pytest.mark.parametrize(
    "context",
    [
        {"act": {"actor": "planner"}},
        {"act": "planner"},
        {"delegation_chain": []},
        {"delegation_chain": "agent:planner"},
        {"agent": 42},
        {"act": {"sub": ""}},
    ],
)
async def test_malformed_chains_are_400(agents: Client, context: Any) -> None:
    response = await agents.post(
        "/access/v1/evaluation",
        json={"subject": ALICE, "action": VIEW, "resource": ROADMAP, "context": context},
        headers=AUTH,
    )
    assert response.status_code == 400, response.text
    assert "decision" not in response.json()


async def test_batches_and_chains(agents: Client) -> None:
    response = await agents.post(
        "/access/v1/evaluations",
        json={
            "subject": ALICE,
            "action": VIEW,
            "context": {"agent": "planner"},
            "evaluations": [
                {"resource": ROADMAP},
                {"resource": PAYROLL},
                {"resource": ROADMAP, "context": {"agent": 1}},
            ],
        },
        headers=AUTH,
    )
    assert response.status_code == 200
    decisions = response.json()["evaluations"]
    assert [d["decision"] for d in decisions] == [True, False, False]
    assert decisions[2]["context"]["error"]["status"] == 400

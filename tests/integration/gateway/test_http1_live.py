"""The gateway's HTTP/1.1 client against a live rebac server: the SDK's answers are the same as on httpx's."""

from __future__ import annotations

import asyncio

import pytest
from gateway_helpers import KEY

from rebac.client import AsyncClient, Reason
from rebac.gateway import gateway_client
from rebac.integrations.mcp_policy import Actor, Authorizer
from rebac.refs import SubjectRef

pytestmark = pytest.mark.integration

VIA = ["agent:assistant", "user:alice"]
SEARCH = {"arguments": {"query": "q"}, "tool": "search"}


async def settled(client: AsyncClient) -> None:
    """Until default-consistency reads see the demo's relationships (bounded: 100 tries)."""
    for _ in range(100):
        decision = await client.decide("tool:search", "call", "agent:assistant", context=SEARCH, via=VIA)
        if decision.allowed:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"the demo's relationships never became visible: {decision}")


async def test_decisions_match_the_default_transport(rebac: str) -> None:
    cases = [
        ("tool:search", {"arguments": {"query": "q"}, "tool": "search"}),
        ("tool:delete_database", {"arguments": {}, "tool": "delete_database"}),
        ("tool:transfer", {"arguments": {"amount": 7, "to": "bob"}, "tool": "transfer"}),
        ("tool:transfer", {"arguments": {"amount": 700, "to": "bob"}, "tool": "transfer"}),
        ("tool:unknown", {"arguments": {}, "tool": "unknown"}),
    ]
    lean = gateway_client(rebac, KEY)
    plain = gateway_client(rebac, KEY, lean=False)
    async with lean, plain:
        await settled(plain)
        for resource, context in cases:
            ours = await lean.decide(resource, "call", "agent:assistant", context=context, via=VIA)
            theirs = await plain.decide(resource, "call", "agent:assistant", context=context, via=VIA)
            assert (ours.allowed, ours.reason) == (theirs.allowed, theirs.reason), resource
            assert ours.decision_id
            assert ours.decision_id != theirs.decision_id
        allowed = await lean.decide("tool:search", "call", "agent:assistant", context=cases[0][1], via=VIA)
        denied = await lean.decide("tool:delete_database", "call", "agent:assistant", context={}, via=VIA)
    assert (allowed.allowed, allowed.reason) == (True, Reason.GRANTED)
    assert (denied.allowed, denied.reason) == (False, Reason.DELEGATION)


async def test_concurrent_decisions_and_a_bulk_check(rebac: str) -> None:
    client = gateway_client(rebac, KEY)
    async with client:
        await settled(client)
        context = SEARCH
        decisions = await asyncio.gather(
            *(
                client.decide("tool:search", "call", "agent:assistant", context=context, via=VIA)
                for _ in range(30)
            )
        )
        actor = Actor(
            SubjectRef("agent", "assistant"), (SubjectRef("agent", "assistant"), SubjectRef("user", "alice"))
        )
        visible = await Authorizer(client).visible(actor, "tools/list", ["search", "delete_database", "nope"])
    assert all(d.allowed for d in decisions)
    assert len({d.decision_id for d in decisions}) == 30
    assert visible == {"search"}

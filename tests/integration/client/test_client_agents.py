"""Spawning and retiring agents against a real server and a schema that allows expiring grants."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from rebac.client import (
    MAX_WRITE_UPDATES,
    AsyncClient,
    BadRequest,
    Client,
    Consistency,
    Reason,
    RelationshipFilter,
)
from rebac.refs import Relationship, SubjectRef

pytest_plugins = ["client_fixtures"]
pytestmark = pytest.mark.integration


def _naming(client: Client, agent_type: str, agent_id: str) -> list[Relationship]:
    full = Consistency.fully_consistent()
    edges = RelationshipFilter(resource_type=agent_type, resource_id=agent_id)
    grants = RelationshipFilter(subject_type=agent_type, subject_id=agent_id)
    return [
        *client.export_relationships(edges, consistency=full),
        *client.export_relationships(grants, consistency=full),
    ]


def test_spawn_writes_the_principal_edge_and_time_bound_grants_in_one_write(sdk: Client, uid: str) -> None:
    human, agent = f"user:h-{uid}", f"agent:a-{uid}"
    sdk.write_relationships([f"document:{uid}#viewer@{human}", f"tool:t-{uid}#invoker@{human}"])
    before = datetime.now(UTC)
    token = sdk.spawn_agent(
        agent,
        human,
        [f"document:{uid}#viewer", (f"tool:t-{uid}", "invoker"), f"document:{uid}-x#viewer"],
        ttl=timedelta(minutes=10),
    )
    assert token == sdk.token
    found = _naming(sdk, "agent", f"a-{uid}")
    assert sorted(str(r).split("[")[0] for r in found) == sorted(
        [
            f"{agent}#principal@{human}",
            f"document:{uid}#viewer@{agent}",
            f"document:{uid}-x#viewer@{agent}",
            f"tool:t-{uid}#invoker@{agent}",
        ]
    )
    for rel in found:
        assert rel.expires_at is not None
        assert before + timedelta(minutes=9) < rel.expires_at < before + timedelta(minutes=11)
    assert sdk.allowed(f"document:{uid}", "view", agent)
    assert sdk.allowed(f"tool:t-{uid}", "invoke", agent)
    capped = sdk.decide(f"document:{uid}-x", "view", agent)
    assert (capped.allowed, capped.reason) == (False, Reason.DELEGATION)
    assert capped.failed_hop is not None
    assert capped.failed_hop.subject == SubjectRef("user", f"h-{uid}")


def test_grants_expire_after_the_ttl(sdk: Client, uid: str) -> None:
    human, agent = f"user:h-{uid}", f"agent:a-{uid}"
    sdk.write_relationships([f"tool:t-{uid}#invoker@{human}"])
    sdk.spawn_agent(agent, human, [f"tool:t-{uid}#invoker"], ttl=timedelta(seconds=2))
    assert sdk.allowed(f"tool:t-{uid}", "invoke", agent)
    time.sleep(2.5)
    assert not sdk.allowed(f"tool:t-{uid}", "invoke", agent, consistency=Consistency.fully_consistent())


def test_ttl_none_opts_out_and_a_relation_without_expiration_refuses_the_whole_spawn(
    sdk: Client, uid: str
) -> None:
    human, agent = f"user:h-{uid}", f"agent:a-{uid}"
    sdk.write_relationships([f"vault:v-{uid}#reader@{human}"])
    with pytest.raises(BadRequest):
        sdk.spawn_agent(agent, human, [f"document:{uid}#viewer", f"vault:v-{uid}#reader"])
    assert _naming(sdk, "agent", f"a-{uid}") == []  # atomic: not even the principal edge
    sdk.spawn_agent(agent, human, [f"vault:v-{uid}#reader"], ttl=None)
    found = _naming(sdk, "agent", f"a-{uid}")
    assert len(found) == 2
    assert all(rel.expires_at is None for rel in found)
    assert sdk.allowed(f"vault:v-{uid}", "read", agent)


def test_spawn_takes_caveated_grants_and_refuses_grants_naming_a_subject(sdk: Client, uid: str) -> None:
    human, agent = f"user:h-{uid}", f"agent:a-{uid}"
    sdk.write_relationships([f"tool:t-{uid}#limited@{human}"])
    sdk.spawn_agent(agent, human, [f"tool:t-{uid}#limited[on_weekday]"])
    conditional = sdk.decide(f"tool:t-{uid}", "use_limited", agent)
    assert (conditional.allowed, conditional.missing_context) == (False, ("day",))
    assert sdk.allowed(f"tool:t-{uid}", "use_limited", agent, context={"day": "tue"})
    assert not sdk.allowed(f"tool:t-{uid}", "use_limited", agent, context={"day": "sat"})
    with pytest.raises(ValueError, match="names no subject"):
        sdk.spawn_agent(agent, human, [f"document:{uid}#viewer@user:x"])
    with pytest.raises(ValueError, match="ttl"):
        sdk.spawn_agent(agent, human, [], ttl=timedelta(0))
    too_many = [f"document:{uid}-{i}#viewer" for i in range(MAX_WRITE_UPDATES)]
    with pytest.raises(ValueError, match="at most"):
        sdk.spawn_agent(agent, human, too_many)


def test_retire_removes_principal_edges_and_grants(sdk: Client, uid: str) -> None:
    human, agent = f"user:h-{uid}", f"agent:a-{uid}"
    sdk.write_relationships([f"document:{uid}#viewer@{human}", f"team:t-{uid}#member@{agent}"])
    sdk.spawn_agent(agent, human, [f"document:{uid}#viewer"])
    sdk.spawn_agent(agent, f"agent:boss-{uid}", [], principal_relation="principal")
    assert sdk.allowed(f"document:{uid}", "view", agent) is False  # boss grants nothing: capped
    sub = f"agent:sub-{uid}"
    sdk.spawn_agent(sub, agent, [f"document:{uid}#viewer"])
    assert len(_naming(sdk, "agent", f"a-{uid}")) == 5  # the sub-agent's edge names it as subject
    token = sdk.retire_agent(agent)
    assert token == sdk.token
    assert _naming(sdk, "agent", f"a-{uid}") == []
    decision = sdk.decide(f"document:{uid}", "view", agent)
    assert (decision.allowed, decision.reason) == (False, Reason.DELEGATION)
    assert decision.failed_hop is not None
    assert decision.failed_hop.reason == "orphan"
    assert sdk.allowed(f"document:{uid}", "view", human)  # the human keeps their own grants
    orphaned = sdk.decide(f"document:{uid}", "view", sub)  # its sub-agent lost its principal
    assert (orphaned.allowed, orphaned.reason) == (False, Reason.DELEGATION)
    assert orphaned.failed_hop is not None
    assert orphaned.failed_hop.reason == "orphan"
    assert sdk.retire_agent(agent)  # retiring twice is harmless


async def test_async_spawn_and_retire(asdk: AsyncClient, uid: str) -> None:
    human, agent = f"user:h-{uid}", f"agent:a-{uid}"
    await asdk.write_relationships([f"document:{uid}#viewer@{human}"])
    await asdk.spawn_agent(agent, human, [f"document:{uid}#viewer"], ttl=timedelta(minutes=5))
    assert await asdk.allowed(f"document:{uid}", "view", agent)
    await asdk.retire_agent(agent)
    assert not await asdk.allowed(f"document:{uid}", "view", agent)
    full = Consistency.fully_consistent()
    left = [
        rel
        async for rel in asdk.export_relationships(
            RelationshipFilter(subject_type="agent", subject_id=f"a-{uid}"), consistency=full
        )
    ]
    assert left == []

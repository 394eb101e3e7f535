"""``rebac requests list|approve|deny`` against the configured database, with the API's rules."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from click.testing import CliRunner

from rebac.cli.main import cli
from rebac.config import DatabaseSettings, Settings
from rebac.refs import parse_object, parse_relationship, parse_subject
from rebac.services.core import Services
from rebac.store.base import Consistency, ConsistencyMode, Operation, RelationshipUpdate
from rebac.store.postgres import PostgresTupleStore
from rebac.store.postgres.migrate import upgrade_to_head

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
RELATIONSHIPS = [
    "agent:bot#principal@user:alice",
    "document:plan#owner@user:bob",
    "document:plan#viewer@user:alice",
    "document:memo#owner@user:bob",
    "document:memo#viewer@user:alice",
]


async def _services(url: str, body: Any) -> Any:
    store = await PostgresTupleStore.connect(url, quantization_seconds=0)
    services = Services(store, Settings(database=DatabaseSettings(url=url)), schema_refresh_seconds=0)
    try:
        return await body(services)
    finally:
        await services.aclose()
        await store.close()


async def _seed(services: Services) -> list[str]:
    await services.schemas.write(SCHEMA, author="test")
    current = await services.engines.current()
    updates = [RelationshipUpdate(Operation.TOUCH, parse_relationship(text)) for text in RELATIONSHIPS]
    await services.relationships.write(current, updates)
    made = []
    for doc in ("plan", "memo"):
        request = await services.requests.create(
            current,
            requester=parse_subject("agent:bot"),
            caller=None,
            subject=parse_subject("agent:bot"),
            chain=(parse_subject("user:alice"),),
            resource=parse_object(f"document:{doc}"),
            action="view",
            relation="viewer",
            justification=f"read the {doc}",
            duration_seconds=600,
        )
        made.append(request.request_id)
    return made


async def _bot_may_view(services: Services, doc: str) -> bool:
    current = await services.engines.current()
    revision = await services.checks.revision(current, Consistency(ConsistencyMode.FULLY_CONSISTENT))
    result = await current.engine.check(
        parse_object(f"document:{doc}"), "view", parse_subject("agent:bot"), revision=revision
    )
    return result.allowed


def _run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_list_approve_deny(empty_database_url: str) -> None:
    upgrade_to_head(empty_database_url)
    env = {"REBAC_DATABASE_URL": empty_database_url}
    plan, memo = asyncio.run(_services(empty_database_url, _seed))

    pending = json.loads(_run(env, "requests", "list", "--status", "pending", "--json"))
    assert sorted(r["id"] for r in pending) == sorted([plan, memo])
    assert plan in _run(env, "requests", "list")

    # alice is the bot's principal (and not an owner): refused, one line, nothing granted
    refused = _run(env, "requests", "approve", plan, "--as", "user:alice", code=1)
    assert len(refused.strip().splitlines()) == 1
    assert not asyncio.run(_services(empty_database_url, lambda s: _bot_may_view(s, "plan")))

    assert "approved" in _run(env, "requests", "approve", plan, "--as", "user:bob", "--reason", "ok")
    assert asyncio.run(_services(empty_database_url, lambda s: _bot_may_view(s, "plan")))
    assert "denied" in _run(env, "requests", "deny", memo, "--as", "user:bob")
    assert not asyncio.run(_services(empty_database_url, lambda s: _bot_may_view(s, "memo")))
    _run(env, "requests", "approve", memo, "--as", "user:bob", code=1)  # already decided

    decided = {r["id"]: r for r in json.loads(_run(env, "requests", "list", "--json"))}
    assert decided[plan]["status"] == "approved"
    assert decided[plan]["decided_by"] == "user:bob"
    assert decided[memo]["status"] == "denied"

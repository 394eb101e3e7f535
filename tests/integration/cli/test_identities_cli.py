"""``rebac identities``, ``review`` and ``reviews`` against a live ``rebac serve`` of the test's own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_live import KEY, Cli, live_server

from rebac.refs import parse_relationship
from rebac.store.base import Operation, RelationshipUpdate
from rebac.store.postgres import PostgresTupleStore

pytestmark = pytest.mark.integration

SCHEMA = """
definition user {}
definition service {}

definition agent {
    relation principal: user | agent
    acts_for principal
}

definition doc {
    relation viewer: user | agent | service
}
"""


@pytest.fixture
def served(pg_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Cli, str]]:
    monkeypatch.setenv("REBAC_NON_HUMAN_TYPES", "service, ghost")  # the server's environment
    with live_server(pg_server_url, tmp_path / "server.log") as (base, url):
        yield (
            Cli({"REBAC_ENDPOINT": base, "REBAC_KEY": KEY, "REBAC_CONFIG": str(tmp_path / "none.json")}),
            url,
        )


async def _seed(url: str, texts: tuple[str, ...], *, schema: bool) -> None:
    store = await PostgresTupleStore.connect(url, quantization_seconds=0)
    try:
        if schema:
            await store.write_schema(SCHEMA, author="test")
        await store.write([RelationshipUpdate(Operation.TOUCH, parse_relationship(t)) for t in texts])
    finally:
        await store.close()


def seed(url: str, *texts: str, schema: bool = True) -> None:
    asyncio.run(_seed(url, texts, schema=schema))


def test_identities_and_review(served: tuple[Cli, str]) -> None:
    rebac, url = served
    seed(
        url,
        "agent:planner#principal@user:alice",
        "agent:search#principal@agent:planner",
        "doc:1#viewer@agent:search",
        "doc:1#viewer@service:backup",
    )
    body = rebac.ok("identities", "--json").json()
    found = {item["subject"]: item for item in body}
    assert sorted(found) == ["agent:planner", "agent:search", "service:backup"]
    assert found["agent:search"]["chain"] == ["agent:search", "agent:planner", "user:alice"]
    assert found["agent:search"]["flags"] == ["never_reviewed"]

    reviewer = rebac.ok("keys", "create", "--scope", "admin", "--subject", "user:sec", "--json").json()["key"]
    reviewed = rebac.ok("review", "agent:search", "--note", "ok", "--key", reviewer)
    assert reviewed.err == ""
    assert reviewed.out.startswith("reviewed agent:search at revision ")
    assert "by user:sec: 2 relationships" in reviewed.out

    flagged = rebac.ok("identities", "--flagged", "--type", "agent", "--json").json()
    assert [item["subject"] for item in flagged] == ["agent:planner"]

    seed(url, "doc:2#viewer@agent:search", schema=False)
    rows = rebac.ok("identities", "--flagged", "--type", "agent").out.splitlines()
    assert rows[0].split() == [
        "IDENTITY",
        "FLAGS",
        "OWNERS",
        "GRANTS",
        "GRANTS",
        "EXPIRE",
        "LAST",
        "DECISION",
        "REVIEWED",
    ]
    search = next(row for row in rows if row.startswith("agent:search "))
    assert "grants_added_since_review" in search
    assert "user:alice" in search  # the owner at the end of the chain
    assert "by user:sec" in search
    assert "never" in search  # its grants never expire
    assert "agent:search: added since its last review: doc:2#viewer@agent:search" in rows
    assert "(expiring - .. -)" not in "\n".join(rows)
    assert [r["note"] for r in rebac.ok("reviews", "--subject", "agent:search", "--json").json()] == ["ok"]

    assert rebac("review", "user:alice").code == 1  # not a non-human identity
    unknown = rebac("identities", "--type", "user")
    assert unknown.code == 1
    assert unknown.err.count("\n") == 1

"""``rebac identities`` and ``rebac review`` end to end against a real PostgreSQL.

The tests share the session database (``REBAC_DATABASE_URL`` points at it, reset first).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from rebac.cli.main import cli
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
def env(pg_url: str, _pg_reset: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> str:
    _pg_reset()
    monkeypatch.setenv("REBAC_DATABASE_URL", pg_url)
    monkeypatch.setenv("REBAC_NON_HUMAN_TYPES", "service, ghost")
    return pg_url


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


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


def test_identities_and_review(env: str) -> None:
    seed(
        env,
        "agent:planner#principal@user:alice",
        "agent:search#principal@agent:planner",
        "doc:1#viewer@agent:search",
        "doc:1#viewer@service:backup",
    )
    code, out, err = invoke("identities", "--json")
    assert (code, err) == (0, ""), out
    body = json.loads(out)
    assert body["types"] == ["agent", "service"]
    found = {item["subject"]: item for item in body["identities"]}
    assert sorted(found) == ["agent:planner", "agent:search", "service:backup"]
    assert found["agent:search"]["chain"] == ["agent:search", "agent:planner", "user:alice"]
    assert found["agent:search"]["flags"] == ["never_reviewed"]

    code, out, err = invoke("review", "agent:search", "--reviewer", "sec-team", "--note", "ok")
    assert (code, err) == (0, ""), out
    assert out.startswith("reviewed agent:search at revision ")
    assert "by sec-team: 2 relationships" in out

    code, out, _ = invoke("identities", "--flagged", "--type", "agent", "--json")
    assert code == 0
    assert [item["subject"] for item in json.loads(out)["identities"]] == ["agent:planner"]

    seed(env, "doc:2#viewer@agent:search", schema=False)
    code, out, _ = invoke("identities", "--flagged", "--type", "agent")
    assert code == 0
    assert "agent:search  [grants_added_since_review]" in out
    assert "    added since: doc:2#viewer@agent:search" in out
    assert "chain: agent:search -> agent:planner -> user:alice" in out

    code, out, _ = invoke("review", "user:alice", "--reviewer", "x")
    assert code == 1
    code, out, _ = invoke("identities", "--type", "user")
    assert code == 1

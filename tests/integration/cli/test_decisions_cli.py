"""``rebac decisions`` reads the decision log straight from the store; ``--prune`` applies retention."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from rebac.cli.main import cli
from rebac.store.base import DecisionRecord, DecisionResult
from rebac.store.postgres import PostgresTupleStore
from rebac.store.postgres.migrate import upgrade_to_head

pytestmark = pytest.mark.integration


def _record(subject: str, result: DecisionResult, age: timedelta) -> DecisionRecord:
    return DecisionRecord(
        decision_id=str(uuid.uuid4()),
        decided_at=datetime.now(UTC) - age,
        source="check",
        caller="k1",
        subject=subject,
        permission="view",
        resource="document:d1",
        result=result,
        reason="granted" if result is DecisionResult.ALLOWED else "no path grants the permission",
    )


async def _seed(url: str, records: list[DecisionRecord]) -> None:
    store = await PostgresTupleStore.connect(url)
    try:
        await store.append_decisions(records)
    finally:
        await store.close()


def _run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_decisions_filters_formats_and_prune(empty_database_url: str) -> None:
    upgrade_to_head(empty_database_url)
    env = {"REBAC_DATABASE_URL": empty_database_url, "REBAC_DECISION_RETENTION_DAYS": "30"}
    recent = [
        _record("user:tom", DecisionResult.ALLOWED, timedelta(minutes=2)),
        _record("agent:a7", DecisionResult.DENIED, timedelta(minutes=1)),
    ]
    old = _record("user:tom", DecisionResult.ALLOWED, timedelta(days=40))
    asyncio.run(_seed(empty_database_url, [*recent, old]))

    lines = _run(env, "decisions").splitlines()
    assert len(lines) == 3
    assert recent[1].decision_id in lines[0]  # newest first
    denied = json.loads(_run(env, "decisions", "--result", "denied", "--json"))
    assert [d["decisionId"] for d in denied] == [recent[1].decision_id]
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    ndjson = _run(env, "decisions", "--subject", "user:tom", "--since", since, "--ndjson").splitlines()
    assert [json.loads(line)["decisionId"] for line in ndjson] == [recent[0].decision_id]

    assert "dropped 1 days" in _run(env, "decisions", "--prune")
    assert len(_run(env, "decisions").splitlines()) == 2

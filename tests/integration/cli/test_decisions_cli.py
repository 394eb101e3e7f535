"""``rebac decisions list|show|export`` read a live server's decision log; ``prune`` is local."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_live import KEY, Cli, live_server

from rebac.store.base import DecisionRecord, DecisionResult
from rebac.store.postgres import PostgresTupleStore

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


@pytest.fixture
def served(pg_server_url: str, tmp_path: Path) -> Iterator[tuple[Cli, str]]:
    with live_server(pg_server_url, tmp_path / "server.log") as (base, url):
        env = {"REBAC_ENDPOINT": base, "REBAC_KEY": KEY, "REBAC_CONFIG": str(tmp_path / "none.json")}
        yield Cli({**env, "REBAC_DATABASE_URL": url, "REBAC_DECISION_RETENTION_DAYS": "30"}), url


def test_decisions_filters_formats_and_prune(served: tuple[Cli, str]) -> None:
    rebac, url = served
    recent = [
        _record("user:tom", DecisionResult.ALLOWED, timedelta(minutes=2)),
        _record("agent:a7", DecisionResult.DENIED, timedelta(minutes=1)),
    ]
    old = _record("user:tom", DecisionResult.ALLOWED, timedelta(days=40))
    asyncio.run(_seed(url, [*recent, old]))

    lines = rebac.ok("decisions", "list").out.splitlines()
    assert lines[0].split() == ["DECIDED", "RESULT", "CHECK", "REASON", "DECISION", "ID"]
    assert len(lines) == 4
    assert recent[1].decision_id in lines[1]  # newest first
    assert "denied" in lines[1]
    denied = rebac.ok("decisions", "list", "--result", "denied", "--json").json()
    assert [d["decisionId"] for d in denied] == [recent[1].decision_id]
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    ndjson = rebac.ok("decisions", "export", "--subject", "user:tom", "--since", since).lines()
    assert [line["decisionId"] for line in ndjson] == [recent[0].decision_id]
    assert len(rebac.ok("decisions", "list", "--limit", "1", "--json").json()) == 1
    bad = rebac("decisions", "list", "--since", "yesterday")
    assert bad.code == 1
    assert bad.err.startswith("Error: 400 ")

    assert "dropped 1 days" in rebac.ok("decisions", "prune").out  # local, on the database
    assert len(rebac.ok("decisions", "list", "--json").json()) == 2

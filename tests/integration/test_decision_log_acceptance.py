"""Acceptance: 10,000 concurrent checks, then a clean shutdown, lose no decision record.

The checks run through the same path the API uses (``check_and_record``: engine check, then the
recorder's bounded buffer, then batched inserts into the daily partition) with 200 concurrent tasks
against the real Postgres store. After ``aclose`` the table must hold exactly one row per returned
decision id.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url

from rebac.config import DecisionLogSettings
from rebac.engine import Engine
from rebac.refs import parse_object, parse_relationship, parse_subject
from rebac.schema import compile_schema
from rebac.services.decisions import DecisionScope, check_and_record
from rebac.services.recorder import DecisionRecorder
from rebac.store.base import Consistency, ConsistencyMode, Operation, RelationshipUpdate
from rebac.store.postgres import PostgresTupleStore

pytestmark = pytest.mark.integration

CHECKS = 10_000
CONCURRENCY = 200
SCHEMA = """
definition user {}
definition document {
    relation viewer: user
    permission view = viewer
}
"""


async def test_ten_thousand_concurrent_checks_lose_no_record(store_factory: Any, pg_url: str) -> None:
    async with store_factory("postgres", quantization_seconds=0) as store:
        assert isinstance(store, PostgresTupleStore)
        written = await store.write(
            [
                RelationshipUpdate(Operation.TOUCH, parse_relationship(f"document:d{i}#viewer@user:u{i % 7}"))
                for i in range(50)
            ]
        )
        engine = Engine.build(store, compile_schema(SCHEMA))
        revision = await engine.resolve(Consistency(ConsistencyMode.AT_LEAST_AS_FRESH, written.token))
        recorder = DecisionRecorder(store, DecisionLogSettings())
        recorder.start(prune_every_seconds=None)
        scope = DecisionScope("check", "acceptance", revision, 1, "0" * 64)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(CHECKS):
            queue.put_nowait(i)
        ids: list[str] = []
        allowed = 0

        async def worker() -> None:
            nonlocal allowed
            while not queue.empty():
                i = queue.get_nowait()
                decided = await check_and_record(
                    recorder,
                    engine,
                    scope,
                    parse_object(f"document:d{i % 50}"),
                    "view",
                    parse_subject(f"user:u{i % 11}"),
                )
                assert decided.decision_id is not None
                ids.append(decided.decision_id)
                allowed += decided.result.allowed

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        await recorder.aclose()  # the clean shutdown: drains every buffered record

    stats = recorder.stats()
    assert (stats.recorded, stats.written, stats.queued) == (CHECKS, CHECKS, 0)
    assert (stats.dropped, stats.failed, stats.sampled_out) == (0, 0, 0)
    assert len(ids) == CHECKS == len(set(ids))
    assert 0 < allowed < CHECKS  # both outcomes were recorded
    dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT decision_id), "
            "count(*) FILTER (WHERE result = 'allowed') FROM decision_log WHERE caller = 'acceptance'"
        ).fetchone()
        stored = {
            str(row[0])
            for row in conn.execute("SELECT decision_id FROM decision_log WHERE caller = 'acceptance'")
        }
    assert rows == (CHECKS, CHECKS, allowed)
    assert stored == set(ids)

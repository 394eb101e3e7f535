"""The Postgres decision writer (its own connection, COPY) and the recorder's thread over it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from rebac.config import DecisionLogSettings
from rebac.errors import StoreError
from rebac.services.recorder import DecisionRecorder
from rebac.store.base import DecisionFilter, DecisionRecord, DecisionResult
from rebac.store.postgres import PostgresTupleStore
from rebac.store.postgres._decisions import PgDecisionWriter, partition_name

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def rec(n: int, **kwargs: Any) -> DecisionRecord:
    base: dict[str, Any] = {
        "decision_id": str(uuid.uuid4()),
        "decided_at": NOW - timedelta(seconds=n),
        "source": "check",
        "caller": "preshared",
        "subject": f"user:u{n}",
        "permission": "view",
        "resource": "doc:1",
        "result": DecisionResult.ALLOWED,
        "reason": "granted",
        "decision_point": "host-a:1",
    }
    base.update(kwargs)
    return DecisionRecord(**base)


@pytest.fixture
async def pg(store_factory: Any) -> Any:
    async with store_factory("postgres") as store:
        yield store


def _conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


async def test_the_writer_copies_a_batch_with_its_decision_point(pg: PostgresTupleStore) -> None:
    writer = pg.decision_writer()
    batch = [rec(i, decision_point="pdp-7" if i % 2 else None) for i in range(10)]
    writer.write(batch)
    writer.close()
    found = await pg.query_decisions(DecisionFilter(), limit=100)
    assert sorted(found, key=lambda r: r.decision_id) == sorted(batch, key=lambda r: r.decision_id)
    only = await pg.query_decisions(DecisionFilter(decision_point="pdp-7"), limit=100)
    assert {r.decision_id for r in only} == {r.decision_id for r in batch[1::2]}


async def test_the_writer_recreates_a_partition_another_process_dropped(
    pg: PostgresTupleStore, pg_url: str
) -> None:
    writer = pg.decision_writer()
    writer.write([rec(1)])
    with psycopg.connect(_conninfo(pg_url), autocommit=True) as conn:
        conn.execute(f'DROP TABLE "{partition_name(NOW.date())}"'.encode())
    second = rec(2)
    with pytest.raises(StoreError):
        writer.write([second])  # the cached partition is gone: this attempt fails ...
    writer.write([second])  # ... and the retry re-creates it
    writer.close()
    assert [r.decision_id for r in await pg.query_decisions(DecisionFilter(), limit=10)] == [
        second.decision_id
    ]


async def test_a_clean_shutdown_of_the_threaded_recorder_loses_nothing(pg: PostgresTupleStore) -> None:
    recorder = DecisionRecorder(
        pg, DecisionLogSettings(batch_size=64, flush_seconds=30.0, instance_name="pdp-x")
    )
    recorder.start(prune_every_seconds=None)
    records = [rec(i, decision_point=None) for i in range(1000)]
    for r in records:
        assert await recorder.record(r)
    await recorder.aclose()  # the timer never fired: the drain wrote the partial batch
    stats = recorder.stats()
    assert (stats.recorded, stats.written, stats.queued, stats.dropped, stats.failed) == (1000, 1000, 0, 0, 0)
    found = await pg.query_decisions(DecisionFilter(decision_point="pdp-x"), limit=2000)
    assert {r.decision_id for r in found} == {r.decision_id for r in records}


async def test_an_unreachable_database_is_retried_then_counted_failed() -> None:
    writer = PgDecisionWriter("postgresql://nobody@127.0.0.1:1/none")

    class Sink:
        def decision_writer(self) -> PgDecisionWriter:
            return writer

        async def append_decisions(self, batch: Any) -> None:
            raise AssertionError(f"the thread uses the writer, not this ({len(batch)} records)")

    recorder = DecisionRecorder(Sink(), DecisionLogSettings(flush_seconds=0.0))  # type: ignore[arg-type]
    recorder.start(prune_every_seconds=None)
    await recorder.record(rec(1))
    await recorder.aclose()
    stats = recorder.stats()
    assert (stats.recorded, stats.written, stats.failed, stats.queued) == (1, 0, 1, 0)

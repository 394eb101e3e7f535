"""The decision log on both engines: append, filtered queries, cursor pagination, retention by day."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy.dialects import postgresql as pg_dialect

from rebac.errors import StoreError
from rebac.services.decisions import decision_id_filter
from rebac.services.recorder import DecisionRecorder
from rebac.store.base import DecisionFilter, DecisionLog, DecisionRecord, DecisionResult, TupleStore
from rebac.store.postgres._decisions import _select, partition_name

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def rec(minutes: float, **kwargs: Any) -> DecisionRecord:
    base: dict[str, Any] = {
        "decision_id": str(uuid.uuid4()),
        "decided_at": T0 + timedelta(minutes=minutes),
        "source": "check",
        "caller": "preshared",
        "subject": "user:tom",
        "permission": "view",
        "resource": "doc:1",
        "result": DecisionResult.ALLOWED,
        "reason": "granted",
    }
    base.update(kwargs)
    return DecisionRecord(**base)


def log_of(store: TupleStore) -> DecisionLog:
    log = store.roles.decisions
    assert log is not None
    return log


async def test_round_trip_keeps_every_field(store: TupleStore) -> None:
    log = log_of(store)
    full = rec(
        1,
        result=DecisionResult.DENIED,
        reason="hop 1 user:ann: denied",
        chain=({"subject": "agent:a", "depth": 0, "permissionship": "x", "reason": "granted"},),
        revision=7,
        schema_version=2,
        schema_hash="ab" * 32,
        context={"amount": 3, "tags": ["a"]},
        latency_ms=1.25,
        caller=None,
    )
    await log.append_decisions([full])
    assert await log.query_decisions(DecisionFilter(), limit=10) == [full]


async def test_text_with_copy_special_characters_round_trips(store: TupleStore) -> None:
    log = log_of(store)
    awkward = 'tab\there, newline\nthere, cr\r, backslash \\N and \\t, quote " and ünïcode'
    full = rec(
        2,
        reason=awkward,
        caller="key\\with\tstuff",
        chain=({"subject": "agent:a", "reason": awkward},),
        context={"note": awkward, "nested": {"path": "C:\\dir\\file"}},
        latency_ms=float("inf"),
    )
    many = [rec(3 + i / 1000, reason=f"line {i}\n") for i in range(300)]  # several COPY chunks
    await log.append_decisions([full, *many])
    found = await log.query_decisions(DecisionFilter(), limit=1000)
    assert found[-1] == full
    assert sorted(found[:-1], key=lambda r: r.decided_at) == many


async def test_filters_and_newest_first(store: TupleStore) -> None:
    log = log_of(store)
    records = [
        rec(0),
        rec(1, subject="agent:a7", result=DecisionResult.DENIED),
        rec(2, resource="doc:2", permission="edit"),
        rec(3, subject="agent:a7", resource="doc:2", result=DecisionResult.ERROR),
        rec(60 * 24, result=DecisionResult.CONDITIONAL),  # the next day: another partition
    ]
    await log.append_decisions(records)

    async def ids(**flt: Any) -> list[str]:
        found = await log.query_decisions(DecisionFilter(**flt), limit=100)
        return [r.decision_id for r in found]

    every = [r.decision_id for r in reversed(records)]
    assert await ids() == every
    assert await ids(subject="agent:a7") == [records[3].decision_id, records[1].decision_id]
    assert await ids(resource="doc:2") == [records[3].decision_id, records[2].decision_id]
    assert await ids(permission="edit") == [records[2].decision_id]
    assert await ids(result=DecisionResult.DENIED) == [records[1].decision_id]
    assert await ids(result=DecisionResult.CONDITIONAL) == [records[4].decision_id]
    window = {"since": T0 + timedelta(minutes=1), "until": T0 + timedelta(minutes=3)}
    assert await ids(**window) == [records[2].decision_id, records[1].decision_id]
    assert await ids(subject="agent:a7", result=DecisionResult.ERROR) == [records[3].decision_id]


async def test_cursor_pages_cover_everything_once(store: TupleStore) -> None:
    log = log_of(store)
    same_instant = [rec(5) for _ in range(4)]  # equal decided_at: the id breaks the tie
    others = [rec(i) for i in range(7)]
    await log.append_decisions(same_instant + others)
    seen: list[str] = []
    after = None
    while True:
        page = await log.query_decisions(DecisionFilter(), limit=3, after=after)
        seen += [r.decision_id for r in page]
        if len(page) < 3:
            break
        after = page[-1].key
    assert sorted(seen) == sorted(r.decision_id for r in same_instant + others)
    assert len(seen) == len(set(seen))


async def test_drop_before_removes_whole_days_only(store: TupleStore) -> None:
    log = log_of(store)
    day1, day2, day3 = rec(0), rec(60 * 24), rec(60 * 48)
    await log.append_decisions([day1, day2, day3])
    # Mid-day 3: days 1 and 2 have ended; day 3 has not, so it stays whole.
    dropped = await log.drop_decisions_before(T0 + timedelta(days=2, hours=1))
    assert dropped == 2
    left = await log.query_decisions(DecisionFilter(), limit=10)
    assert [r.decision_id for r in left] == [day3.decision_id]
    # A dropped day can be written again (its partition is re-created on demand).
    again = rec(1)
    await log.append_decisions([again])
    assert len(await log.query_decisions(DecisionFilter(), limit=10)) == 2
    assert await log.drop_decisions_before(T0) == 0


async def test_a_batch_with_a_repeated_key_writes_nothing(store: TupleStore) -> None:
    log = log_of(store)
    first = rec(0)
    await log.append_decisions([first])
    with pytest.raises(StoreError):
        await log.append_decisions([rec(1), first])
    assert [r.decision_id for r in await log.query_decisions(DecisionFilter(), limit=10)] == [
        first.decision_id
    ]


@pytest.mark.integration
async def test_a_partition_dropped_by_another_process_is_recreated(store_factory: Any, pg_libpq: str) -> None:
    async with store_factory("postgres") as store:
        log = log_of(store)
        await log.append_decisions([rec(1)])  # creates (and remembers) the day's partition
        with psycopg.connect(pg_libpq, autocommit=True) as other:  # another process's retention run
            other.execute(f'DROP TABLE "{partition_name(T0.date())}"')
        again = rec(2)
        await log.append_decisions([again])
        assert await log.query_decisions(DecisionFilter(), limit=10) == [again]


async def test_an_exact_decision_id_selects_one_record(store: TupleStore) -> None:
    log = log_of(store)
    records = [rec(i) for i in range(5)]
    await log.append_decisions(records)
    target = records[2]

    async def found(**flt: Any) -> list[DecisionRecord]:
        return await log.query_decisions(DecisionFilter(**flt), limit=10)

    assert await found(decision_id=target.decision_id) == [target]
    near = {"since": T0 + timedelta(minutes=1), "until": T0 + timedelta(minutes=3)}
    assert await found(decision_id=target.decision_id, **near) == [target]
    assert await found(decision_id=target.decision_id, since=T0 + timedelta(minutes=3)) == []
    assert await found(decision_id=target.decision_id, subject="agent:other") == []
    assert await found(decision_id=str(uuid.uuid4())) == []
    assert await found(decision_id="not-a-uuid") == []  # names no record (and reaches no SQL)


def _decision_plan(libpq: str, flt: DecisionFilter) -> str:
    compiled = _select(flt, 1, None).compile(dialect=pg_dialect.dialect())  # type: ignore[no-untyped-call]
    with psycopg.connect(libpq) as conn:
        conn.execute("ANALYZE decision_log")
        rows = conn.execute("EXPLAIN " + str(compiled), compiled.params).fetchall()
    return "\n".join(str(row[0]) for row in rows)


@pytest.mark.integration
async def test_a_decision_id_lookup_reads_the_one_partition_its_id_names(
    store_factory: Any, pg_libpq: str
) -> None:
    async with store_factory("postgres") as store:
        log = log_of(store)
        ids = DecisionRecorder(log)
        days = [T0 + timedelta(days=day, minutes=minute) for day in range(3) for minute in range(20)]
        records = [rec(0, decided_at=at, decision_id=ids.new_id(at)) for at in days]
        await log.append_decisions(records)
        target = records[30]  # the middle day
        flt = decision_id_filter(target.decision_id)
        assert await log.query_decisions(flt, limit=1) == [target]
    plan = _decision_plan(pg_libpq, flt)
    touched = set(re.findall(r"decision_log_p\d{8}", plan))
    assert touched == {partition_name(target.decided_at.date())}, plan
    every_day = _decision_plan(pg_libpq, DecisionFilter(decision_id=target.decision_id))
    # without the window every day is read (other tests of the session may have added days)
    assert len(set(re.findall(r"decision_log_p\d{8}", every_day))) >= 3, every_day

"""The in-memory relationship index of the Postgres store, fed from the change log.

Another store instance on the same database plays "another process" writing. Every read of the
indexed store is compared with the plain store's read at the same revision: the index may answer
or fall back to the database, but the results must be identical.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from rebac.errors import RevisionUnavailableError, StoreUnavailableError
from rebac.refs import format_expiration, parse_relationship
from rebac.services.interchange import parse_lines
from rebac.store.base import (
    Consistency,
    ConsistencyMode,
    Operation,
    RelationshipFilter,
    RelationshipUpdate,
)
from rebac.store.postgres import IndexSettings, IndexState, IndexStatus, PostgresTupleStore
from rebac.store.postgres._listen import CHANNEL
from rebac.store.revision import Revision

pytestmark = pytest.mark.integration

FRESH = Consistency(ConsistencyMode.FULLY_CONSISTENT)


def up(op: Operation, *texts: str) -> list[RelationshipUpdate]:
    return [RelationshipUpdate(op, parse_relationship(t)) for t in texts]


async def rows(store: PostgresTupleStore, flt: RelationshipFilter, revision: Revision) -> list[str]:
    return [str(rel) async for rel in store.query(flt, revision=revision)]


async def wait_applied(store: PostgresTupleStore, revision: Revision, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        status = store.index_status()
        if status is not None and status.applied >= revision.value:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"the index did not reach revision {revision}: {store.index_status()}")


@pytest.fixture
async def writer(store_factory: Any) -> AsyncIterator[PostgresTupleStore]:
    async with store_factory("postgres", quantization_seconds=0) as store:
        yield store


async def open_indexed(pg_url: str, **settings: Any) -> PostgresTupleStore:
    store = await PostgresTupleStore.connect(pg_url, quantization_seconds=0, index=IndexSettings(**settings))
    assert await store.wait_index_loaded(timeout=30)
    return store


def filters() -> list[RelationshipFilter]:
    docs = tuple(str(i) for i in range(6))
    users = ("u0", "u1", "u2", "*")
    return [
        RelationshipFilter(resource_type="doc", resource_ids=docs),
        RelationshipFilter(resource_type="doc", resource_ids=("1",), relation="viewer"),
        RelationshipFilter(resource_type="doc", resource_ids=docs, subject_relation=None),
        RelationshipFilter(subject_type="user", subject_ids=users),
        RelationshipFilter(resource_type="doc", relation="viewer", subject_type="user", subject_ids=("u1",)),
        RelationshipFilter(subject_type="team", subject_ids=("t0", "t1"), subject_relation="member"),
        RelationshipFilter(resource_type="doc"),  # no ids: always the database
    ]


def random_text(rng: random.Random) -> str:
    doc = f"doc:{rng.randrange(6)}#{rng.choice(['viewer', 'editor'])}"
    subject = rng.choice(["user:u0", "user:u1", "user:u2", "user:*", "team:t0#member", "team:t1#member"])
    text = f"{doc}@{subject}"
    roll = rng.random()
    if roll < 0.15:
        text += '[only_on:{"day":%d}]' % rng.randrange(3)  # noqa: UP031 - braces in the template
    elif roll < 0.3:
        when = datetime.now(UTC) + timedelta(seconds=rng.choice([-60, 3600]))
        text += f"[expiration:{format_expiration(when)}]"
    return text


async def test_random_writes_read_the_same_through_the_index(writer: PostgresTupleStore, pg_url: str) -> None:
    rng = random.Random(7)  # noqa: S311 - a reproducible workload, not a secret
    await writer.write(up(Operation.TOUCH, *{random_text(rng) for _ in range(8)}))
    indexed = await open_indexed(pg_url)
    try:
        floor = indexed.index_status()
        assert floor is not None
        revisions: list[Revision] = []
        for _ in range(40):
            texts = {random_text(rng) for _ in range(rng.randrange(1, 4))}
            keys = {parse_relationship(t).key(): t for t in texts}
            op = rng.choice([Operation.TOUCH, Operation.TOUCH, Operation.DELETE])
            result = await writer.write(up(op, *keys.values()))
            revisions.append(result.revision)
        head = revisions[-1]
        token = Consistency(ConsistencyMode.AT_LEAST_AS_FRESH, writer.token_for(head))
        assert await indexed.resolve(token) >= head
        await wait_applied(indexed, head)
        served = 0
        for revision in [Revision(floor.applied), *revisions]:
            for flt in filters():
                assert await rows(indexed, flt, revision) == await rows(writer, flt, revision), (
                    flt,
                    revision,
                )
                status = indexed.index_status()
                served += status is not None and status.floor <= revision.value <= status.applied
        assert served > 0
    finally:
        await indexed.close()


async def test_a_write_is_visible_at_its_token_right_away(writer: PostgresTupleStore, pg_url: str) -> None:
    indexed = await open_indexed(pg_url)
    try:
        flt = RelationshipFilter(resource_type="doc", resource_ids=("7",))
        for i in range(10):
            result = await writer.write(up(Operation.CREATE, f"doc:7#viewer@user:n{i}"))
            token = Consistency(ConsistencyMode.AT_LEAST_AS_FRESH, result.token)
            revision = await indexed.resolve(token)
            assert len(await rows(indexed, flt, revision)) == i + 1
    finally:
        await indexed.close()


async def test_reads_below_the_snapshot_use_the_database(writer: PostgresTupleStore, pg_url: str) -> None:
    first = await writer.write(up(Operation.CREATE, "doc:1#viewer@user:u0", "doc:1#viewer@user:u1"))
    await writer.write(up(Operation.DELETE, "doc:1#viewer@user:u0"))
    indexed = await open_indexed(pg_url)
    try:
        status = indexed.index_status()
        assert status is not None
        assert status.floor > first.revision.value
        flt = RelationshipFilter(resource_type="doc", resource_ids=("1",))
        assert await rows(indexed, flt, first.revision) == ["doc:1#viewer@user:u0", "doc:1#viewer@user:u1"]
        assert await rows(indexed, flt, Revision(status.applied)) == ["doc:1#viewer@user:u1"]
    finally:
        await indexed.close()


async def test_a_follower_that_cannot_read_the_log_falls_back_to_the_database(
    writer: PostgresTupleStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexed = await open_indexed(pg_url, wait_seconds=0.05)
    try:
        follower = indexed._follower
        assert follower is not None

        async def broken(since: int, limit: int, max_revision_rows: int) -> Any:
            raise StoreUnavailableError("the database is unavailable")

        monkeypatch.setattr(follower, "_read_changes", broken)
        result = await writer.write(up(Operation.CREATE, "doc:2#viewer@user:u2"))
        revision = await indexed.resolve(FRESH)
        assert revision >= result.revision
        flt = RelationshipFilter(resource_type="doc", resource_ids=("2",))
        assert await rows(indexed, flt, revision) == ["doc:2#viewer@user:u2"]
        status = indexed.index_status()
        assert status is not None
        assert status.applied < result.revision.value  # it really was the database that answered
    finally:
        await indexed.close()


async def test_the_index_reloads_when_the_log_no_longer_reaches_it(
    writer: PostgresTupleStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexed = await open_indexed(pg_url)
    try:
        follower = indexed._follower
        assert follower is not None
        real = follower._read_changes
        calls = 0

        async def gone_once(since: int, limit: int, max_revision_rows: int) -> Any:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RevisionUnavailableError("garbage-collected")
            return await real(since, limit, max_revision_rows)

        monkeypatch.setattr(follower, "_read_changes", gone_once)
        result = await writer.write(up(Operation.CREATE, "doc:3#viewer@user:u0"))
        await wait_applied(indexed, result.revision)
        assert calls >= 2
        flt = RelationshipFilter(resource_type="doc", resource_ids=("3",))
        assert await rows(indexed, flt, result.revision) == ["doc:3#viewer@user:u0"]
    finally:
        await indexed.close()


async def test_the_follower_reconnects_after_losing_its_listen_connection(
    writer: PostgresTupleStore, pg_url: str, pg_libpq: str
) -> None:
    indexed = await open_indexed(pg_url)
    try:
        with psycopg.connect(pg_libpq, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query = %s",
                (f"LISTEN {CHANNEL}",),
            ).fetchall()
        assert killed
        result = await writer.write(up(Operation.CREATE, "doc:4#viewer@user:u1"))
        await wait_applied(indexed, result.revision)  # the 1 s poll alone would get here too
        flt = RelationshipFilter(resource_type="doc", resource_ids=("4",))
        assert await rows(indexed, flt, result.revision) == ["doc:4#viewer@user:u1"]
        listening = []
        with psycopg.connect(pg_libpq, autocommit=True) as admin:
            for _ in range(250):  # the follower re-opens LISTEN on its next round
                listening = admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
                    (f"LISTEN {CHANNEL}",),
                ).fetchall()
                if listening:
                    break
                await asyncio.sleep(0.02)
        assert listening, "the follower did not listen again"
    finally:
        await indexed.close()


async def test_a_revision_too_large_to_follow_reloads_the_snapshot(
    writer: PostgresTupleStore, pg_url: str
) -> None:
    indexed = await open_indexed(pg_url, batch=50, max_revision_rows=200)
    try:
        texts = [f"doc:big{i}#viewer@user:u{i % 7}" for i in range(500)]
        result = await writer.bulk_import(parse_lines(texts))
        small = await writer.write(up(Operation.CREATE, "doc:5#viewer@user:u0"))
        await wait_applied(indexed, small.revision)
        status = indexed.index_status()
        assert status is not None
        assert status.floor >= result.revision.value  # it was reloaded, not fed the 500 changes
        flt = RelationshipFilter(subject_type="user", subject_ids=("u3",))
        assert await rows(indexed, flt, small.revision) == await rows(writer, flt, small.revision)
        assert len(await rows(indexed, flt, small.revision)) == len([t for t in texts if t.endswith("u3")])
    finally:
        await indexed.close()


async def wait_state(store: PostgresTupleStore, state: IndexState, seconds: float = 15.0) -> IndexStatus:
    """Poll (bounded) until the index reports ``state``."""
    for _ in range(int(seconds / 0.02)):
        status = store.index_status()
        if status is not None and status.state is state:
            return status
        await asyncio.sleep(0.02)
    pytest.fail(f"the index did not become {state}: {store.index_status()}")


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("server closed the connection unexpectedly"),
        RuntimeError("a bug in the follower"),
    ],
    ids=["driver-error", "any-error"],
)
async def test_the_follower_survives_any_error_and_says_it_is_degraded(
    writer: PostgresTupleStore, pg_url: str, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """The regression of issue 15: a raw ``psycopg.OperationalError`` used to end the follower."""
    indexed = await open_indexed(pg_url, wait_seconds=0.05)
    try:
        follower = indexed._follower
        assert follower is not None
        assert (await wait_state(indexed, IndexState.READY)).reason is None
        listener = follower._listener
        real_start = listener.start
        broken = True

        async def failing_start() -> None:
            if broken:
                raise error
            await real_start()

        monkeypatch.setattr(listener, "start", failing_start)
        follower._wake.set()
        degraded = await wait_state(indexed, IndexState.DEGRADED)
        assert degraded.reason
        assert degraded.since is not None
        report = indexed.index_report()
        assert report is not None
        assert report["state"] == "degraded"
        assert "postgres" not in str(report["reason"]).lower()  # no connection strings leak
        # Reads stay right meanwhile, from the database.
        result = await writer.write(up(Operation.CREATE, "doc:6#viewer@user:u0"))
        flt = RelationshipFilter(resource_type="doc", resource_ids=("6",))
        assert await rows(indexed, flt, await indexed.resolve(FRESH)) == ["doc:6#viewer@user:u0"]
        assert follower._task is not None
        assert not follower._task.done(), "the follower loop ended"
        broken = False
        ready = await wait_state(indexed, IndexState.READY)
        assert ready.reason is None
        assert ready.since is not None
        assert ready.since >= degraded.since
        await wait_applied(indexed, result.revision)
        assert await rows(indexed, flt, result.revision) == ["doc:6#viewer@user:u0"]
    finally:
        await indexed.close()


async def test_a_fresh_index_is_loading_then_ready(writer: PostgresTupleStore, pg_url: str) -> None:
    store = await PostgresTupleStore.connect(pg_url, quantization_seconds=0, index=IndexSettings())
    try:
        first = store.index_status()
        assert first is not None
        assert first.state in {IndexState.LOADING, IndexState.READY}
        assert first.state is IndexState.READY or not first.loaded
        ready = await wait_state(store, IndexState.READY)
        assert ready.loaded
        assert ready.healthy
    finally:
        await store.close()
    closed = store.index_status()
    assert closed is not None
    assert closed.state is IndexState.DEGRADED

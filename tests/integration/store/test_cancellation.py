"""Streaming reads of the Postgres store under cancellation and early exit.

A read cancelled at any await (pool checkout, the query on the server, psycopg's own cancel
round trip, the check-in), cancelled twice in a row, or abandoned by its consumer half-way must
hand its pooled connection back: no checked-out connection is left behind, nothing warns (the
suite turns warnings into errors) and psycopg never has to close a connection because its query
cancellation was interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import warnings
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import pytest

from rebac.refs import Relationship
from rebac.services.interchange import parse_lines
from rebac.store.base import Consistency, ConsistencyMode, RelationshipFilter
from rebac.store.postgres import PostgresTupleStore
from rebac.store.revision import Revision

pytestmark = pytest.mark.integration

FRESH = Consistency(ConsistencyMode.FULLY_CONSISTENT)
ROUNDS = 60
DOCS = 2_500  # three pages of ``query``


async def _drain(stream: AsyncIterator[Any]) -> int:
    return sum([1 async for _ in stream])


async def _fail_half_way(stream: AsyncIterator[Relationship]) -> None:
    async for _rel in stream:
        raise LookupError  # the consumer fails after the first row


def _pool_checked_out(store: PostgresTupleStore) -> int:
    """Connections checked out of the SQLAlchemy pool and of the hot-read pool."""
    pool: Any = store._engine.pool
    fast: Any = store._fast._pool
    stats = fast.get_stats()
    return int(pool.checkedout()) + int(stats["pool_size"]) - int(stats.get("pool_available", 0))


@contextlib.asynccontextmanager
async def _no_leaks(store: PostgresTupleStore, caplog: pytest.LogCaptureFixture) -> AsyncIterator[None]:
    caplog.set_level(logging.WARNING, logger="psycopg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        # A shared head read (SharedRead) whose callers were all cancelled finishes on its own,
        # promptly: give it a bounded moment to hand its connection back.
        for _ in range(200):
            if _pool_checked_out(store) == 0:
                break
            await asyncio.sleep(0.005)
        gc.collect()  # an abandoned, unreturned connection would warn from the pool's GC hook
    assert [str(w.message) for w in caught] == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []
    assert _pool_checked_out(store) == 0


@pytest.fixture
async def loaded(store_factory: Any) -> AsyncIterator[tuple[PostgresTupleStore, Revision]]:
    async with store_factory("postgres", quantization_seconds=0) as store:
        assert isinstance(store, PostgresTupleStore)
        texts = [f"doc:{i}#viewer@user:u{i % 50}" for i in range(DOCS)]
        result = await store.bulk_import(parse_lines(texts))
        yield store, result.revision


def _queries(store: PostgresTupleStore, revision: Revision) -> list[AsyncIterator[Relationship]]:
    return [
        store.query(RelationshipFilter("doc"), revision=revision),
        store.query(RelationshipFilter("doc", relation="viewer", subject_type="user"), revision=revision),
        store.query(
            RelationshipFilter("doc", resource_ids=tuple(str(i) for i in range(100))), revision=revision
        ),
        store.query(RelationshipFilter(subject_type="user", subject_ids=("u1", "u2")), revision=revision),
    ]


async def test_cancelled_queries_return_their_connections(
    loaded: tuple[PostgresTupleStore, Revision], caplog: pytest.LogCaptureFixture
) -> None:
    store, revision = loaded
    rng = random.Random(20261126)  # noqa: S311 - reproducible timings, not secrets
    async with _no_leaks(store, caplog):
        for round_ in range(ROUNDS):
            streams = _queries(store, revision)
            tasks = [asyncio.create_task(_drain(s)) for s in streams]
            await asyncio.sleep(rng.uniform(0, 0.004))
            for task in tasks:
                task.cancel()
                if round_ % 3 == 0:  # a second cancellation while the first one is being handled
                    await asyncio.sleep(0)
                    task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            assert all(isinstance(r, int | asyncio.CancelledError) for r in results), results
        # The store still works afterwards, with every connection usable.
        counts = await asyncio.gather(*(_drain(s) for s in _queries(store, revision)))
        assert counts[0] == DOCS


async def test_timed_out_queries_return_their_connections(
    loaded: tuple[PostgresTupleStore, Revision], caplog: pytest.LogCaptureFixture
) -> None:
    store, revision = loaded
    async with _no_leaks(store, caplog):
        for round_ in range(ROUNDS):
            timeout = 0.0002 * (round_ % 20)
            for stream in _queries(store, revision):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_drain(stream), timeout)
        assert await _drain(store.query(RelationshipFilter("doc"), revision=revision)) == DOCS


async def test_other_reads_survive_cancellation(
    loaded: tuple[PostgresTupleStore, Revision], caplog: pytest.LogCaptureFixture
) -> None:
    store, _ = loaded
    async with _no_leaks(store, caplog):
        for round_ in range(ROUNDS):
            timeout = 0.0002 * (round_ % 15)
            for call in (
                store.head_revision(),
                store.resolve(FRESH),
                store.changes_since(Revision(0), limit=500),
                store.current_schema(),
            ):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(call, timeout)


async def test_abandoned_queries_return_their_connections(
    loaded: tuple[PostgresTupleStore, Revision], caplog: pytest.LogCaptureFixture
) -> None:
    store, revision = loaded
    async with _no_leaks(store, caplog):
        for _ in range(20):
            async for _rel in store.query(RelationshipFilter("doc"), revision=revision):
                break  # the consumer stops early (a limit reached)
            stream = store.query(RelationshipFilter("doc"), revision=revision)
            await anext(stream)
            del stream  # never closed: finalised by the garbage collector / the loop's hook
            with pytest.raises(LookupError):
                await _fail_half_way(store.query(RelationshipFilter("doc"), revision=revision))
            gen = cast(
                "AsyncGenerator[Relationship, None]",
                store.query(RelationshipFilter("doc"), revision=revision),
            )
            async with contextlib.aclosing(gen) as s:
                await anext(s)
            limited = store.query(RelationshipFilter("doc"), revision=revision, limit=1_500)
            assert await _drain(limited) == 1_500
            assert _pool_checked_out(store) == 0
        await asyncio.sleep(0)  # let the loop finalise abandoned generators

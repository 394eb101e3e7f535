"""Postgres-only properties: commit order under concurrency, index use, unreachable database."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import psycopg
import pytest
from sqlalchemy.dialects.postgresql import psycopg as pg_dialect
from sqlalchemy.ext.asyncio import create_async_engine

from rebac.errors import DuplicateRelationshipError, StoreUnavailableError
from rebac.refs import parse_relationship
from rebac.store.base import (
    Consistency,
    ConsistencyMode,
    Operation,
    RelationshipFilter,
    RelationshipUpdate,
)
from rebac.store.postgres import PostgresTupleStore
from rebac.store.postgres._sql import select_relationships
from rebac.store.revision import Revision

pytestmark = pytest.mark.integration

FRESH = Consistency(ConsistencyMode.FULLY_CONSISTENT)


def up(op: Operation, *texts: str) -> list[RelationshipUpdate]:
    return [RelationshipUpdate(op, parse_relationship(t)) for t in texts]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_readers_that_see_a_revision_see_all_earlier_ones(store_factory: Any) -> None:
    async with store_factory("postgres", quantization_seconds=0) as store:
        written: dict[int, set[str]] = {}
        observations: list[tuple[int, set[str]]] = []
        writers_done = asyncio.Event()

        async def writer(w: int) -> None:
            for i in range(15):
                texts = (f"doc:w{w}-{i}#viewer@user:u{w}", f"doc:w{w}-{i}#editor@user:u{w}")
                result = await store.write(up(Operation.CREATE, *texts))
                written[result.revision.value] = set(texts)

        async def reader() -> None:
            for _ in range(500):
                if writers_done.is_set():
                    return
                head = await store.resolve(FRESH)
                rows = {str(r) async for r in store.query(RelationshipFilter("doc"), revision=head)}
                observations.append((head.value, rows))

        readers = [asyncio.create_task(reader()) for _ in range(3)]
        await asyncio.gather(*(writer(w) for w in range(4)))
        writers_done.set()
        await asyncio.gather(*readers)

    assert sorted(written) == list(range(1, 61))
    assert observations
    for head, rows in observations:
        expected = set().union(*(texts for rev, texts in written.items() if rev <= head))
        assert rows == expected, f"a reader at revision {head} missed earlier writes"


async def test_concurrent_creates_of_one_relationship_admit_exactly_one(store_factory: Any) -> None:
    async with store_factory("postgres") as store:
        results = await asyncio.gather(
            *(store.write(up(Operation.CREATE, "doc:1#viewer@user:a")) for _ in range(6)),
            return_exceptions=True,
        )
        assert sum(1 for r in results if isinstance(r, DuplicateRelationshipError)) == 5
        assert sum(1 for r in results if not isinstance(r, BaseException)) == 1


def _plan(url: str, flt: RelationshipFilter) -> str:
    compiled = select_relationships(flt, 1).limit(100).compile(dialect=pg_dialect.dialect())  # type: ignore[no-untyped-call]
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        conn.execute("ANALYZE relation_tuple")
        conn.execute("SET enable_seqscan = off")
        rows = conn.execute("EXPLAIN " + str(compiled), compiled.params).fetchall()
    return "\n".join(str(row[0]) for row in rows)


async def test_query_shapes_use_their_indexes(store_factory: Any, pg_url: str) -> None:
    async with store_factory("postgres") as store:
        rels = [parse_relationship(f"doc:{i}#viewer@user:u{i % 500}") for i in range(5000)]
        await store.bulk_import(rels)
    forward = _plan(pg_url, RelationshipFilter("doc", ("1", "2"), "viewer"))
    assert "pk_relation_tuple" in forward, forward
    reverse = _plan(
        pg_url,
        RelationshipFilter(
            resource_type="doc",
            relation="viewer",
            subject_type="user",
            subject_ids=("u1", "u2"),
            subject_relation=None,
        ),
    )
    assert "ix_relation_tuple_reverse" in reverse, reverse


async def test_unreachable_database_is_store_unavailable_and_leaks_no_secret() -> None:
    url = f"postgresql+psycopg://root:s3cret-pw@127.0.0.1:{closed_port()}/rebac"
    with pytest.raises(StoreUnavailableError) as info:
        await PostgresTupleStore.connect(url)
    assert "s3cret" not in str(info.value)
    assert "127.0.0.1" not in str(info.value)
    engine = create_async_engine(url, connect_args={"connect_timeout": 2})
    store = PostgresTupleStore(engine, store_id="x", conninfo="postgresql://127.0.0.1:1/none")
    try:
        for call in (
            store.write(up(Operation.CREATE, "doc:1#viewer@user:a")),
            store.head_revision(),
            store.bulk_import(up(Operation.CREATE, "doc:1#viewer@user:a")[0].relationship for _ in range(1)),
            store.changes_since(Revision(0)),
        ):
            with pytest.raises(StoreUnavailableError) as failure:
                await call
            assert "s3cret" not in str(failure.value)
    finally:
        await store.close()

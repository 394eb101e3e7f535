"""The packed index on a real PostgreSQL: the COPY snapshot load and compaction by the follower.

Every read from the index is compared with the database's answer at the same revision.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from rebac.refs import format_expiration, parse_relationship
from rebac.store.base import Operation, RelationshipFilter, RelationshipUpdate
from rebac.store.postgres import IndexSettings, PostgresTupleStore
from rebac.store.postgres._index import RelationshipIndex
from rebac.store.postgres._snapshot import SnapshotCancelledError, load_snapshot
from rebac.store.revision import Revision

pytestmark = pytest.mark.integration

SOON = format_expiration(datetime.now(UTC) + timedelta(hours=1))
PAST = format_expiration(datetime.now(UTC) - timedelta(minutes=1))
TEXTS = [
    "doc:1#viewer@user:alice",
    "doc:1#viewer@user:*",
    "doc:1#editor@team:eng#member",
    'doc:1#viewer@user:bob[only_on:{"day":1,"note":"tab\\there\\\\"}]',
    f"doc:2#viewer@user:carol[expiration:{SOON}]",
    f"doc:2#viewer@user:dave[expiration:{PAST}]",
    f'doc:2#editor@user:erin[only_on:{{"day":2}}][expiration:{SOON}]',
    'doc:"a b/ü"#viewer@user:"rick@the-citadel.com"',
    "acme/folder:f|1=x+y#parent@doc:1",
    "team:eng#member@user:alice",
]


def conninfo(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def filters() -> list[RelationshipFilter]:
    return [
        RelationshipFilter(resource_type="doc", resource_ids=("1", "2", "a b/ü", "zz")),
        RelationshipFilter(
            resource_type="doc", resource_ids=("1",), relation="viewer", subject_relation=None
        ),
        RelationshipFilter(subject_type="user", subject_ids=("alice", "*", "rick@the-citadel.com", "erin")),
        RelationshipFilter(subject_type="team", subject_ids=("eng",), subject_relation="member"),
        RelationshipFilter(subject_type="doc", subject_ids=("1",), resource_type="acme/folder"),
        RelationshipFilter(resource_type="acme/folder", resource_ids=("f|1=x+y",)),
        RelationshipFilter(
            resource_type="team", resource_ids=("eng",), subject_type="user", subject_ids=("alice",)
        ),
    ]


async def db_rows(store: PostgresTupleStore, flt: RelationshipFilter, revision: int) -> list[str]:
    return [str(rel) async for rel in store.query(flt, revision=Revision(revision))]


@pytest.fixture
async def writer(store_factory: Any) -> AsyncIterator[PostgresTupleStore]:
    async with store_factory("postgres", quantization_seconds=0) as store:
        yield store


async def test_the_copy_snapshot_reads_like_the_database(writer: PostgresTupleStore, pg_url: str) -> None:
    rels = [parse_relationship(text) for text in TEXTS]
    await writer.write([RelationshipUpdate(Operation.TOUCH, rel) for rel in rels[:5]])
    await writer.bulk_import(rels[5:])
    result = await writer.write([RelationshipUpdate(Operation.DELETE, rels[0])])
    index = RelationshipIndex()
    head = await asyncio.to_thread(load_snapshot, conninfo(pg_url), index, threading.Event())
    assert head == result.revision.value
    assert index.covers(head)
    assert index.rows == len(TEXTS) - 2  # the deleted row and the expired one are not loaded
    now = datetime.now(UTC)
    for flt in filters():
        found = index.select(flt, head, now)
        assert found is not None
        assert [str(rel) for rel in found] == await db_rows(writer, flt, head), flt


async def test_a_stopped_load_leaves_the_index_unloaded(writer: PostgresTupleStore, pg_url: str) -> None:
    await writer.bulk_import(parse_relationship(f"doc:{i}#viewer@user:u{i % 97}") for i in range(60_000))
    stop = threading.Event()
    stop.set()
    index = RelationshipIndex()
    with pytest.raises(SnapshotCancelledError):
        await asyncio.to_thread(load_snapshot, conninfo(pg_url), index, stop)
    assert not index.loaded


def random_text(rng: random.Random) -> str:
    text = f"doc:{rng.randrange(5)}#{rng.choice(['viewer', 'editor'])}@"
    text += rng.choice(["user:u0", "user:u1", "user:*", "team:t0#member"])
    if rng.random() < 0.2:
        text += '[only_on:{"day":%d}]' % rng.randrange(3)  # noqa: UP031 - braces in the template
    return text


async def test_the_follower_compacts_and_still_reads_like_the_database(
    writer: PostgresTupleStore, pg_url: str
) -> None:
    rng = random.Random(3)  # noqa: S311 - a reproducible workload, not a secret
    await writer.write([RelationshipUpdate(Operation.TOUCH, parse_relationship(random_text(rng)))])
    indexed = await PostgresTupleStore.connect(
        pg_url, quantization_seconds=0, index=IndexSettings(retain_seconds=0.0, prune_min_dead=1)
    )
    try:
        assert await indexed.wait_index_loaded(timeout=30)
        first = indexed.index_status()
        assert first is not None
        served = 0
        for _ in range(30):
            rels = {rel.key(): rel for rel in (parse_relationship(random_text(rng)) for _ in range(3))}
            op = rng.choice([Operation.TOUCH, Operation.TOUCH, Operation.DELETE])
            updates = [RelationshipUpdate(op, rel) for rel in rels.values()]
            head = (await writer.write(updates)).revision.value
            for _ in range(500):  # bounded wait for the follower to apply it
                status = indexed.index_status()
                if status is not None and status.applied >= head:
                    break
                await asyncio.sleep(0.02)
            for flt in filters()[:4]:
                assert await db_rows(indexed, flt, head) == await db_rows(writer, flt, head), flt
                status = indexed.index_status()
                served += status is not None and status.floor <= head <= status.applied
        status = indexed.index_status()
        assert status is not None
        assert status.floor > first.floor  # compactions raised the floor
        assert served > 0
    finally:
        await indexed.close()

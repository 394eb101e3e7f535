"""The declared optional roles and readiness of both engines, and the one opener, ``open_store``.

Each role is used through ``store.roles`` only (no isinstance discovery): one item written and
read back through each of them proves the object really serves it.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import make_url

from rebac.config import DatabaseSettings, Settings
from rebac.refs import SubjectRef, parse_relationship
from rebac.store.base import (
    DecisionFilter,
    DecisionRecord,
    DecisionResult,
    KeyStore,
    Operation,
    RelationshipFilter,
    RelationshipUpdate,
    Review,
    TupleStore,
)
from rebac.store.factory import open_store
from rebac.store.memory import MemoryKeyStore, MemoryTupleStore
from rebac.store.postgres import IndexSettings, PostgresKeyStore, PostgresTupleStore
from rebac.store.postgres._index import RelationshipIndex
from rebac.store.postgres.migrate import upgrade_to_head

pytestmark = pytest.mark.integration

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


_SESSIONS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
)


async def sessions(url: str) -> int:
    """Connections to the database at ``url``, other than the one asking."""
    async with await psycopg.AsyncConnection.connect(libpq(url), autocommit=True) as conn:
        row = await (await conn.execute(_SESSIONS)).fetchone()
    return int(row[0]) if row is not None else 0


async def all_closed(url: str) -> bool:
    """True once no other connection to ``url`` is left (closing ones take a moment to leave)."""
    for _ in range(50):
        if await sessions(url) == 0:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_roles_serve_the_decision_log_identities_and_reviews(store: TupleStore) -> None:
    roles = store.roles
    assert roles.decisions is not None
    assert roles.identities is not None
    assert roles.reviews is not None

    record = DecisionRecord(
        decision_id=str(uuid.uuid4()),
        decided_at=NOW,
        source="check",
        caller=None,
        subject="agent:a",
        permission="view",
        resource="doc:1",
        result=DecisionResult.ALLOWED,
        reason="granted",
    )
    await roles.decisions.append_decisions([record])
    assert await roles.decisions.query_decisions(DecisionFilter(subject="agent:a"), limit=5) == [record]

    written = await store.write(
        [RelationshipUpdate(Operation.TOUCH, parse_relationship("doc:1#viewer@agent:a"))]
    )
    assert await roles.identities.object_ids("agent", revision=written.revision, limit=5) == ["a"]
    versions = await roles.identities.query_versions(
        RelationshipFilter(resource_type="doc"), revision=written.revision
    )
    assert [(str(v.relationship), v.created) for v in versions] == [
        ("doc:1#viewer@agent:a", written.revision)
    ]

    review = Review(
        subject=SubjectRef("agent", "a"),
        reviewer="ann",
        revision=written.revision,
        reviewed_at=NOW,
        note="",
        fingerprint="f" * 64,
        grants=("doc:1#viewer@agent:a",),
    )
    stored = await roles.reviews.add_review(review)
    assert stored.review_id > 0
    assert await roles.reviews.list_reviews(subject=review.subject, limit=5) == [stored]


async def create_and_find(keys: KeyStore) -> None:
    created = await keys.create_key("k1", "ab" * 32, frozenset({"check"}), "ci")
    found = await keys.find_key("k1")
    assert found is not None
    assert (found.key_id, found.secret_hash, found.name) == ("k1", "ab" * 32, "ci")
    assert found.scopes == frozenset({"check"})
    assert found.created_at == created.created_at
    assert not found.revoked


async def test_the_memory_store_serves_an_in_memory_key_table() -> None:
    keys = MemoryTupleStore().roles.keys
    assert isinstance(keys, MemoryKeyStore)
    await create_and_find(keys)


async def test_a_postgres_store_serves_keys_only_when_opened_with_them(pg_url: str) -> None:
    plain = await PostgresTupleStore.connect(pg_url)
    try:
        assert plain.roles.keys is None
        assert plain.roles.decisions is plain
    finally:
        await plain.close()


async def test_every_engine_is_ready_when_migrated_and_loaded(store: TupleStore) -> None:
    assert await store.ready() is True


async def test_not_ready_while_the_index_loads(
    pg_url: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    request.getfixturevalue("_pg_reset")()
    gate = asyncio.Event()
    load = PostgresTupleStore._load_snapshot

    async def gated(self: PostgresTupleStore, index: RelationshipIndex) -> None:
        await gate.wait()
        await load(self, index)

    monkeypatch.setattr(PostgresTupleStore, "_load_snapshot", gated)
    store = await PostgresTupleStore.connect(pg_url, index=IndexSettings())
    try:
        assert await store.ready() is False
        assert await store.head_revision() is not None  # reads work meanwhile, from the database
        gate.set()
        assert await store.wait_index_loaded(timeout=30)
        assert await store.ready() is True
    finally:
        await store.close()


async def test_not_ready_when_the_database_is_not_at_head(empty_database_url: str) -> None:
    upgrade_to_head(empty_database_url)
    store = await PostgresTupleStore.connect(empty_database_url)
    try:
        assert await store.ready() is True
        with psycopg.connect(libpq(empty_database_url), autocommit=True) as conn:
            conn.execute("DELETE FROM alembic_version")
        assert await store.ready() is False
    finally:
        await store.close()


async def test_open_store_migrates_serves_the_key_table_and_closes_it(empty_database_url: str) -> None:
    settings = Settings(database=DatabaseSettings(url=empty_database_url))
    async with open_store(settings, migrate=True) as store:
        assert await store.ready() is True
        keys = store.roles.keys
        assert isinstance(keys, PostgresKeyStore)
        await create_and_find(keys)
        assert isinstance(store, PostgresTupleStore)
        assert store.roles.decisions is store
        assert await sessions(empty_database_url) > 0
    assert await all_closed(empty_database_url)  # the store's pools and the key table's


async def test_open_store_with_the_index(empty_database_url: str) -> None:
    settings = Settings(database=DatabaseSettings(url=empty_database_url))
    async with open_store(settings, migrate=True, index=True) as store:
        assert isinstance(store, PostgresTupleStore)
        assert store.index_status() is not None
        assert await store.wait_index_loaded(timeout=30)
        assert await store.ready() is True

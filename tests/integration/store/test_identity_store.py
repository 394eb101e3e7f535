"""Identity-inventory reads and reviews: the same suite on the memory and Postgres engines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy.dialects import postgresql as pg_dialect

from rebac.refs import SubjectRef, parse_relationship
from rebac.store.base import (
    Operation,
    RelationshipFilter,
    RelationshipUpdate,
    Review,
    TupleStore,
)
from rebac.store.postgres._identities import latest_reviews_stmt, object_ids_stmt
from rebac.store.revision import Revision

pytestmark = pytest.mark.integration


async def write(store: TupleStore, *texts: str, op: Operation = Operation.TOUCH) -> Revision:
    result = await store.write([RelationshipUpdate(op, parse_relationship(t)) for t in texts])
    return result.revision


def review(subject: str, reviewer: str, rev: int, *grants: str) -> Review:
    type_name, _, object_id = subject.partition(":")
    return Review(
        subject=SubjectRef(type_name, object_id),
        reviewer=reviewer,
        revision=Revision(rev),
        reviewed_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        note="looks fine",
        fingerprint="f" * 64,
        grants=grants,
    )


async def test_object_ids_lists_both_sides_sorted_and_paged(store: TupleStore) -> None:
    reader = store.roles.identities
    assert reader is not None
    await write(
        store,
        "agent:b#principal@user:alice",
        "doc:1#viewer@agent:a",
        "doc:1#viewer@agent:*",
        "doc:1#viewer@team:t#member",
        "team:t#member@agent:c",
        "doc:2#viewer@agent:x#member",  # a subject set names no identity
    )
    rev2 = await write(store, "doc:3#viewer@agent:d")
    await write(store, "doc:3#viewer@agent:d", op=Operation.DELETE)
    head = await store.head_revision()
    assert await reader.object_ids("agent", revision=head, limit=10) == ["a", "b", "c"]
    assert await reader.object_ids("agent", revision=rev2, limit=10) == ["a", "b", "c", "d"]
    assert await reader.object_ids("agent", revision=head, after="a", limit=1) == ["b"]
    assert await reader.object_ids("agent", revision=head, after="c", limit=5) == []
    assert await reader.object_ids("user", revision=head, limit=5) == ["alice"]


async def test_query_versions_carries_created_revision_and_commit_time(store: TupleStore) -> None:
    reader = store.roles.identities
    assert reader is not None
    first = await write(store, "doc:1#viewer@agent:a", "doc:2#viewer@agent:b")
    second = await write(store, "doc:3#viewer@agent:a[expiration:2999-01-01T00:00:00Z]")
    head = await store.head_revision()
    flt = RelationshipFilter(subject_type="agent", subject_ids=("a",), subject_relation=None)
    found = await reader.query_versions(flt, revision=head)
    assert [str(v.relationship) for v in found] == [
        "doc:1#viewer@agent:a",
        "doc:3#viewer@agent:a[expiration:2999-01-01T00:00:00Z]",
    ]
    assert [v.created for v in found] == [first, second]
    assert all(isinstance(v.committed_at, datetime) for v in found)
    assert found[0].committed_at is not None
    assert found[1].committed_at is not None
    assert found[0].committed_at <= found[1].committed_at
    assert [str(v.relationship) for v in await reader.query_versions(flt, revision=first)] == [
        "doc:1#viewer@agent:a"
    ]
    assert len(await reader.query_versions(flt, revision=head, limit=1)) == 1


async def test_reviews_are_appended_and_the_newest_wins(store: TupleStore) -> None:
    reviews = store.roles.reviews
    assert reviews is not None
    one = await reviews.add_review(review("agent:a", "ann", 1, "doc:1#viewer@agent:a"))
    two = await reviews.add_review(review("agent:b", "bob", 2))
    three = await reviews.add_review(
        review("agent:a", "cat", 3, "doc:1#viewer@agent:a", "doc:2#viewer@agent:a")
    )
    assert 0 < one.review_id < two.review_id < three.review_id
    assert three.grants == ("doc:1#viewer@agent:a", "doc:2#viewer@agent:a")
    assert three.reviewed_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert three.revision == Revision(3)
    assert three.note == "looks fine"

    latest = await reviews.latest_reviews("agent", ["a", "b", "zz"])
    assert latest == {"a": three, "b": two}
    assert await reviews.latest_reviews("agent", []) == {}
    assert await reviews.latest_reviews("service", ["a"]) == {}

    assert await reviews.list_reviews(limit=10) == [three, two, one]
    assert await reviews.list_reviews(limit=2) == [three, two]
    assert await reviews.list_reviews(before_id=two.review_id, limit=10) == [one]
    assert await reviews.list_reviews(subject=SubjectRef("agent", "a"), limit=10) == [three, one]


def _plan(url: str, stmt: Any) -> str:
    compiled = stmt.compile(dialect=pg_dialect.dialect())  # type: ignore[no-untyped-call]
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        conn.execute("ANALYZE relation_tuple")
        conn.execute("ANALYZE identity_review")
        conn.execute("SET enable_seqscan = off")
        rows = conn.execute("EXPLAIN " + str(compiled), compiled.params).fetchall()
    return "\n".join(str(row[0]) for row in rows)


async def test_identity_shapes_use_their_indexes(store_factory: Any, pg_url: str) -> None:
    async with store_factory("postgres") as store:
        rels = [parse_relationship(f"doc:{i}#viewer@agent:a{i % 500}") for i in range(3000)]
        rels += [parse_relationship(f"doc:{i}#viewer@user:u{i}") for i in range(20000)]
        rels += [parse_relationship(f"agent:a{i}#principal@user:u{i}") for i in range(500)]
        await store.bulk_import(rels)
        for i in range(50):
            await store.add_review(review(f"agent:a{i}", "r", 1))
    ids = _plan(pg_url, object_ids_stmt("agent", 10**6, "a1", 50))
    assert "pk_relation_tuple" in ids, ids
    assert "ix_relation_tuple_reverse" in ids, ids
    latest = _plan(pg_url, latest_reviews_stmt("agent", ["a1", "a2"]))
    assert "ix_identity_review_subject_type_subject_id_id" in latest, latest

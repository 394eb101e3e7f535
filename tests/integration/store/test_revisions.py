"""Revisions, the four consistency modes, tokens, expiry and garbage collection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rebac.errors import InvalidTokenError, PreconditionFailedError, RevisionUnavailableError
from rebac.refs import parse_relationship
from rebac.store.base import (
    Consistency,
    ConsistencyMode,
    Operation,
    Precondition,
    PreconditionKind,
    RelationshipFilter,
    RelationshipUpdate,
    TupleStore,
)
from rebac.store.memory import MemoryTupleStore
from rebac.store.revision import Revision, encode_token

pytestmark = pytest.mark.integration

FRESH = Consistency(ConsistencyMode.FULLY_CONSISTENT)


def up(op: Operation, *texts: str) -> list[RelationshipUpdate]:
    return [RelationshipUpdate(op, parse_relationship(t)) for t in texts]


async def at(store: TupleStore, revision: Revision) -> list[str]:
    return [str(r) async for r in store.query(RelationshipFilter(), revision=revision)]


def stamp(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).replace(microsecond=0).isoformat().replace("+00:00", "Z")


async def test_old_revisions_see_old_data(store: TupleStore) -> None:
    r1 = await store.write(up(Operation.CREATE, "doc:1#viewer@user:a"))
    r2 = await store.write(up(Operation.CREATE, "doc:1#viewer@user:b"))
    r3 = await store.write(up(Operation.DELETE, "doc:1#viewer@user:a"))
    r4 = await store.write(up(Operation.TOUCH, "doc:1#viewer@user:b[c]"))
    assert [r.revision.value for r in (r1, r2, r3, r4)] == [1, 2, 3, 4]
    assert await at(store, Revision(0)) == []
    assert await at(store, r1.revision) == ["doc:1#viewer@user:a"]
    assert await at(store, r2.revision) == ["doc:1#viewer@user:a", "doc:1#viewer@user:b"]
    assert await at(store, r3.revision) == ["doc:1#viewer@user:b"]
    assert await at(store, r4.revision) == ["doc:1#viewer@user:b[c]"]


async def test_consistency_modes(store: TupleStore) -> None:
    r1 = await store.write(up(Operation.CREATE, "doc:1#viewer@user:a"))
    r2 = await store.write(up(Operation.CREATE, "doc:2#viewer@user:a"))
    head = await store.head_revision()
    assert head == r2.revision
    assert await store.resolve(FRESH) == head
    fresh = await store.resolve(Consistency(ConsistencyMode.AT_LEAST_AS_FRESH, r1.token))
    assert r1.revision <= fresh <= head
    assert await store.resolve(Consistency(ConsistencyMode.AT_LEAST_AS_FRESH, r2.token)) == head
    exact = await store.resolve(Consistency(ConsistencyMode.AT_EXACT_SNAPSHOT, r1.token))
    assert exact == r1.revision
    latency = await store.resolve(Consistency())
    assert Revision(0) <= latency <= head


async def test_minimize_latency_without_quantization_reads_the_head(
    store_factory: Any, store_kind: str
) -> None:
    async with store_factory(store_kind, quantization_seconds=0) as store:
        result = await store.write(up(Operation.CREATE, "doc:1#viewer@user:a"))
        assert await store.resolve(Consistency()) == result.revision


async def test_minimize_latency_is_quantized_but_never_staler_than_the_window() -> None:
    now = [datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC)]
    store = MemoryTupleStore(quantization_seconds=5, clock=lambda: now[0])
    first = await store.write(up(Operation.CREATE, "doc:1#viewer@user:a"))  # at 12:00:01
    now[0] = datetime(2026, 1, 1, 12, 0, 3, tzinfo=UTC)
    await store.write(up(Operation.CREATE, "doc:2#viewer@user:a"))  # at 12:00:03, same bucket
    # Still in the bucket that started at 12:00:00: both reads agree on the revision before it.
    assert await store.resolve(Consistency()) == Revision(0)
    now[0] = datetime(2026, 1, 1, 12, 0, 6, tzinfo=UTC)
    # Next bucket (12:00:05): everything committed before 12:00:05 is visible.
    assert await store.resolve(Consistency()) == Revision(2)
    # A token newer than the quantized revision wins.
    now[0] = datetime(2026, 1, 1, 12, 0, 7, tzinfo=UTC)
    third = await store.write(up(Operation.CREATE, "doc:3#viewer@user:a"))
    assert await store.resolve(Consistency()) == Revision(2)
    assert await store.resolve(Consistency(ConsistencyMode.AT_LEAST_AS_FRESH, third.token)) == Revision(3)
    assert await store.resolve(Consistency(ConsistencyMode.AT_LEAST_AS_FRESH, first.token)) == Revision(2)


async def test_bad_tokens_are_refused(store: TupleStore) -> None:
    result = await store.write(up(Operation.CREATE, "doc:1#viewer@user:a"))
    other = MemoryTupleStore()
    foreign = other.token_for(Revision(1))
    for mode in (ConsistencyMode.AT_LEAST_AS_FRESH, ConsistencyMode.AT_EXACT_SNAPSHOT):
        for token in ("not a token!", "eyJ2IjoxfQ", foreign, None):
            with pytest.raises(InvalidTokenError):
                await store.resolve(Consistency(mode, token))
        with pytest.raises(RevisionUnavailableError):
            await store.resolve(Consistency(mode, encode_token(Revision(99), store.store_id)))
    assert store.token_for(result.revision) == result.token
    assert await at(store, await store.head_revision()) == ["doc:1#viewer@user:a"]


async def test_expired_relationships_are_invisible_everywhere(store: TupleStore) -> None:
    past, future = stamp(-timedelta(hours=1)), stamp(timedelta(hours=1))
    result = await store.write(
        up(
            Operation.CREATE,
            f"doc:1#viewer@user:gone[expiration:{past}]",
            f"doc:1#viewer@user:kept[expiration:{future}]",
            f"doc:1#owner@user:gone[c][expiration:{past}]",
        )
    )
    assert await at(store, result.revision) == [f"doc:1#viewer@user:kept[expiration:{future}]"]
    reverse = [
        r
        async for r in store.query(
            RelationshipFilter(subject_type="user", subject_ids=("gone",)), revision=result.revision
        )
    ]
    assert reverse == []
    must = Precondition(PreconditionKind.MUST_MATCH, RelationshipFilter("doc", ("1",), "owner"))
    with pytest.raises(PreconditionFailedError):
        await store.write(up(Operation.TOUCH, "doc:2#viewer@user:x"), [must])
    # An expired relationship does not exist for CREATE either.
    again = await store.write(up(Operation.CREATE, "doc:1#viewer@user:gone"))
    assert "doc:1#viewer@user:gone" in await at(store, again.revision)
    deleted = await store.delete_matching(RelationshipFilter("doc", relation="owner"))
    assert deleted.count == 0


async def test_gc_collects_old_revisions_and_expired_rows(store: TupleStore) -> None:
    past = stamp(-timedelta(hours=1))
    r1 = await store.write(
        up(Operation.CREATE, "doc:1#viewer@user:a", f"doc:1#viewer@user:old[expiration:{past}]")
    )
    r2 = await store.write(up(Operation.DELETE, "doc:1#viewer@user:a"))
    r3 = await store.write(up(Operation.CREATE, "doc:2#viewer@user:b"))
    assert await store.gc(older_than_seconds=3600 * 24) == 0
    assert await store.resolve(Consistency(ConsistencyMode.AT_EXACT_SNAPSHOT, r1.token)) == r1.revision
    removed = await store.gc(older_than_seconds=0)
    assert removed == 2  # the deleted row and the expired one
    with pytest.raises(RevisionUnavailableError):
        await store.resolve(Consistency(ConsistencyMode.AT_EXACT_SNAPSHOT, r1.token))
    with pytest.raises(RevisionUnavailableError):
        await store.resolve(Consistency(ConsistencyMode.AT_EXACT_SNAPSHOT, r2.token))
    with pytest.raises(RevisionUnavailableError):
        await store.changes_since(r1.revision)
    assert await store.resolve(Consistency(ConsistencyMode.AT_EXACT_SNAPSHOT, r3.token)) == r3.revision
    assert await store.resolve(Consistency(ConsistencyMode.AT_LEAST_AS_FRESH, r1.token)) == r3.revision
    assert await at(store, r3.revision) == ["doc:2#viewer@user:b"]
    assert await store.changes_since(r3.revision) == []
    r4 = await store.write(up(Operation.CREATE, "doc:1#viewer@user:a"))
    assert r4.revision.value == 4
    assert await at(store, r4.revision) == ["doc:1#viewer@user:a", "doc:2#viewer@user:b"]

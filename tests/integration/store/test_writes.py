"""Writes and reads: create/touch/delete, preconditions, limits, delete-by-filter, query paging.

Every error case proves that nothing was written (same head, same tuples).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rebac.errors import (
    DuplicateRelationshipError,
    InvalidInputError,
    LimitExceededError,
    PreconditionFailedError,
)
from rebac.refs import CaveatRef, Relationship, parse_relationship
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

pytestmark = pytest.mark.integration

FRESH = Consistency(ConsistencyMode.FULLY_CONSISTENT)


def rel(text: str) -> Relationship:
    return parse_relationship(text)


def up(op: Operation, *texts: str) -> list[RelationshipUpdate]:
    return [RelationshipUpdate(op, rel(t)) for t in texts]


async def read(store: TupleStore, flt: RelationshipFilter | None = None, **kwargs: Any) -> list[str]:
    revision = await store.resolve(FRESH)
    return [str(r) async for r in store.query(flt or RelationshipFilter(), revision=revision, **kwargs)]


async def snapshot(store: TupleStore) -> tuple[int, list[str]]:
    return (await store.head_revision()).value, await read(store)


async def test_create_then_read_back_every_shape(store: TupleStore) -> None:
    future = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    texts = [
        "doc:1#viewer@user:tom",
        "doc:1#viewer@team:eng#member",
        "doc:1#viewer@user:*",
        'doc:2#editor@user:ann[ip_ok:{"cidr":"10.0.0.0/8","n":1}]',
        f"doc:3#owner@agent:a7[expiration:{future.isoformat().replace('+00:00', 'Z')}]",
        "tenant/doc:x|y=1#viewer@user:tom",
    ]
    result = await store.write(up(Operation.CREATE, *texts))
    assert result.count == len(texts)
    assert result.revision.value == 1
    assert sorted(await read(store)) == sorted(str(rel(t)) for t in texts)
    got = {str(r): r async for r in store.query(RelationshipFilter("doc", ("2",)), revision=result.revision)}
    (caveated,) = got.values()
    assert caveated.caveat == CaveatRef("ip_ok", {"cidr": "10.0.0.0/8", "n": 1})
    expiring = [r async for r in store.query(RelationshipFilter("doc", ("3",)), revision=result.revision)]
    assert expiring[0].expires_at == future


async def test_create_of_a_live_relationship_is_refused_and_writes_nothing(store: TupleStore) -> None:
    await store.write(up(Operation.CREATE, "doc:1#viewer@user:tom"))
    before = await snapshot(store)
    with pytest.raises(DuplicateRelationshipError, match="doc:1#viewer@user:tom"):
        await store.write(up(Operation.CREATE, "doc:2#viewer@user:tom", "doc:1#viewer@user:tom"))
    assert await snapshot(store) == before


async def test_touch_replaces_caveat_and_is_idempotent(store: TupleStore) -> None:
    await store.write(up(Operation.TOUCH, "doc:1#viewer@user:tom[c1]"))
    await store.write(up(Operation.TOUCH, 'doc:1#viewer@user:tom[c2:{"a":2}]'))
    result = await store.write(up(Operation.TOUCH, 'doc:1#viewer@user:tom[c2:{"a":2}]'))
    assert result.count == 1
    assert await read(store) == ['doc:1#viewer@user:tom[c2:{"a":2}]']


async def test_delete_removes_and_deleting_nothing_is_a_no_op(store: TupleStore) -> None:
    await store.write(up(Operation.CREATE, "doc:1#viewer@user:tom", "doc:1#viewer@user:ann"))
    result = await store.write(up(Operation.DELETE, "doc:1#viewer@user:tom", "doc:9#viewer@user:nobody"))
    assert result.count == 1
    assert await read(store) == ["doc:1#viewer@user:ann"]
    again = await store.write(up(Operation.DELETE, "doc:1#viewer@user:tom"))
    assert again.count == 0
    assert await read(store) == ["doc:1#viewer@user:ann"]


async def test_mixed_write_is_applied_in_one_revision(store: TupleStore) -> None:
    await store.write(up(Operation.CREATE, "doc:1#viewer@user:tom"))
    result = await store.write(
        [
            RelationshipUpdate(Operation.DELETE, rel("doc:1#viewer@user:tom")),
            RelationshipUpdate(Operation.CREATE, rel("doc:1#viewer@user:ann")),
            RelationshipUpdate(Operation.TOUCH, rel("doc:1#editor@user:ann")),
        ]
    )
    assert result.revision.value == 2
    assert await read(store) == ["doc:1#editor@user:ann", "doc:1#viewer@user:ann"]


async def test_preconditions(store: TupleStore) -> None:
    await store.write(up(Operation.CREATE, "doc:1#owner@user:tom"))
    must_match = Precondition(PreconditionKind.MUST_MATCH, RelationshipFilter("doc", ("1",), "owner"))
    must_not = Precondition(PreconditionKind.MUST_NOT_MATCH, RelationshipFilter("doc", ("1",), "banned"))
    ok = await store.write(up(Operation.CREATE, "doc:1#viewer@user:ann"), [must_match, must_not])
    assert ok.count == 1
    before = await snapshot(store)
    failing = [
        Precondition(
            PreconditionKind.MUST_MATCH, RelationshipFilter("doc", ("1",), "owner", "user", ("bob",))
        ),
        Precondition(PreconditionKind.MUST_NOT_MATCH, RelationshipFilter("doc", ("1",), "owner")),
    ]
    for precondition in failing:
        with pytest.raises(PreconditionFailedError):
            await store.write(up(Operation.CREATE, "doc:1#viewer@user:eve"), [precondition])
        with pytest.raises(PreconditionFailedError):
            await store.delete_matching(RelationshipFilter("doc"), [precondition])
    assert await snapshot(store) == before


async def test_oversized_write_is_refused_whole(store_factory: Any, store_kind: str) -> None:
    async with store_factory(store_kind, max_updates_per_write=3) as store:
        await store.write(up(Operation.CREATE, "doc:0#viewer@user:tom"))
        before = await snapshot(store)
        with pytest.raises(LimitExceededError) as info:
            await store.write(up(Operation.CREATE, *(f"doc:{i}#viewer@user:ann" for i in range(4))))
        assert info.value.limit == "MAX_UPDATES_PER_WRITE"
        assert info.value.maximum == 3
        assert info.value.actual == 4
        assert await snapshot(store) == before
        done = await store.write(up(Operation.CREATE, *(f"doc:{i}#viewer@user:ann" for i in range(3))))
        assert done.count == 3


async def test_oversized_caveat_context_and_repeated_keys_write_nothing(store: TupleStore) -> None:
    before = await snapshot(store)
    big = Relationship(
        rel("doc:1#viewer@user:tom").resource,
        "viewer",
        rel("doc:1#viewer@user:tom").subject,
        CaveatRef("c", {"blob": "x" * 70_000}),
    )
    with pytest.raises(LimitExceededError):
        await store.write([RelationshipUpdate(Operation.TOUCH, big)])
    with pytest.raises(InvalidInputError, match="twice"):
        await store.write(up(Operation.TOUCH, "doc:1#viewer@user:tom", "doc:1#viewer@user:tom[c]"))
    assert await snapshot(store) == before


async def test_delete_matching(store: TupleStore) -> None:
    await store.write(
        up(
            Operation.CREATE,
            "doc:1#viewer@user:tom",
            "doc:2#viewer@user:tom",
            "doc:2#viewer@team:eng#member",
            "doc:3#editor@user:tom",
            "folder:1#viewer@user:tom",
        )
    )
    result = await store.delete_matching(RelationshipFilter("doc", relation="viewer", subject_type="user"))
    assert result.count == 2
    assert await read(store) == [
        "doc:2#viewer@team:eng#member",
        "doc:3#editor@user:tom",
        "folder:1#viewer@user:tom",
    ]
    limited = await store.delete_matching(
        RelationshipFilter(subject_type="user", subject_ids=("tom",)), limit=1
    )
    assert limited.count == 1
    assert await read(store) == ["doc:2#viewer@team:eng#member", "folder:1#viewer@user:tom"]
    with pytest.raises(InvalidInputError):
        await store.delete_matching(RelationshipFilter())
    with pytest.raises(InvalidInputError):
        await store.delete_matching(RelationshipFilter(resource_ids=("1",)))
    assert await read(store) == ["doc:2#viewer@team:eng#member", "folder:1#viewer@user:tom"]


async def test_query_filters_order_cursor_and_limit(store: TupleStore) -> None:
    texts = [f"doc:{i}#viewer@user:u{i % 3}" for i in range(12)]
    texts += ["doc:1#viewer@team:eng#member", "doc:1#viewer@team:eng", "doc:1#parent@folder:f"]
    await store.write(up(Operation.CREATE, *texts))
    everything = await read(store)
    assert everything == [str(r) for r in sorted((rel(t) for t in texts), key=Relationship.key)]
    batched = await read(store, RelationshipFilter("doc", ("1", "4", "nope"), "viewer"))
    assert batched == [
        "doc:1#viewer@team:eng",
        "doc:1#viewer@team:eng#member",
        "doc:1#viewer@user:u1",
        "doc:4#viewer@user:u1",
    ]
    reverse = await read(store, RelationshipFilter(subject_type="user", subject_ids=("u0", "u2")))
    assert reverse == sorted(t for t in texts if t.endswith(("u0", "u2")))
    plain = await read(store, RelationshipFilter("doc", ("1",), subject_type="team", subject_relation=None))
    assert plain == ["doc:1#viewer@team:eng"]
    member = await read(
        store, RelationshipFilter("doc", ("1",), subject_type="team", subject_relation="member")
    )
    assert member == ["doc:1#viewer@team:eng#member"]
    # cursor pagination walks everything exactly once, in order
    revision = await store.resolve(FRESH)
    pages: list[str] = []
    after = None
    for _ in range(20):
        page = [r async for r in store.query(RelationshipFilter(), revision=revision, limit=4, after=after)]
        if not page:
            break
        pages += [str(r) for r in page]
        after = page[-1]
    assert pages == everything
    with pytest.raises(InvalidInputError):
        await read(store, RelationshipFilter(resource_ids=("1",)))


async def test_query_larger_than_one_page(store: TupleStore) -> None:
    rels = [rel(f"doc:{i:05d}#viewer@user:tom") for i in range(2500)]
    result = await store.bulk_import(rels)
    got = [r async for r in store.query(RelationshipFilter("doc"), revision=result.revision)]
    assert [str(r) for r in got] == [str(r) for r in rels]
    limited = [r async for r in store.query(RelationshipFilter("doc"), revision=result.revision, limit=1500)]
    assert len(limited) == 1500

"""The change log: every write (deletes too) is readable since a revision; followers are woken."""

from __future__ import annotations

import asyncio

import pytest

from rebac.errors import RevisionUnavailableError
from rebac.refs import parse_relationship
from rebac.store.base import Change, Operation, RelationshipFilter, RelationshipUpdate, TupleStore
from rebac.store.revision import Revision

pytestmark = pytest.mark.integration


def up(op: Operation, *texts: str) -> list[RelationshipUpdate]:
    return [RelationshipUpdate(op, parse_relationship(t)) for t in texts]


def summary(changes: list[Change]) -> list[tuple[int, str, str]]:
    return [(c.revision.value, c.operation.value, str(c.relationship)) for c in changes]


async def test_changes_since_reports_touches_and_deletes_in_order(store: TupleStore) -> None:
    await store.write(up(Operation.CREATE, "doc:1#viewer@user:a", "doc:1#viewer@user:b"))
    await store.write(up(Operation.TOUCH, "doc:1#viewer@user:a[c]"))
    await store.write(up(Operation.DELETE, "doc:1#viewer@user:b", "doc:9#viewer@user:absent"))
    await store.delete_matching(RelationshipFilter("doc"))
    changes = await store.changes_since(Revision(0))
    assert summary(changes) == [
        (1, "touch", "doc:1#viewer@user:a"),
        (1, "touch", "doc:1#viewer@user:b"),
        (2, "touch", "doc:1#viewer@user:a[c]"),
        (3, "delete", "doc:1#viewer@user:b"),
        (4, "delete", "doc:1#viewer@user:a[c]"),
    ]
    assert all(c.committed_at.tzinfo is not None for c in changes)
    assert summary(await store.changes_since(Revision(2))) == summary(changes[3:])
    assert await store.changes_since(Revision(4)) == []


async def test_changes_since_returns_whole_revisions(store: TupleStore) -> None:
    await store.write(up(Operation.CREATE, "doc:1#viewer@user:a", "doc:2#viewer@user:a"))
    await store.write(
        up(Operation.CREATE, "doc:3#viewer@user:a", "doc:4#viewer@user:a", "doc:5#viewer@user:a")
    )
    first = await store.changes_since(Revision(0), limit=3)
    assert [c.revision.value for c in first] == [1, 1]
    second = await store.changes_since(first[-1].revision, limit=1)
    assert [c.revision.value for c in second] == [2, 2, 2]  # one revision may exceed the limit


async def test_changes_since_a_future_revision_is_empty_and_gcd_one_refused(store: TupleStore) -> None:
    await store.write(up(Operation.CREATE, "doc:1#viewer@user:a"))
    assert await store.changes_since(Revision(5)) == []
    await store.write(up(Operation.DELETE, "doc:1#viewer@user:a"))
    await store.gc(older_than_seconds=0)
    with pytest.raises(RevisionUnavailableError):
        await store.changes_since(Revision(0))


async def test_wait_for_revision(store: TupleStore) -> None:
    head = await store.head_revision()
    assert await store.wait_for_revision(head, timeout=0.01)
    assert not await store.wait_for_revision(Revision(head.value + 1), timeout=0.05)
    waiter = asyncio.create_task(store.wait_for_revision(Revision(head.value + 1), timeout=30))
    await asyncio.sleep(0)  # let the waiter start listening
    result = await store.write(up(Operation.CREATE, "doc:1#viewer@user:a"))
    assert result.revision.value == head.value + 1
    assert await asyncio.wait_for(waiter, timeout=30)

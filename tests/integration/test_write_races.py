"""The two races between schema writes and relationship writes, closed (on every store engine).

1. ``write_schema``'s orphan scan reads a snapshot without blocking writers; a relationship that
   commits after that snapshot but before the schema is checked again under the writer lock.
2. A relationship write commits only while the schema version it was validated against is current;
   when the schema changed in between, it is validated again against the new one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from rebac.config import Settings
from rebac.errors import SchemaVersionConflictError, UnknownRelationError, UnsafeSchemaChangeError
from rebac.refs import parse_relationship
from rebac.services.core import Services
from rebac.services.schemas import write_schema
from rebac.store.base import Operation, RelationshipFilter, RelationshipUpdate, SchemaVersion, TupleStore

pytestmark = pytest.mark.integration

V1 = """definition user {}
definition doc {
    relation viewer: user
    relation legacy: user
}
"""
V2 = """definition user {}
definition doc {
    relation viewer: user
}
"""


def touch(text: str) -> RelationshipUpdate:
    return RelationshipUpdate(Operation.TOUCH, parse_relationship(text))


class WriteInTheWindow:
    """A real store whose ``write_schema`` lets one relationship write land first.

    That is the window of the race: after the orphan scan of the snapshot, before the version is
    stored. Everything else is the store itself.
    """

    def __init__(self, store: TupleStore, update: RelationshipUpdate) -> None:
        self._store = store
        self._update = update

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def write_schema(
        self,
        text: str,
        *,
        author: str,
        expected_version: int | None = None,
        verify: Callable[[], Awaitable[None]] | None = None,
    ) -> SchemaVersion:
        await self._store.write([self._update])
        return await self._store.write_schema(
            text, author=author, expected_version=expected_version, verify=verify
        )


async def test_a_relationship_written_after_the_orphan_scan_is_still_refused(store: TupleStore) -> None:
    await write_schema(store, V1, author="t")
    racing = WriteInTheWindow(store, touch("doc:1#legacy@user:tom"))
    with pytest.raises(UnsafeSchemaChangeError) as caught:
        await write_schema(racing, V2, author="t")
    assert caught.value.details["relationships"] == [
        {"relationship": "doc:1#legacy@user:tom", "reason": "relation 'legacy' is not defined on 'doc'"}
    ]
    current = await store.current_schema()
    assert current is not None
    assert current.version == 1  # nothing was written


async def test_a_relationship_written_and_deleted_in_the_window_does_not_block(store: TupleStore) -> None:
    await write_schema(store, V1, author="t")
    rel = parse_relationship("doc:1#legacy@user:tom")
    await store.write([RelationshipUpdate(Operation.TOUCH, rel)])
    await store.write([RelationshipUpdate(Operation.DELETE, rel)])
    racing = WriteInTheWindow(store, touch("doc:2#viewer@user:ann"))
    version = await write_schema(racing, V2, author="t")
    assert version.version == 2


async def test_the_store_refuses_a_write_checked_against_another_schema_version(store: TupleStore) -> None:
    await write_schema(store, V1, author="t")
    await write_schema(store, V2, author="t")
    with pytest.raises(SchemaVersionConflictError):
        await store.write([touch("doc:1#legacy@user:tom")], schema_version=1)
    result = await store.write([touch("doc:1#viewer@user:tom")], schema_version=2)
    found = [r async for r in store.query(RelationshipFilter(resource_type="doc"), revision=result.revision)]
    assert [str(r) for r in found] == ["doc:1#viewer@user:tom"]


async def test_a_write_validated_against_an_old_schema_is_validated_again(store: TupleStore) -> None:
    services = Services(store, Settings(), schema_refresh_seconds=3600)
    await services.schemas.write(V1, author="t")
    stale = await services.engines.current()  # validated against version 1 ...
    await write_schema(store, V2, author="t")  # ... which another process replaces
    with pytest.raises(UnknownRelationError):
        await services.relationships.write(stale, [touch("doc:1#legacy@user:tom")])
    head = await store.head_revision()
    assert [r async for r in store.query(RelationshipFilter(resource_type="doc"), revision=head)] == []
    # a write that conforms to the new schema goes through, against the new version
    result = await services.relationships.write(stale, [touch("doc:1#viewer@user:tom")])
    assert result.count == 1

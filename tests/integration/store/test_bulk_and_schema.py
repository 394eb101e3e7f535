"""Bulk import (atomic), NDJSON export/import round trip, and schema versions."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rebac.errors import (
    DuplicateRelationshipError,
    SchemaVersionConflictError,
    SchemaVersionNotFoundError,
)
from rebac.refs import parse_relationship
from rebac.services.interchange import ImportLineError, encode_lines, parse_lines
from rebac.store.base import (
    Consistency,
    ConsistencyMode,
    Operation,
    RelationshipFilter,
    RelationshipUpdate,
    TupleStore,
)

pytestmark = pytest.mark.integration

FRESH = Consistency(ConsistencyMode.FULLY_CONSISTENT)


async def snapshot(store: TupleStore) -> tuple[int, list[str]]:
    revision = await store.resolve(FRESH)
    return revision.value, [str(r) async for r in store.query(RelationshipFilter(), revision=revision)]


async def test_import_export_round_trip(store_factory: Any, store_kind: str) -> None:
    future = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    texts = [f"doc:{i}#viewer@user:u{i}" for i in range(300)] + [
        "doc:1#viewer@team:eng#member",
        "doc:1#viewer@user:*",
        'doc:2#viewer@user:x[ip:{"allowed":["10.0.0.0/8"],"n":1.5}]',
        f"doc:3#viewer@user:y[c][expiration:{future.isoformat().replace('+00:00', 'Z')}]",
    ]
    async with store_factory(store_kind) as source:
        result = await source.bulk_import(parse_lines(texts))
        assert result.loaded == result.position == len(texts)
        exported = [
            line async for line in encode_lines(source.query(RelationshipFilter(), revision=result.revision))
        ]
        _, expected = await snapshot(source)
    assert all(json.loads(line).keys() == {"relationship"} for line in exported)
    async with store_factory(store_kind) as target:
        again = await target.bulk_import(parse_lines(exported))
        assert again.loaded == len(texts)
        assert (await snapshot(target))[1] == expected


async def test_import_is_atomic(store: TupleStore) -> None:
    await store.write([RelationshipUpdate(Operation.CREATE, parse_relationship("doc:1#viewer@user:a"))])
    before = await snapshot(store)
    with pytest.raises(DuplicateRelationshipError):
        await store.bulk_import(parse_lines(["doc:2#viewer@user:a", "doc:1#viewer@user:a"]))
    with pytest.raises(DuplicateRelationshipError):
        await store.bulk_import(parse_lines(["doc:3#viewer@user:a", "doc:3#viewer@user:a"]))
    lines = [
        "doc:4#viewer@user:a",
        "",
        "// comment",
        '{"relationship": "doc:5#viewer@user:a"}',
        "doc:6#viewer@",
    ]
    with pytest.raises(ImportLineError) as info:
        await store.bulk_import(parse_lines(lines))
    assert info.value.line == 5
    assert "line 5" in str(info.value)
    assert (await snapshot(store))[1] == before[1]


async def test_import_over_an_expired_relationship(store: TupleStore) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    await store.write(
        [RelationshipUpdate(Operation.CREATE, parse_relationship(f"doc:1#viewer@user:a[expiration:{past}]"))]
    )
    result = await store.bulk_import(parse_lines(["doc:1#viewer@user:a"]))
    assert result.loaded == 1
    assert (await snapshot(store))[1] == ["doc:1#viewer@user:a"]


async def test_schema_versions(store: TupleStore) -> None:
    assert await store.current_schema() is None
    assert await store.schema_history() == []
    v1 = await store.write_schema("definition user {}", author="alice")
    v2 = await store.write_schema("definition user {}\ndefinition doc {}", author="bob")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.hash == hashlib.sha256(b"definition user {}").hexdigest()
    assert v2.revision > v1.revision
    assert v1.created_at <= v2.created_at
    assert await store.current_schema() == v2
    assert await store.schema_version(1) == v1
    assert [v.version for v in await store.schema_history()] == [1, 2]
    assert (await store.schema_history())[0].author == "alice"
    with pytest.raises(SchemaVersionNotFoundError):
        await store.schema_version(3)
    with pytest.raises(SchemaVersionNotFoundError):
        await store.schema_version(0)
    for out_of_range in (2**31, 51_051_327_507_727, -(2**40)):  # beyond the version column
        with pytest.raises(SchemaVersionNotFoundError):
            await store.schema_version(out_of_range)


async def test_import_against_a_schema_version_that_is_no_longer_current(store: TupleStore) -> None:
    await store.bulk_import(parse_lines(["doc:0#viewer@user:a"]), schema_version=0)
    await store.write_schema("definition user {}", author="alice")
    before = await snapshot(store)
    with pytest.raises(SchemaVersionConflictError) as info:
        await store.bulk_import(parse_lines(["doc:1#viewer@user:a"]), schema_version=0)
    assert (info.value.expected, info.value.actual) == (0, 1)
    assert (await snapshot(store))[1] == before[1]
    result = await store.bulk_import(parse_lines(["doc:1#viewer@user:a"]), schema_version=1)
    assert result.loaded == 1

"""``Checks.decide(schema_version=)``: a check pinned to a stored schema version (DESIGN §2)."""

from __future__ import annotations

import pytest

from rebac.config import Settings
from rebac.errors import SchemaVersionNotFoundError
from rebac.refs import parse_object, parse_relationship, parse_subject
from rebac.services.core import Services
from rebac.store.base import Consistency, ConsistencyMode, Operation, RelationshipUpdate, TupleStore

pytestmark = pytest.mark.integration

STRICT = """definition user {}
definition doc {
    relation viewer: user
    relation banned: user
    permission view = viewer - banned
}
"""
LENIENT = STRICT.replace("viewer - banned", "viewer")
CHECK = (parse_object("doc:1"), "view", parse_subject("user:bob"))


async def test_decide_pins_a_version(store: TupleStore) -> None:
    services = Services(store, Settings(), schema_refresh_seconds=0)
    await services.schemas.write(STRICT, author="t")
    rels = ["doc:1#viewer@user:bob", "doc:1#banned@user:bob"]
    await store.write([RelationshipUpdate(Operation.TOUCH, parse_relationship(r)) for r in rels])
    await services.schemas.write(LENIENT, author="t")
    current = await services.engines.current()
    revision = await services.checks.revision(current, Consistency(ConsistencyMode.FULLY_CONSISTENT))
    now = await services.checks.decide(current, None, "check", revision, CHECK)
    pinned = await services.checks.decide(current, None, "check", revision, CHECK, schema_version=1)
    assert now.result.allowed
    assert not pinned.result.allowed
    with pytest.raises(SchemaVersionNotFoundError):
        await services.checks.decide(current, None, "check", revision, CHECK, schema_version=7)


async def test_pinned_engines_are_kept_per_version_and_bounded(store: TupleStore) -> None:
    services = Services(store, Settings(), schema_refresh_seconds=0)
    for n in range(1, 8):
        await services.schemas.write(f"definition extra{n} {{}}\n{STRICT}", author="t")
    first = await services.engines.pinned(1)
    again = await services.engines.pinned(1)
    assert first.engine is again.engine  # built once, then kept
    for n in range(1, 8):
        pinned = await services.engines.pinned(n)
        assert pinned.version.version == n
        assert f"extra{n}" in pinned.engine.model.schema.definitions
    # the oldest engines were dropped (a few are kept) and are rebuilt on demand
    assert (await services.engines.pinned(1)).engine is not first.engine

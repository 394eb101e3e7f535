"""Schema versions in the store, on both engines: immutable versions, history, diff, and writes
that are refused when they would orphan stored relationships (unless forced)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rebac.errors import (
    ConflictError,
    SchemaError,
    SchemaVersionConflictError,
    SchemaVersionNotFoundError,
    UnsafeSchemaChangeError,
)
from rebac.refs import Relationship, parse_relationship
from rebac.services.schemas import MAX_LISTED_ORPHANS, diff_versions, write_schema
from rebac.store.base import RelationshipFilter, SchemaVersion, TupleStore
from rebac.store.revision import Revision

pytestmark = pytest.mark.integration

BASE = """use expiration

caveat ip_ok(allowed string, n int) {
    n > 1 && allowed != ""
}

definition user {}

definition bot {}

definition team {
    relation member: user
}

definition folder {
    relation owner: user
}

definition doc {
    relation viewer: user | team#member | bot
    relation editor: user with ip_ok
    relation guest: user with expiration
    relation legacy: user
    permission view = viewer + editor + guest
}
"""

TOMORROW = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat().replace("+00:00", "Z")

STORED = [
    "doc:1#viewer@user:ann",
    "doc:1#viewer@team:eng#member",
    "doc:1#viewer@bot:b1",
    'doc:1#editor@user:ann[ip_ok:{"allowed":"10.0.0.0/8"}]',
    'doc:2#editor@user:bob[ip_ok:{"n":3}]',
    f"doc:1#guest@user:cat[expiration:{TOMORROW}]",
    "doc:1#legacy@user:dan",
    "folder:f#owner@user:ann",
    "team:eng#member@user:ann",
]


def change(*pairs: tuple[str, str]) -> str:
    text = BASE
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    return text


async def load(store: TupleStore, lines: list[str]) -> None:
    await store.bulk_import(parse_relationship(line) for line in lines)


async def stored(store: TupleStore) -> list[Relationship]:
    revision = await store.head_revision()
    return [rel async for rel in store.query(RelationshipFilter(), revision=revision)]


@pytest.fixture
async def seeded(store: TupleStore) -> tuple[TupleStore, SchemaVersion]:
    """The store with BASE as version 1 (author alice) and the STORED relationships."""
    v1 = await write_schema(store, BASE, author="alice")
    await load(store, STORED)
    return store, v1


async def refused(store: TupleStore, text: str, v1: SchemaVersion) -> UnsafeSchemaChangeError:
    """Write ``text`` unforced; assert it is refused and nothing was written; return the error."""
    head = await store.head_revision()
    with pytest.raises(UnsafeSchemaChangeError) as info:
        await write_schema(store, text, author="bob")
    assert await store.current_schema() == v1
    assert [v.version for v in await store.schema_history()] == [1]
    assert await store.head_revision() == head
    return info.value


def named(error: UnsafeSchemaChangeError) -> list[str]:
    return [entry["relationship"] for entry in error.details["relationships"]]


# --- versions ------------------------------------------------------------------------------------


async def test_every_write_is_a_new_immutable_version(store: TupleStore) -> None:
    assert await store.current_schema() is None
    before = datetime.now(UTC) - timedelta(seconds=5)
    v1 = await write_schema(store, BASE, author="alice")
    v2 = await write_schema(store, BASE, author="cli")  # the same text again is still a new version
    third = change(("relation legacy: user", "relation legacy: user\n    relation owner: user"))
    v3 = await write_schema(store, third, author="key-7")
    assert [v.version for v in (v1, v2, v3)] == [1, 2, 3]
    assert [v.author for v in (v1, v2, v3)] == ["alice", "cli", "key-7"]
    assert v1.hash == v2.hash == hashlib.sha256(BASE.encode()).hexdigest()
    assert v3.hash == hashlib.sha256(third.encode()).hexdigest()
    assert v1.text == BASE
    assert v3.text == third
    assert before <= v1.created_at <= v2.created_at <= v3.created_at <= datetime.now(UTC)
    assert v1.created_at.tzinfo is not None
    assert v1.revision < v2.revision < v3.revision
    assert await store.current_schema() == v3
    # history in order, each version readable and unchanged by later writes
    assert await store.schema_history() == [v1, v2, v3]
    assert await store.schema_version(1) == v1
    assert (await store.schema_version(1)).text == BASE
    assert (await store.schema_version(3)).text == third
    for missing in (0, 4, -1):
        with pytest.raises(SchemaVersionNotFoundError):
            await store.schema_version(missing)


async def test_a_schema_that_does_not_compile_writes_nothing(store: TupleStore) -> None:
    v1 = await write_schema(store, BASE, author="alice")
    with pytest.raises(SchemaError):
        await write_schema(store, "definition doc { relation r: nosuchtype }", author="bob", force=True)
    assert await store.schema_history() == [v1]


async def test_diff_between_versions(store: TupleStore) -> None:
    v1 = await write_schema(store, BASE, author="alice")
    v2 = await write_schema(
        store,
        change(("relation guest: user with expiration", "relation guest: user | user with expiration")),
        author="bob",
    )
    diff = diff_versions(v1, v2)
    assert (diff.old_label, diff.new_label) == ("version 1", "version 2")
    lines = diff.unified.splitlines()
    assert lines[:2] == ["--- version 1", "+++ version 2"]
    assert "-    relation guest: user with expiration" in lines
    assert "+    relation guest: user | user with expiration" in lines
    assert sum(1 for line in lines if line.startswith(("+ ", "- ", "+\t", "-\t", "+    ", "-    "))) == 2
    assert diff_versions(v1, v1).unified == ""
    assert diff_versions(v2, v1).unified.splitlines()[:2] == ["--- version 2", "+++ version 1"]


def test_diff_of_texts_without_final_newline() -> None:
    at = datetime.now(UTC)
    old = SchemaVersion(1, "definition a {}", "h1", "x", at)
    new = SchemaVersion(2, "definition a {}\ndefinition b {}", "h2", "x", at)
    assert diff_versions(old, new).unified.splitlines()[2:] == [
        "@@ -1 +1,2 @@",
        " definition a {}",
        "+definition b {}",
    ]


# --- unsafe changes are refused, naming the offenders ---------------------------------------------

UNSAFE = {
    "removed relation in use": (
        change(("    relation legacy: user\n", "")),
        ["doc:1#legacy@user:dan"],
        "relation 'legacy' is not defined",
    ),
    "removed resource type in use": (
        change(("definition folder {\n    relation owner: user\n}\n", "")),
        ["folder:f#owner@user:ann"],
        "object type 'folder' is not defined",
    ),
    "removed subject type in use": (
        change(("definition bot {}\n", ""), ("user | team#member | bot", "user | team#member")),
        ["doc:1#viewer@bot:b1"],
        "subject type 'bot' is not defined",
    ),
    "narrowed subject types": (
        change(("user | team#member | bot", "user | bot")),
        ["doc:1#viewer@team:eng#member"],
        "is not allowed on doc#viewer",
    ),
    "removed caveat option": (
        change(("relation editor: user with ip_ok", "relation editor: user")),
        ['doc:1#editor@user:ann[ip_ok:{"allowed":"10.0.0.0/8"}]', 'doc:2#editor@user:bob[ip_ok:{"n":3}]'],
        "caveat 'ip_ok'",
    ),
    "removed with expiration": (
        change(("relation guest: user with expiration", "relation guest: user")),
        [f"doc:1#guest@user:cat[expiration:{TOMORROW}]"],
        "with an expiration is not allowed",
    ),
    "caveat parameter removed": (
        change(("ip_ok(allowed string, n int)", "ip_ok(n int)"), (' && allowed != ""', "")),
        ['doc:1#editor@user:ann[ip_ok:{"allowed":"10.0.0.0/8"}]'],  # bob's context only sets n
        "has no parameter(s) allowed",
    ),
    "caveat parameter type changed": (
        change(("ip_ok(allowed string, n int)", "ip_ok(allowed string, n string)"), ("n > 1", 'n != "1"')),
        ['doc:2#editor@user:bob[ip_ok:{"n":3}]'],  # ann's context does not set n
        "expects string",
    ),
}


@pytest.mark.parametrize("case", list(UNSAFE), ids=list(UNSAFE))
async def test_unsafe_change_is_refused_then_forced(
    seeded: tuple[TupleStore, SchemaVersion], case: str
) -> None:
    store, v1 = seeded
    text, offenders, reason = UNSAFE[case]
    error = await refused(store, text, v1)
    assert isinstance(error, ConflictError)
    assert named(error) == offenders
    assert error.details["count"] == len(offenders)
    assert all(reason in entry["reason"] for entry in error.details["relationships"]), error.details
    assert offenders[0] in str(error)
    # the same change with force is recorded as a new version; the relationships stay stored
    before = await stored(store)
    v2 = await write_schema(store, text, author="bob", force=True)
    assert (v2.version, v2.author, v2.text) == (2, "bob", text)
    assert await store.current_schema() == v2
    assert await store.schema_history() == [v1, v2]
    assert await stored(store) == before


SAFE = {
    "adding a relation": change(("relation legacy: user", "relation legacy: user\n    relation owner: user")),
    "adding a type": BASE + "\ndefinition tool {\n    relation user: user\n}\n",
    "widening subject types": change(
        ("user | team#member | bot", "user | user:* | team#member | bot | folder")
    ),
    "adding a caveat option": change(("relation legacy: user", "relation legacy: user | user with ip_ok")),
    "adding an expiration option": change(
        ("relation legacy: user", "relation legacy: user | user with expiration")
    ),
    "adding a caveat parameter": change(
        ("ip_ok(allowed string, n int)", "ip_ok(allowed string, n int, m int)")
    ),
    "changing a caveat expression": change(("n > 1", "n > 2")),
    "changing permissions": change(("permission view = viewer + editor + guest", "permission view = viewer")),
    "reordering": change(("user | team#member | bot", "bot | team#member | user")),
    "widening a subject relation to its type": change(("team#member | bot", "team#member | team | bot")),
}


@pytest.mark.parametrize("case", list(SAFE), ids=list(SAFE))
async def test_safe_change_is_accepted(seeded: tuple[TupleStore, SchemaVersion], case: str) -> None:
    store, v1 = seeded
    v2 = await write_schema(store, SAFE[case], author="bob")
    assert v2.version == 2
    assert await store.schema_history() == [v1, v2]


async def test_removing_a_relation_or_type_not_in_use_is_accepted(store: TupleStore) -> None:
    await write_schema(store, BASE, author="alice")
    await load(store, ["doc:1#viewer@user:ann"])
    text = change(
        ("    relation legacy: user\n", ""), ("definition folder {\n    relation owner: user\n}\n", "")
    )
    assert (await write_schema(store, text, author="bob")).version == 2


async def test_deleted_and_expired_relationships_do_not_block(store: TupleStore) -> None:
    await write_schema(store, BASE, author="alice")
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    await load(store, ["doc:1#legacy@user:dan", f"doc:1#guest@user:cat[expiration:{soon}]"])
    text = change(
        ("    relation legacy: user\n", ""), ("relation guest: user with expiration", "relation guest: user")
    )
    with pytest.raises(UnsafeSchemaChangeError) as info:
        await write_schema(store, text, author="bob")
    assert info.value.details["count"] == 2
    await store.delete_matching(RelationshipFilter(resource_type="doc", relation="legacy"))
    # The expiring one (1 s) must lapse on the wall clock; poll, bounded, instead of a raced sleep.
    left = None
    for _ in range(200):
        try:
            written = await write_schema(store, text, author="bob")
            break
        except UnsafeSchemaChangeError as exc:
            left = exc.details["count"]
        assert left == 1  # only the expiring relationship is left
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the expiring relationship never lapsed")
    assert written.version == 2


async def test_more_than_a_hundred_offenders_lists_a_hundred_and_counts_all(store: TupleStore) -> None:
    v1 = await write_schema(store, BASE, author="alice")
    await load(store, [f"doc:d{i:03}#legacy@user:u{i}" for i in range(150)] + ["doc:x#viewer@bot:b"])
    text = change(("    relation legacy: user\n", ""), ("definition bot {}\n", ""), ("| bot", ""))
    error = await refused(store, text, v1)
    assert error.details["count"] == 151
    assert len(error.details["relationships"]) == MAX_LISTED_ORPHANS == 100
    assert len(set(named(error))) == 100
    assert "151 stored relationship(s)" in str(error)
    assert "and 148 more" in str(error)


async def test_relationships_orphaned_by_a_forced_write_do_not_block_later_changes(
    seeded: tuple[TupleStore, SchemaVersion],
) -> None:
    store, _ = seeded
    narrowed = change(("user | team#member | bot", "user | bot"))
    await write_schema(store, narrowed, author="bob", force=True)
    # The team subjects were orphaned by the forced write, so they do not block widening doc#viewer.
    widened = narrowed.replace("user | bot", "user | user:* | bot")
    assert (await write_schema(store, widened, author="bob")).version == 3
    # ...but a change that orphans a conforming relationship still is, naming only that one
    error = await refused_at(store, widened.replace("user | user:* | bot", "user:* | bot"))
    assert named(error) == ["doc:1#viewer@user:ann"]


async def refused_at(store: TupleStore, text: str) -> UnsafeSchemaChangeError:
    current = await store.current_schema()
    with pytest.raises(UnsafeSchemaChangeError) as info:
        await write_schema(store, text, author="bob")
    assert await store.current_schema() == current
    return info.value


async def test_first_schema_checks_relationships_stored_before_it(store: TupleStore) -> None:
    await load(store, ["doc:1#viewer@user:ann", "doc:1#owner@user:ann", "tool:t#user@user:ann"])
    with pytest.raises(UnsafeSchemaChangeError) as info:
        await write_schema(store, BASE, author="alice")
    assert named(info.value) == ["doc:1#owner@user:ann", "tool:t#user@user:ann"]
    assert await store.current_schema() is None
    assert (await write_schema(store, BASE, author="alice", force=True)).version == 1


# --- concurrent schema writes ---------------------------------------------------------------------


async def test_store_compare_and_set(store: TupleStore) -> None:
    with pytest.raises(SchemaVersionConflictError):
        await store.write_schema(BASE, author="a", expected_version=1)
    v1 = await store.write_schema(BASE, author="a", expected_version=0)
    head = await store.head_revision()
    with pytest.raises(SchemaVersionConflictError) as info:
        await store.write_schema(BASE, author="b", expected_version=0)
    assert (info.value.expected, info.value.actual) == (0, 1)
    assert await store.schema_history() == [v1]
    assert await store.head_revision() == head
    assert (await store.write_schema(BASE, author="b", expected_version=1)).version == 2
    assert (await store.write_schema(BASE, author="c")).version == 3  # None: unconditional


async def test_concurrent_writes_expecting_the_same_version_commit_once(store: TupleStore) -> None:
    await store.write_schema(BASE, author="a")
    results = await asyncio.gather(
        *(store.write_schema(BASE, author=f"w{i}", expected_version=1) for i in range(5)),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, SchemaVersion)]
    lost = [r for r in results if isinstance(r, SchemaVersionConflictError)]
    assert (len(won), len(lost)) == (1, 4), results
    assert [v.version for v in await store.schema_history()] == [1, 2]


class RivalWritesDuringCheck:
    """A real store whose first ``head_revision`` call (the orphan check's snapshot) lets a rival
    schema write commit first, as a concurrent ``write_schema`` would."""

    def __init__(self, inner: TupleStore, rival: str) -> None:
        self._inner = inner
        self._rival: str | None = rival

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def head_revision(self) -> Revision:
        if self._rival is not None:
            text, self._rival = self._rival, None
            await self._inner.write_schema(text, author="rival")
        return await self._inner.head_revision()


async def test_a_schema_write_racing_another_fails_instead_of_overwriting_it(store: TupleStore) -> None:
    await write_schema(store, BASE, author="alice")
    rival = change(("relation legacy: user", "relation legacy: user | bot"))
    racing: Any = RivalWritesDuringCheck(store, rival)
    with pytest.raises(SchemaVersionConflictError):
        await write_schema(racing, change(("    relation legacy: user\n", "")), author="bob")
    assert [(v.version, v.author) for v in await store.schema_history()] == [(1, "alice"), (2, "rival")]


async def test_expected_version_of_the_caller(store: TupleStore) -> None:
    assert (await write_schema(store, BASE, author="a", expected_version=0)).version == 1
    with pytest.raises(SchemaVersionConflictError):
        await write_schema(store, BASE, author="b", expected_version=0)
    with pytest.raises(SchemaVersionConflictError):
        await write_schema(store, BASE, author="b", expected_version=2, force=True)
    assert (await write_schema(store, BASE, author="b", expected_version=1)).version == 2

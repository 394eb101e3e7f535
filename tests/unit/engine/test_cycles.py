# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Data cycles are decided (least fixed point), never depth-exhausted, never cached across requests.

See ``rebac.engine.cycles`` for the fixpoint scopes these tests exercise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from itertools import pairwise

import pytest
from engine_helpers import Clock, make_engine, perm

from rebac.engine import CheckCache, Engine, Permissionship
from rebac.errors import EvaluationError
from rebac.refs import Relationship, parse_object, parse_subject
from rebac.schema import compile_schema
from rebac.store.base import Consistency, RelationshipFilter
from rebac.store.memory import MemoryTupleStore
from rebac.store.revision import Revision

GROUPS = """
definition user {}
definition group {
    relation member: user | group#member
}
"""

FOLDERS = """
definition user {}
definition folder {
    relation parent: folder
    relation viewer: user
    permission view = parent->view + viewer
}
"""

NAMES = "abcdefghijklmnop"


def clique(template: str, n: int) -> list[str]:
    """``template`` formatted for every ordered pair of distinct nodes of an ``n``-clique."""
    ids = NAMES[:n]
    return [template.format(x=x, y=y) for x in ids for y in ids if x != y]


GROUP_EDGE = "group:{x}#member@group:{y}#member"
FOLDER_EDGE = "folder:{x}#parent@folder:{y}"

SHAPES = {
    "usersets": (GROUPS, GROUP_EDGE, "group:{n}#member@user:{u}", "group:{x}#member@user:{u}"),
    "arrows": (FOLDERS, FOLDER_EDGE, "folder:{n}#viewer@user:{u}", "folder:{x}#view@user:{u}"),
}


def assert_cache_clean(cache: CheckCache | None) -> None:
    """No cycle-affected (or provisional) answer ever reaches the cross-request cache."""
    if cache is None:
        return
    for entry in cache._entries.values():
        for result in entry.results.values():
            assert not result.cycle_detected
            assert not result.provisional


@pytest.mark.parametrize("cached", [True, False], ids=["cache", "no-cache"])
@pytest.mark.parametrize("n", [4, 6, 10])
@pytest.mark.parametrize("shape", list(SHAPES))
async def test_clique_is_decided(shape, n, cached):
    schema, edge, grant, probe = SHAPES[shape]
    last = NAMES[n - 1]
    cache = CheckCache() if cached else None
    engine, _ = await make_engine(schema, [*clique(edge, n), grant.format(n=last, u="ann")], cache=cache)
    for x in NAMES[:n]:
        result = await engine.check(*_parts(probe.format(x=x, u="eve")))
        assert result.permissionship is Permissionship.NO_PERMISSION
        assert result.cycle_detected
        assert not result.provisional
        assert await perm(engine, probe.format(x=x, u="ann")) == "yes"
        assert await perm(engine, probe.format(x=x, u="eve")) == "no"  # again: nothing stale served
    assert_cache_clean(cache)


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_clique_without_any_member_denies_everyone(shape):
    schema, edge, _, probe = SHAPES[shape]
    engine, _ = await make_engine(schema, clique(edge, 6), cache=CheckCache())
    for x in NAMES[:6]:
        assert await perm(engine, probe.format(x=x, u="ann")) == "no"


def _parts(text: str):
    left, subject = text.split("@")
    resource, permission = left.split("#")
    return parse_object(resource), permission, parse_subject(subject)


INTERSECTION = """
definition user {}
definition folder {
    relation parent: folder
    relation viewer: user
    relation member: user
    permission view = (parent->view + viewer) & member
}
"""


@pytest.mark.parametrize("cached", [True, False], ids=["cache", "no-cache"])
async def test_cycle_through_intersection(cached):
    cache = CheckCache() if cached else None
    rels = [
        *clique(FOLDER_EDGE, 5),
        *(f"folder:{x}#member@user:ann" for x in "abcde"),
        *(f"folder:{x}#member@user:bob" for x in "abcde"),
        "folder:e#viewer@user:ann",
        "folder:e#viewer@user:carl",
        "folder:e#member@user:carl",
    ]
    engine, _ = await make_engine(INTERSECTION, rels, cache=cache)
    for x in "abcde":
        assert await perm(engine, f"folder:{x}#view@user:ann") == "yes"  # through e, member everywhere
        assert await perm(engine, f"folder:{x}#view@user:bob") == "no"  # member, but never a viewer
        # carl is a member of e only: e grants, every other folder fails the intersection.
        assert await perm(engine, f"folder:{x}#view@user:carl") == ("yes" if x == "e" else "no")
    assert_cache_clean(cache)


EXCLUSION = """
definition user {}
definition group {
    relation member: user | group#member
}
definition folder {
    relation parent: folder
    relation viewer: user
    relation blocked: user | group#member
    permission view = (parent->view + viewer) - blocked
}
"""


@pytest.mark.parametrize("cached", [True, False], ids=["cache", "no-cache"])
async def test_cycles_on_both_sides_of_an_exclusion(cached):
    cache = CheckCache() if cached else None
    rels = [
        *clique(FOLDER_EDGE, 4),
        *clique(GROUP_EDGE, 4),
        "folder:d#viewer@user:ann",
        "folder:d#viewer@user:eve",
        "group:c#member@user:eve",
        "folder:b#blocked@group:a#member",
    ]
    engine, _ = await make_engine(EXCLUSION, rels, cache=cache)
    for x in "abcd":
        assert await perm(engine, f"folder:{x}#view@user:ann") == "yes"
        # eve is in group a (through the group cycle): blocked on b only.
        assert await perm(engine, f"folder:{x}#view@user:eve") == ("no" if x == "b" else "yes")
        assert await perm(engine, f"folder:{x}#view@user:nobody") == "no"
    assert_cache_clean(cache)


async def test_a_blocked_viewer_does_not_leak_through_the_cycle():
    """b is blocked for eve; the others reach eve's grant only through b: all deny."""
    rels = [
        *clique(FOLDER_EDGE, 4),
        "folder:b#viewer@user:eve",
        "folder:b#blocked@user:eve",
    ]
    engine, _ = await make_engine(EXCLUSION, rels, cache=CheckCache())
    for x in "abcd":
        assert await perm(engine, f"folder:{x}#view@user:eve") == "no"


NOT_STRATIFIED = """
definition user {}
definition doc {
    relation viewer: user
    relation banned: doc#view
    permission view = viewer - banned
}
"""


async def test_a_cycle_through_the_subtracted_side_fails_closed():
    """``view = viewer - banned`` with ``banned`` containing ``view`` itself has no least fixed point."""
    rels = [
        "doc:1#viewer@user:tom",
        "doc:2#viewer@user:tom",
        "doc:1#banned@doc:2#view",
        "doc:2#banned@doc:1#view",
    ]
    engine, _ = await make_engine(NOT_STRATIFIED, rels, cache=CheckCache())
    with pytest.raises(EvaluationError) as caught:
        await perm(engine, "doc:1#view@user:tom")
    assert caught.value.details["reason"] == "cycle_through_exclusion"
    # An acyclic exclusion over the same schema is still decided.
    engine, _ = await make_engine(NOT_STRATIFIED, ["doc:1#viewer@user:tom", "doc:1#banned@doc:2#view"])
    assert await perm(engine, "doc:1#view@user:tom") == "yes"


EXPIRING = """
use expiration
definition user {}
definition group {
    relation member: user with expiration | group#member
}
"""


@pytest.mark.parametrize("cached", [True, False], ids=["cache", "no-cache"])
async def test_cycle_with_an_expiring_grant(cached):
    clock = Clock()
    later = clock.now + timedelta(hours=1)
    rels = [*clique(GROUP_EDGE, 5), f"group:e#member@user:ann[expiration:{later.isoformat()}]"]
    cache = CheckCache() if cached else None
    engine, _ = await make_engine(EXPIRING, rels, cache=cache, clock=clock)
    for x in "abcde":
        assert await perm(engine, f"group:{x}#member@user:ann") == "yes"
    clock.now = later
    for x in "abcde":
        assert await perm(engine, f"group:{x}#member@user:ann") == "no"
    assert_cache_clean(cache)


CAVEATED = """
definition user {}
caveat level(required int, actual int) { actual >= required }
definition group {
    relation member: user with level | group#member
}
"""


async def test_cycle_with_a_conditional_grant():
    rels = [*clique(GROUP_EDGE, 4), 'group:d#member@user:ann[level:{"required":3}]']
    engine, _ = await make_engine(CAVEATED, rels, cache=CheckCache())
    for x in "abcd":
        assert await perm(engine, f"group:{x}#member@user:ann") == "caveated"
        assert await perm(engine, f"group:{x}#member@user:ann", {"actual": 5}) == "yes"
        assert await perm(engine, f"group:{x}#member@user:ann", {"actual": 1}) == "no"


async def test_lookups_agree_with_check_on_a_clique():
    engine, _ = await make_engine(
        GROUPS, [*clique(GROUP_EDGE, 6), "group:f#member@user:ann"], cache=CheckCache()
    )
    page = await engine.lookup_resources("group", "member", parse_subject("user:ann"))
    assert sorted(item.resource_id for item in page.items) == list("abcdef")
    page = await engine.lookup_resources("group", "member", parse_subject("user:eve"))
    assert page.items == ()


# --- bounded work -----------------------------------------------------------------------------------


class CountingReader:
    """A reader that counts store queries (the unit of work that matters), delegating to a store."""

    def __init__(self, store: MemoryTupleStore) -> None:
        self._store = store
        self.queries = 0

    async def resolve(self, consistency: Consistency) -> Revision:
        return await self._store.resolve(consistency)

    async def head_revision(self) -> Revision:
        return await self._store.head_revision()

    def query(
        self, flt: RelationshipFilter, *, revision: Revision, limit=None, after=None
    ) -> AsyncIterator[Relationship]:
        self.queries += 1
        return self._store.query(flt, revision=revision, limit=limit, after=after)


async def _queries_for_negative_clique_check(shape: str, n: int) -> int:
    schema, edge, _, probe = SHAPES[shape]
    _, store = await make_engine(schema, clique(edge, n))
    reader = CountingReader(store)
    engine = Engine.build(reader, compile_schema(schema, "<test>"))
    assert await perm(engine, probe.format(x="a", u="eve")) == "no"
    return reader.queries


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_negative_clique_check_stays_polynomial(shape):
    """Per-path cuts alone would walk every simple path (about n! of them); the fixpoint does not."""
    counts = {n: await _queries_for_negative_clique_check(shape, n) for n in (4, 6, 8, 10)}
    assert counts[10] <= 10 * 10, counts  # n**2: in fact about one batched read per level
    for small, big in pairwise(sorted(counts)):
        assert counts[big] <= counts[small] * (big / small) ** 2, counts


async def test_a_positive_clique_check_stays_polynomial():
    _, store = await make_engine(GROUPS, [*clique(GROUP_EDGE, 10), "group:j#member@user:ann"])
    reader = CountingReader(store)
    engine = Engine.build(reader, compile_schema(GROUPS, "<test>"))
    for x in NAMES[:10]:
        assert await perm(engine, f"group:{x}#member@user:ann") == "yes"
    assert reader.queries <= 10 * 10 * 2, reader.queries


async def test_a_long_ring_is_decided_within_the_depth_budget():
    ring = [f"group:g{i}#member@group:g{(i + 1) % 30}#member" for i in range(30)]
    engine, _ = await make_engine(GROUPS, [*ring, "group:g29#member@user:ann"], cache=CheckCache())
    assert await perm(engine, "group:g0#member@user:ann") == "yes"
    assert await perm(engine, "group:g0#member@user:eve") == "no"
    assert await perm(engine, "group:g15#member@user:eve") == "no"


STALE = """
definition group {
    relation rel_a: folder
    permission perm_a = rel_a->perm_a
}
definition folder {
    relation rel_a: group
    relation rel_b: document
    permission perm_a = rel_b->perm_a + rel_a
}
definition document {
    relation rel_a: group
    permission perm_a = rel_a.all(perm_a)
}
"""


@pytest.mark.parametrize("cached", [True, False], ids=["cache", "no-cache"])
async def test_a_value_computed_before_a_sibling_grew_is_not_reused(cached):
    """Batch [o1, o2]: o2 is computed while o1's value is still NO, then o1 becomes YES in the
    same batch; o2's value read the old one and must be recomputed, not served as current.
    """
    rels = [
        "folder:o2#rel_b@document:o2",
        "group:o1#rel_a@folder:o1",
        "folder:o1#rel_b@document:o2",
        "document:o2#rel_a@group:o1",
    ]
    engine, _ = await make_engine(STALE, rels, cache=CheckCache() if cached else None)
    page = await engine.lookup_resources("folder", "perm_a", parse_subject("folder:o1#rel_a"))
    assert sorted(item.resource_id for item in page.items) == ["o1", "o2"]
    assert await perm(engine, "folder:o2#perm_a@folder:o1#rel_a") == "yes"

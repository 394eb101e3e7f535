# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""What the evaluator reads: narrowed relation reads, and no row read twice in one request."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

from engine_helpers import make_engine

from rebac.engine import Engine, Permissionship
from rebac.engine.candidates import ReverseWalk
from rebac.engine.dispatch import build_chain
from rebac.engine.lookup import ResourceSets, lookup_resources
from rebac.engine.reads import read_relationships
from rebac.engine.requests import EvalContext, LookupResourcesRequest
from rebac.refs import parse_object, parse_subject
from rebac.store.base import RelationshipFilter

SCHEMA = """
definition user {}
definition team {
    relation member: user | team#member
}
definition folder {
    relation parent: folder
    relation viewer: user | team#member
    permission view = viewer + parent->view
}
definition doc {
    relation folder: folder
    relation viewer: user | team#member
    permission view = viewer + folder->view
}
"""


class CountingReader:
    """Delegates to a store and counts the queries and the rows they yield."""

    def __init__(self, store):
        self._store = store
        self.queries = 0
        self.rows = 0

    async def resolve(self, consistency):
        return await self._store.resolve(consistency)

    async def head_revision(self):
        return await self._store.head_revision()

    async def query(self, flt, *, revision, limit=None, after=None):
        self.queries += 1
        async for rel in self._store.query(flt, revision=revision, limit=limit, after=after):
            self.rows += 1
            yield rel


async def _context(engine: Engine, store) -> EvalContext:
    return EvalContext(
        revision=await store.head_revision(),
        model=engine.model,
        context={},
        context_key="{}",
        deadline=time.monotonic() + 60,
        now=datetime.now(UTC),
    )


async def test_a_relation_read_is_narrowed_to_the_subject_and_to_each_userset():
    rels = [f"doc:big#viewer@user:u{i}" for i in range(300)]
    rels += ["doc:big#viewer@team:t#member", "team:t#member@user:tom"]
    _, store = await make_engine(SCHEMA, rels)
    reader = CountingReader(store)
    engine, _ = await make_engine(SCHEMA, store=store)
    counted = Engine(reader, engine.model)
    result = await counted.check(parse_object("doc:big"), "view", parse_subject("user:tom"))
    assert result.permissionship is Permissionship.HAS_PERMISSION
    assert reader.rows < 10  # never the 300 unrelated direct viewers


async def test_a_request_reads_each_resource_once_per_filter_shape():
    _, store = await make_engine(SCHEMA, ["doc:a#folder@folder:f", "doc:b#folder@folder:g"])
    engine, _ = await make_engine(SCHEMA, store=store)
    reader = CountingReader(store)
    ctx = await _context(engine, store)
    flt = RelationshipFilter(resource_type="doc", relation="folder")
    first = await read_relationships(reader, ctx, flt, ["b", "a"])
    assert reader.queries == 1
    again = await read_relationships(reader, ctx, flt, ["a", "b"])
    assert reader.queries == 1
    assert (
        [str(r) for r in first]
        == [str(r) for r in again]
        == ["doc:a#folder@folder:f", "doc:b#folder@folder:g"]
    )
    await read_relationships(reader, ctx, flt, ["a", "c"])
    assert reader.queries == 2  # only the unseen id is read
    other = RelationshipFilter(resource_type="doc", relation="viewer")
    assert await read_relationships(reader, ctx, other, ["a"]) == []
    assert reader.queries == 3


async def test_the_reverse_walk_reads_no_row_twice():
    rels = [f"folder:f{i + 1}#parent@folder:f{i}" for i in range(20)]
    rels += ["folder:f0#viewer@user:tom", "doc:d#folder@folder:f20", "doc:e#viewer@user:tom"]
    _, store = await make_engine(SCHEMA, rels)
    engine, _ = await make_engine(SCHEMA, store=store)
    reader = CountingReader(store)
    walk = ReverseWalk(reader, await _context(engine, store), parse_subject("user:tom"))
    folders = await walk.resources("folder", "view")
    assert folders == {f"f{i}" for i in range(21)}
    rows = reader.rows
    assert rows == 21  # each parent edge and the one grant, once, over all fixpoint passes
    queries = reader.queries
    assert await walk.resources("folder", "view") == folders
    assert reader.queries == queries
    assert await walk.resources("doc", "view") == {"d", "e"}
    assert reader.rows == rows + 2


async def _page(reader, ctx, subject, sets, cursor=None):
    request = LookupResourcesRequest("doc", "view", subject, 50, ctx, 10, cursor)
    return await lookup_resources(reader, build_chain(reader, None), request, sets=sets)


async def _pages(reader, ctx, subject, sets):
    items, cursor = [], None
    while True:
        page = await _page(reader, ctx, subject, sets, cursor)
        items += [item.resource_id for item in page.items]
        if page.cursor is None:
            return items
        cursor = page.cursor


async def test_later_pages_of_an_exact_lookup_are_served_from_the_kept_answer():
    rels = [f"doc:d{i:02d}#viewer@user:tom" for i in range(25)]
    rels += ["doc:x#folder@folder:f", "folder:f#viewer@user:tom[expiration:2030-01-01T00:00:00Z]"]
    _, store = await make_engine(SCHEMA, rels)
    engine, _ = await make_engine(SCHEMA, store=store)
    reader = CountingReader(store)
    tom = parse_subject("user:tom")
    ctx = replace(await _context(engine, store), now=datetime(2029, 1, 1, tzinfo=UTC))
    plain = await _pages(reader, ctx, tom, None)
    assert plain == sorted([f"d{i:02d}" for i in range(25)] + ["x"])
    three_walks = reader.queries
    sets = ResourceSets()
    assert await _pages(reader, ctx, tom, sets) == plain
    assert len(sets) == 1
    assert 3 * (reader.queries - three_walks) == three_walks  # pages 2 and 3 read nothing
    # Past the expiration of a row the kept answer used, it is never served.
    first = await _page(reader, ctx, tom, sets)
    later = replace(ctx, now=datetime(2031, 1, 1, tzinfo=UTC))
    before = reader.queries
    second = await _page(reader, later, tom, sets, first.cursor)
    assert reader.queries > before
    assert second.items[-1].resource_id == "d19"
    assert await _pages(reader, later, tom, sets) == plain[:-1]

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Expand: SpiceDB-style userset trees with caveat and expiration info on leaves."""

from __future__ import annotations

from datetime import UTC, datetime

from engine_helpers import make_engine

from rebac.engine import ExpandKind
from rebac.refs import SubjectRef, parse_object

SCHEMA = """
use expiration
definition user {}
caveat ok(flag bool) { flag }
definition group {
    relation member: user | user with ok | user with expiration
}
definition doc {
    relation parent: group
    relation viewer: user | group#member
    relation banned: user
    permission view = (viewer + parent->member) - banned
    permission all = parent.all(member)
}
"""

RELS = [
    "doc:1#viewer@user:tom",
    "doc:1#viewer@group:g#member",
    "doc:1#parent@group:g",
    "doc:1#banned@user:bob",
    "group:g#member@user:amy[ok]",
    "group:g#member@user:old[expiration:2001-01-01T00:00:00Z]",
    "group:g#member@user:new[expiration:2999-01-01T00:00:00Z]",
]


async def test_expand_tree_shape_and_leaf_details():
    engine, _ = await make_engine(SCHEMA, RELS)
    tree = await engine.expand(parse_object("doc:1"), "view")
    assert tree.kind is ExpandKind.EXCLUSION
    union, banned = tree.children
    assert union.kind is ExpandKind.UNION
    viewer_leaf, arrow = union.children
    assert viewer_leaf.kind is ExpandKind.LEAF
    assert {s.subject for s in viewer_leaf.subjects} == {
        SubjectRef("user", "tom"),
        SubjectRef("group", "g", "member"),
    }
    assert arrow.kind is ExpandKind.UNION
    (member_leaf,) = arrow.children
    assert member_leaf.resource == parse_object("group:g")
    details = {s.subject.id: (s.caveat, s.expires_at) for s in member_leaf.subjects}
    assert details == {
        "amy": ("ok", None),
        "new": (None, datetime(2999, 1, 1, tzinfo=UTC)),
    }  # the expired relationship does not exist
    assert [s.subject.id for s in banned.subjects] == ["bob"]


async def test_expand_all_arrow_is_an_intersection():
    engine, _ = await make_engine(SCHEMA, RELS)
    tree = await engine.expand(parse_object("doc:1"), "all")
    assert tree.kind is ExpandKind.INTERSECTION
    assert len(tree.children) == 1

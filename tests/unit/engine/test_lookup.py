# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Lookups: pagination with cursors, never silently truncated, tamper-proof cursors, wildcards."""

from __future__ import annotations

import pytest
from engine_helpers import make_engine

from rebac.engine import Permissionship
from rebac.errors import InvalidTokenError
from rebac.refs import SubjectRef, parse_object, parse_subject

SCHEMA = """
definition user {}
caveat ok(flag bool) { flag }
definition doc {
    relation viewer: user | user:* | user with ok
    relation banned: user
    permission view = viewer - banned
}
"""


@pytest.fixture
async def engine():
    rels = [f"doc:d{i:02d}#viewer@user:tom" for i in range(25)]
    rels += ["doc:d03#banned@user:tom", "doc:pub#viewer@user:*", "doc:pub#banned@user:bob"]
    rels += ["doc:cav#viewer@user:tom[ok]"]
    built, _ = await make_engine(SCHEMA, rels)
    return built


async def test_pages_follow_cursors_without_gaps_or_repeats(engine):
    tom = parse_subject("user:tom")
    everything = await engine.lookup_resources("doc", "view", tom)
    assert everything.cursor is None
    ids = [i.resource_id for i in everything.items]
    assert "d03" not in ids
    assert "pub" in ids
    assert len(ids) == 26
    for size in (1, 2, 7):
        seen, cursor = [], None
        while True:
            page = await engine.lookup_resources("doc", "view", tom, limit=size, cursor=cursor)
            assert len(page.items) <= size
            seen += [i.resource_id for i in page.items]
            if page.cursor is None:
                break
            cursor = page.cursor
        assert seen == ids


async def test_conditional_items_carry_the_missing_parameters(engine):
    page = await engine.lookup_resources("doc", "view", parse_subject("user:tom"))
    conditional = [i for i in page.items if i.permissionship is Permissionship.CONDITIONAL]
    assert [(i.resource_id, set(i.missing)) for i in conditional] == [("cav", {"flag"})]


async def test_a_tampered_or_foreign_cursor_is_rejected(engine):
    tom = parse_subject("user:tom")
    page = await engine.lookup_resources("doc", "view", tom, limit=1)
    assert page.cursor is not None
    with pytest.raises(InvalidTokenError):
        await engine.lookup_resources("doc", "view", tom, limit=1, cursor=page.cursor[:-3] + "xyz")
    with pytest.raises(InvalidTokenError):
        await engine.lookup_resources("doc", "view", parse_subject("user:bob"), limit=1, cursor=page.cursor)


async def test_lookup_subjects_reports_a_wildcard_with_its_exclusions(engine):
    page = await engine.lookup_subjects(parse_object("doc:pub"), "view", "user")
    assert [(str(i.subject), [str(s) for s in i.excluded]) for i in page.items] == [("user:*", ["user:bob"])]


async def test_lookup_subjects_pages(engine):
    first = await engine.lookup_subjects(parse_object("doc:cav"), "view", "user", limit=1)
    assert [i.subject for i in first.items] == [SubjectRef("user", "tom")]
    assert first.items[0].permissionship is Permissionship.CONDITIONAL
    assert first.cursor is None


async def test_a_subject_weaker_than_the_wildcard_is_excepted_from_it():
    schema = """
    caveat lim(x int) { x <= 1 }
    definition user {}
    definition doc {
        relation banned: user with lim
        relation viewer: user | user:*
        permission view = viewer - banned
    }
    """
    built, _ = await make_engine(schema, ["doc:1#viewer@user:*", "doc:1#banned@user:u1[lim]"])
    page = await built.lookup_subjects(parse_object("doc:1"), "view", "user")
    found = {str(i.subject): (i.permissionship, [str(s) for s in i.excluded]) for i in page.items}
    assert found == {
        "user:*": (Permissionship.HAS_PERMISSION, ["user:u1"]),
        "user:u1": (Permissionship.CONDITIONAL, []),
    }

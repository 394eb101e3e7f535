# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Check semantics on the memory store: relations, usersets, wildcards, set operations, arrows."""

from __future__ import annotations

import pytest
from engine_helpers import make_engine, perm

from rebac.errors import InvalidInputError, UnknownRelationError, UnknownTypeError
from rebac.refs import parse_object, parse_subject
from rebac.schema import ir

SCHEMA = """
definition user {}
definition group {
    relation member: user | group#member
}
definition folder {
    relation viewer: user | user:* | group#member
    relation banned: user
    permission view = viewer - banned
}
definition doc {
    relation parent: folder | user
    relation owner: user
    relation editor: user | group#member
    relation viewer: user | user:* | group#member
    permission edit = owner + editor
    permission both = owner & editor
    permission view = viewer + edit + parent->view
    permission view_all = parent.all(view)
    permission nothing = nil
}
"""

RELS = [
    "group:eng#member@user:tom",
    "group:all#member@group:eng#member",
    "doc:1#owner@user:ann",
    "doc:1#editor@group:all#member",
    "doc:1#editor@user:ann",
    "doc:2#parent@folder:f1",
    "doc:2#parent@folder:f2",
    "doc:2#parent@user:ann",
    "folder:f1#viewer@user:*",
    "folder:f1#banned@user:bob",
    "folder:f2#viewer@user:bob",
    "folder:f2#viewer@user:tom",
    "doc:3#viewer@group:eng#member",
]


@pytest.fixture
async def engine():
    built, _ = await make_engine(SCHEMA, RELS)
    return built


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("doc:1#edit@user:ann", "yes"),
        ("doc:1#edit@user:tom", "yes"),  # through group:all -> group:eng (userset recursion)
        ("doc:1#edit@user:bob", "no"),
        ("doc:1#both@user:ann", "yes"),
        ("doc:1#both@user:tom", "no"),
        ("doc:1#view@user:tom", "yes"),
        ("doc:1#nothing@user:ann", "no"),
        ("doc:2#view@user:zed", "yes"),  # wildcard on folder:f1 through the arrow
        ("doc:2#view@user:bob", "yes"),  # banned on f1, but viewer on f2
        ("doc:2#view_all@user:bob", "no"),  # f1 bans bob
        ("doc:2#view_all@user:tom", "no"),  # user:ann lacks `view`: a non-member for `.all`
        ("doc:2#view@user:tom", "yes"),  # ... but merely skipped by `->`
        ("doc:3#view@group:eng#member", "yes"),  # a subject set as the subject
        ("doc:3#view@group:all#member", "no"),
        ("group:eng#member@group:eng#member", "yes"),  # a set contains itself
    ],
)
async def test_check(engine, query, expected):
    assert await perm(engine, query) == expected


async def test_wildcard_never_matches_a_subject_set():
    engine, _ = await make_engine(SCHEMA, ["folder:f#viewer@user:*"])
    assert await perm(engine, "folder:f#view@user:anyone") == "yes"
    assert await perm(engine, "folder:f#view@group:eng#member") == "no"


async def test_all_arrow_over_zero_subjects_is_no():
    engine, _ = await make_engine(SCHEMA, ["doc:9#owner@user:ann"])
    assert await perm(engine, "doc:9#view_all@user:ann") == "no"


async def test_all_arrow_where_no_subject_type_has_the_target_is_no():
    engine, _ = await make_engine(SCHEMA, ["doc:9#parent@user:ann"])
    assert await perm(engine, "doc:9#view_all@user:ann") == "no"


async def test_unknown_names_are_typed_errors(engine):
    with pytest.raises(UnknownTypeError):
        await engine.check(parse_object("nope:1"), "view", parse_subject("user:tom"))
    with pytest.raises(UnknownRelationError):
        await engine.check(parse_object("doc:1"), "nope", parse_subject("user:tom"))
    with pytest.raises(UnknownTypeError):
        await engine.check(parse_object("doc:1"), "view", parse_subject("nope:tom"))
    with pytest.raises(UnknownRelationError):
        await engine.check(parse_object("doc:1"), "view", parse_subject("group:eng#nope"))


async def test_a_wildcard_subject_cannot_be_checked(engine):
    with pytest.raises(InvalidInputError):
        await engine.check(parse_object("doc:1"), "view", parse_subject("user:*"))


async def test_hand_built_ir_with_self():
    user = ir.Definition("user", {}, {"me": ir.Permission("me", ir.SelfRef())})
    schema = ir.Schema(definitions={"user": user}, caveats={}, use_flags=frozenset({"self"}))
    engine, _ = await make_engine(schema)
    assert await perm(engine, "user:a#me@user:a") == "yes"
    assert await perm(engine, "user:a#me@user:b") == "no"


async def test_batched_reads_one_query_per_chunk():
    """An arrow over 250 folders reads the tupleset once and each folder relation per 100-id chunk."""
    rels = [f"doc:1#parent@folder:f{i}" for i in range(250)] + ["folder:f249#viewer@user:tom"]
    engine, store = await make_engine(SCHEMA, rels)
    calls = []
    original = store.query

    def counting(flt, **kwargs):
        calls.append(flt)
        return original(flt, **kwargs)

    store.query = counting  # type: ignore[method-assign]
    assert await perm(engine, "doc:1#view@user:tom") == "yes"
    folder_reads = [c for c in calls if c.resource_type == "folder"]
    assert all(len(c.resource_ids) <= 100 for c in calls)
    # viewer (direct + userset) and banned are read per chunk of 100 folders: 3 chunks.
    assert len(folder_reads) <= 3 * 3


async def test_check_bulk_reports_errors_per_item(engine):
    from rebac.config import EngineSettings  # noqa: PLC0415
    from rebac.engine import CheckItem  # noqa: PLC0415
    from rebac.errors import MaxDepthExceededError  # noqa: PLC0415

    items = [
        CheckItem(parse_object("doc:1"), "edit", parse_subject("user:ann")),
        CheckItem(parse_object("doc:1"), "edit", parse_subject("user:bob")),
    ]
    results = await engine.check_bulk(items)
    assert [r.allowed for r in results] == [True, False]
    shallow, _ = await make_engine(SCHEMA, RELS, settings=EngineSettings(max_depth=0))
    results = await shallow.check_bulk(items)
    assert all(isinstance(r, MaxDepthExceededError) for r in results)


async def test_schemas_spicedb_accepts_evaluate_without_granting_by_themselves():
    schema = """
    definition user {}
    definition group {
        relation member: user:* | group#member
        relation viewer: user
        permission loop = loop
        permission ping = pong & viewer
        permission pong = ping
        permission view = member + loop
    }
    """
    rels = ["group:a#member@group:b#member", "group:b#member@user:*", "group:a#viewer@user:tom"]
    engine, _ = await make_engine(schema, rels)
    assert await perm(engine, "group:a#member@user:tom") == "yes"  # the wildcard through group:b
    assert await perm(engine, "group:a#view@user:tom") == "yes"
    for permission in ("loop", "ping", "pong"):
        assert await perm(engine, f"group:a#{permission}@user:tom") == "no"

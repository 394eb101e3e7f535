# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The subject-set algebra of lookup_subjects: exact set operations, and the answers it gives."""

from __future__ import annotations

import pytest
from engine_helpers import make_engine, perm
from hypothesis import given
from hypothesis import strategies as st

from rebac.config import EngineSettings
from rebac.engine.subject_sets import SubjectSet, exact_subjects
from rebac.refs import parse_object

UNIVERSE = frozenset("abcdefgh")
_sets = st.builds(SubjectSet, st.frozensets(st.sampled_from(sorted(UNIVERSE))), st.booleans())


def _members(s: SubjectSet) -> frozenset[str]:
    return frozenset(x for x in UNIVERSE | {"zz"} if x in s)  # "zz": an id no set names


@given(a=_sets, b=_sets)
def test_the_operations_are_exact_set_operations(a: SubjectSet, b: SubjectSet) -> None:
    assert _members(a | b) == _members(a) | _members(b)
    assert _members(a & b) == _members(a) & _members(b)
    assert _members(a - b) == _members(a) - _members(b)


SCHEMA = """
definition user {}
definition group {
    relation member: user | group#member
}
caveat ok(flag bool) { flag }
definition tool {
    relation org: group
    relation invoker: user | user:* | group#member
    relation blocked: user
    relation gated: user with ok
    permission invoke = (invoker & org->member) - blocked
    permission anyone = invoker - blocked
    permission careful = invoker & gated
}
"""
RELS = [
    "tool:t#org@group:org",
    "tool:t#invoker@user:*",
    "tool:t#blocked@user:bob",
    "tool:t#gated@user:ann[ok]",
    "group:org#member@group:eng#member",
    "group:eng#member@group:org#member",  # a cycle in the data
    "group:eng#member@user:ann",
    "group:eng#member@user:bob",
    "group:org#member@user:cat",
]


async def _exact(engine, resource: str, name: str):
    ctx = await engine._context(None, None, None)
    obj = parse_object(resource)
    return await exact_subjects(
        engine._reader,
        ctx,
        resource_type=obj.type,
        resource_id=obj.id,
        name=name,
        subject_type="user",
        max_depth=engine.settings.max_depth,
    )


async def test_an_intersection_with_a_wildcard_is_computed_without_enumerating_it():
    engine, _ = await make_engine(SCHEMA, RELS)
    invoke = await _exact(engine, "tool:t", "invoke")
    assert invoke == SubjectSet(frozenset({"ann", "cat"}))  # the org (through the cycle) less bob
    anyone = await _exact(engine, "tool:t", "anyone")
    assert anyone == SubjectSet(frozenset({"bob"}), wildcard=True)
    assert await _exact(engine, "tool:t", "careful") is None  # a caveat: decided by checks
    for user, expected in (("ann", "yes"), ("bob", "no"), ("cat", "yes"), ("dan", "no")):
        assert await perm(engine, f"tool:t#invoke@user:{user}") == expected


async def test_lookup_subjects_lists_what_the_checks_decide():
    engine, _ = await make_engine(SCHEMA, RELS)
    page = await engine.lookup_subjects(parse_object("tool:t"), "anyone", "user")
    listed = {str(item.subject): [str(s) for s in item.excluded] for item in page.items}
    assert listed == {"user:*": ["user:bob"]}
    invoke = await engine.lookup_subjects(parse_object("tool:t"), "invoke", "user")
    assert [str(item.subject) for item in invoke.items] == ["user:ann", "user:cat"]
    careful = await engine.lookup_subjects(parse_object("tool:t"), "careful", "user", context={"flag": True})
    assert [str(item.subject) for item in careful.items] == ["user:ann"]


@pytest.mark.parametrize("depth", [3, 50])
async def test_a_path_deeper_than_the_budget_is_left_to_the_checks(depth):
    chain = [f"group:g{i}#member@group:g{i + 1}#member" for i in range(6)]
    rels = ["tool:t#invoker@group:g0#member", *chain, "group:g6#member@user:ann"]
    schema = SCHEMA.replace(
        "permission invoke = (invoker & org->member) - blocked", "permission invoke = invoker"
    )

    engine, _ = await make_engine(schema, rels, settings=EngineSettings(max_depth=depth))
    found = await _exact(engine, "tool:t", "invoke")
    assert (found is None) == (depth == 3)

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Traces recorded by the evaluator itself (``Engine.check_traced``), on the memory store."""

from __future__ import annotations

import itertools

import pytest
from engine_helpers import make_engine

from rebac import limits
from rebac.engine import CheckCache, CheckTrace, Permissionship, trace_of
from rebac.errors import CaveatEvaluationError, EvaluationError
from rebac.refs import SubjectRef, parse_object, parse_subject

YES = Permissionship.HAS_PERMISSION
NO = Permissionship.NO_PERMISSION

SCHEMA = """
definition user {}
definition team {
    relation member: user | team#member
}
definition folder {
    relation viewer: user
    permission view = viewer
}
definition document {
    relation parent: folder
    relation viewer: user | team#member
    relation editor: user
    relation banned: user
    permission view = viewer + editor + parent->view
    permission visible = viewer - banned
}
"""

RELS = [
    "document:1#viewer@team:eng#member",
    "team:eng#member@user:tom",
    "document:1#viewer@user:bob",
    "document:1#banned@user:bob",
    "document:1#parent@folder:f",
]


def _node(trace: CheckTrace, text: str) -> CheckTrace:
    """The first node for ``type:id#relation`` in ``trace``."""
    resource, relation = text.split("#")
    return next(n for n in trace.nodes() if n.resource == parse_object(resource) and n.relation == relation)


def _labels(trace: CheckTrace) -> list[str]:
    return [f"{c.resource}#{c.relation}" for c in trace.children]


async def _traced(engine, text: str, **kwargs):
    left, subject = text.split("@")
    resource, permission = left.split("#")
    return await engine.check_traced(parse_object(resource), permission, parse_subject(subject), **kwargs)


async def test_a_grant_through_a_subject_set_shows_the_subject_set():
    engine, _ = await make_engine(SCHEMA, RELS)
    result, trace = await _traced(engine, "document:1#view@user:tom")
    assert result.permissionship is YES
    assert (trace.resource, trace.relation, trace.subject) == (
        parse_object("document:1"),
        "view",
        parse_subject("user:tom"),
    )
    assert trace.is_permission
    assert trace.result is YES
    viewer = _node(trace, "document:1#viewer")
    assert not viewer.is_permission
    assert viewer.result is YES
    member = _node(viewer, "team:eng#member")
    assert member.result is YES
    assert member.subject == parse_subject("user:tom")
    assert member.error is None
    assert trace.duration >= member.duration >= 0


async def test_a_denied_check_shows_the_operands_it_evaluated():
    engine, _ = await make_engine(SCHEMA, RELS)
    result, trace = await _traced(engine, "document:1#view@user:zed")
    assert result.permissionship is NO
    assert trace.result is NO
    assert _labels(trace) == ["document:1#viewer", "document:1#editor", "folder:f#view"]
    assert all(child.result is NO for child in trace.children)
    assert _labels(_node(trace, "document:1#viewer")) == ["team:eng#member"]
    assert _labels(_node(trace, "folder:f#view")) == ["folder:f#viewer"]


async def test_an_exclusion_shows_both_sides_and_only_where_the_base_holds():
    engine, _ = await make_engine(SCHEMA, RELS)
    result, trace = await _traced(engine, "document:1#visible@user:bob")
    assert result.permissionship is NO
    assert [(f"{c.resource}#{c.relation}", c.result) for c in trace.children] == [
        ("document:1#viewer", YES),
        ("document:1#banned", YES),
    ]
    _, zed = await _traced(engine, "document:1#visible@user:zed")
    assert _labels(zed) == ["document:1#viewer"]  # the base is NO: the subtracted side is not evaluated


async def test_caveats_and_expiry_are_on_the_nodes():
    schema = """
    use expiration
    definition user {}
    caveat small(x int) { x < 5 }
    definition doc {
        relation viewer: user with small | user with expiration
        permission view = viewer
    }
    """
    rels = ["doc:1#viewer@user:amy[small]", "doc:2#viewer@user:amy[expiration:2999-01-01T00:00:00Z]"]
    engine, _ = await make_engine(schema, rels)
    result, trace = await _traced(engine, "doc:1#view@user:amy")
    assert result.permissionship is Permissionship.CONDITIONAL
    (viewer,) = trace.children
    assert (trace.missing, viewer.missing) == (frozenset({"x"}), frozenset({"x"}))
    result, trace = await _traced(engine, "doc:2#view@user:amy")
    assert result.expires_at is not None
    assert trace.expires_at == result.expires_at == trace.children[0].expires_at


DELEGATION = """
definition user {}
definition agent {
    relation principal: user | agent
    acts_for principal
}
definition document {
    relation viewer: user | agent
    permission view = viewer
}
"""


async def test_a_delegated_check_shows_each_hop_labelled_with_its_subject():
    rels = [
        "agent:sub#principal@agent:planner",
        "agent:planner#principal@user:alice",
        "document:1#viewer@agent:sub",
        "document:1#viewer@agent:planner",
    ]
    engine, _ = await make_engine(DELEGATION, rels)
    result, trace = await _traced(engine, "document:1#view@agent:sub")
    assert result.permissionship is NO  # alice, at the top of the chain, may not view
    assert result.failed_hop is not None
    assert result.failed_hop.subject == parse_subject("user:alice")
    assert trace.subject == parse_subject("agent:sub")
    assert trace.result is NO
    hops = [(c.subject, c.resource, c.relation, c.result) for c in trace.children]
    doc = parse_object("document:1")
    assert hops == [
        (parse_subject("agent:sub"), doc, "view", YES),
        (parse_subject("agent:planner"), doc, "view", YES),
        (parse_subject("user:alice"), doc, "view", NO),
    ]
    assert [c.subject for c in trace.children[0].children] == [parse_subject("agent:sub")]
    raw, raw_trace = await _traced(engine, "document:1#view@agent:sub", delegation=False)
    assert raw.permissionship is YES
    assert _labels(raw_trace) == ["document:1#viewer"]


async def test_the_node_budget_truncates_and_the_answer_stays_right():
    teams = limits.TRACE_NODE_BUDGET + 50
    rels = [f"document:1#viewer@team:t{i:03d}#member" for i in range(teams)]
    rels.append(f"team:t{teams - 1:03d}#member@user:tom")
    engine, _ = await make_engine(SCHEMA, rels)
    result, trace = await _traced(engine, "document:1#view@user:tom")
    assert result.permissionship is YES
    assert trace.result is YES
    assert sum(1 for _ in trace.nodes()) == limits.TRACE_NODE_BUDGET
    viewer = _node(trace, "document:1#viewer")
    assert viewer.truncated
    assert viewer.result is YES
    assert len(viewer.children) == limits.TRACE_NODE_BUDGET - 2
    assert not trace.truncated


CYCLE = """
definition user {}
definition folder {
    relation parent: folder
    relation viewer: user
    relation member: user
    permission view = parent->view + viewer & member
}
"""

CYCLE_RELS = [
    "folder:a#parent@folder:c",
    "folder:a#parent@folder:e",
    "folder:b#member@user:tom",
    "folder:b#parent@folder:c",
    "folder:c#member@user:tom",
    "folder:c#parent@folder:b",
    "folder:c#viewer@user:tom",
    "folder:e#parent@folder:b",
]


async def test_a_repeated_fixpoint_pass_keeps_only_the_last_pass():
    # The first pass reads folder:b#view as NO (a cycle not yet settled), so folder:e's union goes
    # on to e#viewer; the second pass finds b#view YES and stops there. Only the second shows.
    engine, _ = await make_engine(CYCLE, CYCLE_RELS)
    result, trace = await _traced(engine, "folder:a#view@user:tom")
    assert result.permissionship is NO
    e_view = trace.children[1]
    assert (e_view.resource, e_view.relation) == (parse_object("folder:e"), "view")
    assert [(f"{c.resource}#{c.relation}", c.result) for c in e_view.children] == [
        ("folder:b#view", YES),
        ("folder:e#member", NO),
    ]
    for node in trace.nodes():
        keys = [(c.resource, c.relation, c.subject) for c in node.children]
        assert len(keys) == len(set(keys))


@pytest.mark.parametrize(
    ("schema", "rels", "check"),
    [
        (SCHEMA, RELS, "document:1#view@user:tom"),
        (SCHEMA, RELS, "document:1#visible@user:bob"),
        (CYCLE, CYCLE_RELS, "folder:a#view@user:tom"),
    ],
)
async def test_two_traced_calls_give_equal_trees_apart_from_durations(schema, rels, check):
    engine, _ = await make_engine(schema, rels, cache=CheckCache())
    first_result, first = await _traced(engine, check)
    second_result, second = await _traced(engine, check)
    assert first == second
    assert first_result == second_result
    assert all(n.duration > 0 for n in first.nodes())


async def test_a_failed_check_raises_as_check_does_and_carries_the_partial_trace():
    schema = """
    definition user {}
    caveat small(x int) { x < 5 }
    definition doc {
        relation viewer: user with small
        permission view = viewer
    }
    """
    engine, _ = await make_engine(schema, ["doc:1#viewer@user:amy[small]"])
    bad = {"x": "not a number"}
    with pytest.raises(CaveatEvaluationError) as plain:
        await engine.check(parse_object("doc:1"), "view", parse_subject("user:amy"), context=bad)
    with pytest.raises(CaveatEvaluationError) as traced:
        await _traced(engine, "doc:1#view@user:amy", context=bad)
    assert str(traced.value) == str(plain.value)
    assert trace_of(plain.value) is None
    partial = trace_of(traced.value)
    assert partial is not None
    assert partial.result is None
    assert partial.error == str(traced.value)
    (viewer,) = partial.children
    assert (viewer.relation, viewer.result, viewer.error) == ("viewer", None, str(traced.value))


async def test_the_traced_result_equals_the_checked_one_everywhere_on_the_fixtures():
    # Field for field against an engine without a cache; tests/oracle/test_trace_agreement.py
    # compares with a cached engine on random worlds.
    delegated = ["agent:a#principal@user:u", "document:1#viewer@agent:a", "document:1#viewer@user:u"]
    for schema, rels in [(SCHEMA, RELS), (CYCLE, CYCLE_RELS), (DELEGATION, delegated)]:
        engine, _ = await make_engine(schema, rels)
        definitions = engine.model.schema.definitions
        objects = sorted({r.split("#")[0] for r in rels} | {r.split("@")[1].split("#")[0] for r in rels})
        subjects = [parse_subject(o) for o in objects] + [SubjectRef("user", "nobody")]
        for text, subject in itertools.product(objects, subjects):
            resource = parse_object(text)
            for member in [*definitions[resource.type].relations, *definitions[resource.type].permissions]:
                try:
                    want = await engine.check(resource, member, subject)
                except EvaluationError as exc:
                    with pytest.raises(type(exc)):
                        await engine.check_traced(resource, member, subject)
                    continue
                got, trace = await engine.check_traced(resource, member, subject)
                assert got == want, (resource, member, subject)
                assert trace.result is got.permissionship
                assert (trace.resource, trace.relation, trace.subject) == (resource, member, subject)

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""One switch point for rewrite semantics: ``rebac/engine/rewrites.py``, and what each rule means.

(a) No module outside ``rebac/schema/`` and ``rebac/engine/rewrites.py`` names a rewrite kind.
(b) Every kind of ``rebac.schema.ir.Rewrite`` has a registered rule.
(c) Behaviour per rule that the other suites do not pin: short-circuits (an operand that is not
needed is never evaluated: evaluating it here would raise), ``self`` and ``nil`` on every path,
the arrow modes, leaf steps and monotonicity.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import typing
from pathlib import Path

import pytest
from engine_helpers import make_engine, perm

from rebac.engine import ExpandKind, Permissionship, rewrites
from rebac.engine.candidates import ReverseWalk
from rebac.engine.exact import SchemaShape, exact_resources
from rebac.engine.mechanics import SameObject, TheObject, Through
from rebac.errors import CaveatEvaluationError
from rebac.refs import SubjectRef, parse_object, parse_subject
from rebac.schema import ir

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "rebac"
ALLOWED = ("rebac/schema/", "rebac/engine/rewrites.py")
ISSUE_KINDS = ("Nil", "SelfRef", "ComputedUserset", "TupleToUserset", "Union", "Intersection", "Exclusion")
"""The kinds the issue's grep names; every later kind of ``ir.Rewrite`` is searched for too."""


def _rewrite_types() -> list[type]:
    """The members of ``ir.Rewrite`` (a string alias at run time, or a union once evaluated)."""
    alias = vars(ir)["Rewrite"]
    if isinstance(alias, str):
        return [getattr(ir, name.strip()) for name in alias.split("|")]
    return list(typing.get_args(alias))


KINDS = tuple(dict.fromkeys([*ISSUE_KINDS, *(k.__name__ for k in _rewrite_types())]))
PATTERN = re.compile(rf"ir\.({'|'.join(KINDS)})\b")


def _sources() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(ALLOWED):
            continue
        found.append((name, path.read_text(encoding="utf-8")))
    return found


# --- (a) one switch point ---------------------------------------------------------------------------


def test_no_module_outside_the_schema_and_rewrites_names_a_rewrite_kind():
    hits = [
        f"{name}:{number}: {line.strip()}"
        for name, text in _sources()
        for number, line in enumerate(text.splitlines(), start=1)
        if PATTERN.search(line)
    ]
    assert hits == []


def test_no_module_imports_a_rewrite_kind_by_name():
    hits: list[str] = []
    for name, text in _sources():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module in {"rebac.schema.ir", "rebac.schema"}:
                hits.extend(f"{name}: {alias.name}" for alias in node.names if alias.name in KINDS)
    assert hits == []


# --- (b) a rule for every kind ----------------------------------------------------------------------


def test_every_rewrite_kind_has_exactly_one_registered_rule():
    kinds = _rewrite_types()
    assert set(ISSUE_KINDS) <= {k.__name__ for k in kinds}
    assert all(k.__name__ in ir.__all__ and dataclasses.is_dataclass(k) for k in kinds)
    assert set(rewrites.RULES) == set(kinds)
    for kind, rule in rewrites.RULES.items():
        assert rule.kind is kind
        assert isinstance(rule, rewrites.Rule)


def test_an_unregistered_kind_is_a_type_error():
    @dataclasses.dataclass(frozen=True)
    class Unknown:
        pass

    with pytest.raises(TypeError, match="no rule"):
        rewrites.rule_for(Unknown())  # type: ignore[arg-type]


# --- (c) behaviour per rule -------------------------------------------------------------------------

SCHEMA = """
use self
definition user {}
caveat needs_int(x int) { x > 1 }
definition team {
    relation member: user
}
definition bot {}
definition doc {
    relation viewer: user
    relation risky: user with needs_int
    relation parent: team | bot
    permission itself = self
    permission none = nil
    permission either = viewer + risky
    permission both = viewer & risky
    permission minus = viewer - risky
    permission any_member = parent->member
    permission all_members = parent.all(member)
}
"""

RELS = [
    "doc:1#viewer@user:tom",
    "doc:1#risky@user:tom[needs_int]",
    "doc:1#risky@user:amy[needs_int]",
    "doc:2#parent@team:t",
    "doc:2#parent@bot:b",
    "doc:3#parent@team:t",
    "team:t#member@user:tom",
]

BAD: dict[str, object] = {"x": "not an int"}
"""A context that makes every ``needs_int`` relationship fail to evaluate (only when it is read)."""


@pytest.fixture
async def engine():
    built, _ = await make_engine(SCHEMA, RELS)
    return built


async def test_union_stops_an_id_once_it_is_allowed(engine):
    assert await perm(engine, "doc:1#either@user:tom", BAD) == "yes"
    with pytest.raises(CaveatEvaluationError):
        await perm(engine, "doc:1#either@user:amy", BAD)


async def test_intersection_stops_an_id_once_it_is_no(engine):
    assert await perm(engine, "doc:1#both@user:amy", BAD) == "no"
    with pytest.raises(CaveatEvaluationError):
        await perm(engine, "doc:1#both@user:tom", BAD)


async def test_exclusion_evaluates_the_subtracted_side_only_where_the_base_is_not_no(engine):
    assert await perm(engine, "doc:1#minus@user:amy", BAD) == "no"
    with pytest.raises(CaveatEvaluationError):
        await perm(engine, "doc:1#minus@user:tom", BAD)
    assert await perm(engine, "doc:1#minus@user:tom", {"x": 2}) == "no"
    assert await perm(engine, "doc:1#minus@user:tom") == "caveated"


async def test_self_is_the_object_itself_as_a_plain_subject(engine):
    assert await perm(engine, "doc:1#itself@doc:1") == "yes"
    assert await perm(engine, "doc:1#itself@doc:2") == "no"
    assert await perm(engine, "doc:1#itself@user:tom") == "no"
    assert await perm(engine, "doc:1#itself@doc:1#viewer") == "no"
    tree = await engine.expand(parse_object("doc:1"), "itself")
    assert tree.kind is ExpandKind.LEAF
    assert [s.subject for s in tree.subjects] == [SubjectRef("doc", "1")]
    found = await engine.lookup_resources("doc", "itself", parse_subject("doc:7"))
    assert [i.resource_id for i in found.items] == ["7"]
    subjects = await engine.lookup_subjects(parse_object("doc:7"), "itself", "doc")
    assert [i.subject for i in subjects.items] == [SubjectRef("doc", "7")]


async def test_nil_is_empty_on_every_path(engine):
    assert await perm(engine, "doc:1#none@user:tom") == "no"
    tree = await engine.expand(parse_object("doc:1"), "none")
    assert (tree.kind, tree.children, tree.subjects) == (ExpandKind.LEAF, (), ())
    assert (await engine.lookup_resources("doc", "none", parse_subject("user:tom"))).items == ()
    assert (await engine.lookup_subjects(parse_object("doc:1"), "none", "user")).items == ()


async def test_any_arrow_skips_a_type_lacking_the_target_and_all_arrow_makes_it_a_non_member(engine):
    assert await perm(engine, "doc:2#any_member@user:tom") == "yes"
    assert await perm(engine, "doc:2#all_members@user:tom") == "no"
    assert await perm(engine, "doc:3#all_members@user:tom") == "yes"
    any_tree = await engine.expand(parse_object("doc:2"), "any_member")
    assert any_tree.kind is ExpandKind.UNION
    assert [c.resource for c in any_tree.children] == [parse_object("team:t")]
    all_tree = await engine.expand(parse_object("doc:2"), "all_members")
    assert all_tree.kind is ExpandKind.INTERSECTION
    team, empty = all_tree.children
    assert team.resource == parse_object("team:t")
    assert (empty.kind, empty.resource, empty.relation, empty.subjects) == (
        ExpandKind.LEAF,
        parse_object("doc:2"),
        "all_members",
        (),
    )
    tom = parse_subject("user:tom")
    found = await engine.lookup_resources("doc", "all_members", tom)
    assert [(i.resource_id, i.permissionship) for i in found.items] == [("3", Permissionship.HAS_PERMISSION)]


async def test_exact_lookups_are_used_only_where_the_rules_say_they_are_exact(engine):
    model = engine.model
    tom = parse_subject("user:tom")
    shape = SchemaShape(model)
    ctx = await engine._context(None, await engine.resolve(), None)

    async def exact(name):
        return await exact_resources(ReverseWalk(engine.reader, ctx, tom), shape, model, tom, ("doc", name))

    assert await exact("any_member") == {"2", "3"}
    assert await exact("all_members") is None  # `.all` has no exact set rule: checks decide
    assert await exact("none") == set()
    assert await exact("either") is None  # a caveated relation is not walk-exact


def test_leaf_steps_cover_every_operand_or_only_the_granting_ones():
    rewrite = ir.Exclusion(
        ir.Union(
            (ir.ComputedUserset("a"), ir.Nil(), ir.Intersection((ir.SelfRef(), ir.ComputedUserset("b"))))
        ),
        ir.TupleToUserset("parent", "c", "all"),
    )
    assert list(rewrites.steps(rewrite)) == [
        SameObject("a"),
        TheObject(),
        SameObject("b"),
        Through("parent", "c", "all"),
    ]
    assert list(rewrites.steps(rewrite, granting=True)) == [SameObject("a"), TheObject(), SameObject("b")]


@pytest.mark.parametrize(
    ("rewrite", "expected"),
    [
        (ir.Nil(), True),
        (ir.SelfRef(), True),
        (ir.ComputedUserset("a"), True),
        (ir.TupleToUserset("p", "a"), True),
        (ir.TupleToUserset("p", "a", "all"), False),
        (ir.Union((ir.ComputedUserset("a"), ir.TupleToUserset("p", "a"))), True),
        (ir.Union((ir.ComputedUserset("a"), ir.TupleToUserset("p", "a", "all"))), False),
        (ir.Intersection((ir.ComputedUserset("a"),)), False),
        (ir.Exclusion(ir.ComputedUserset("a"), ir.Nil()), False),
    ],
)
def test_monotone_kinds(rewrite, expected):
    assert rewrites.monotone(rewrite) is expected

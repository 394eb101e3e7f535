"""The formatter: canonical output that compiles back to the same IR, and is idempotent."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebac.schema import compile_schema, format_schema, ir

TYPE_NAMES = ["user", "team", "document", "folder", "org/member_group", "tenant/agent"]
RELATION_NAMES = ["viewer", "editor", "owner", "parent", "banned"]
PERMISSION_NAMES = ["view", "edit", "admin", "manage", "delete_all"]
CAVEAT_NAMES = ["on_weekdays", "ip_allowed", "tenant/is_open"]
PARAM_TYPES = [
    ir.CaveatType("int"),
    ir.CaveatType("string"),
    ir.CaveatType("timestamp"),
    ir.CaveatType("ipaddress"),
    ir.CaveatType("list", (ir.CaveatType("string"),)),
    ir.CaveatType("map", (ir.CaveatType("list", (ir.CaveatType("int"),)),)),
]
DOCS = st.none() | st.lists(
    st.text(alphabet="abcdefghij XYZ.,'`", min_size=1, max_size=20).map(str.strip).filter(bool),
    min_size=1,
    max_size=3,
).map("\n".join)


def rewrites(leaves: list[ir.Rewrite], depth: int) -> st.SearchStrategy[ir.Rewrite]:
    leaf = st.sampled_from(leaves)
    if depth == 0:
        return leaf

    def combine(draw_children: list[ir.Rewrite], kind: str) -> ir.Rewrite:
        nested = ir.Union if kind == "union" else ir.Intersection
        flat: list[ir.Rewrite] = [c for c in draw_children if not isinstance(c, nested)]
        if len(flat) < 2:
            flat = [*flat, ir.Nil(), ir.Nil()][:2]
        return ir.Union(tuple(flat)) if kind == "union" else ir.Intersection(tuple(flat))

    inner = rewrites(leaves, depth - 1)
    nary = st.builds(
        combine, st.lists(inner, min_size=2, max_size=3), st.sampled_from(["union", "intersection"])
    )
    exclusion = st.builds(ir.Exclusion, inner, inner)
    return st.one_of(leaf, nary, exclusion)


@st.composite
def schemas(draw: Any) -> ir.Schema:
    type_names = draw(st.lists(st.sampled_from(TYPE_NAMES), min_size=1, max_size=4, unique=True))
    flags = draw(st.frozensets(st.sampled_from(["expiration", "self"])))
    caveats: dict[str, ir.CaveatDefinition] = {}
    for name in draw(st.lists(st.sampled_from(CAVEAT_NAMES), max_size=2, unique=True)):
        params = draw(
            st.lists(st.sampled_from(["p_a", "p_b", "limit", "when"]), min_size=1, max_size=3, unique=True)
        )
        types = {p: draw(st.sampled_from(PARAM_TYPES)) for p in params}
        expression = " &&\n".join(f"{p} == {p}" for p in params)
        caveats[name] = ir.CaveatDefinition(name, types, expression, draw(DOCS))
    definitions: dict[str, ir.Definition] = {}
    for type_name in type_names:
        # Every type has a plain ``member`` relation, so ``x->member`` arrows are always valid.
        member_types = draw(st.lists(st.sampled_from(type_names), min_size=1, max_size=3, unique=True))
        relations = {"member": ir.Relation("member", tuple(ir.AllowedSubject(t) for t in member_types))}
        for rel in draw(st.lists(st.sampled_from(RELATION_NAMES), max_size=3, unique=True)):
            options = [ir.AllowedSubject(t) for t in type_names]
            options += [ir.AllowedSubject(t, wildcard=True) for t in type_names]
            options += [ir.AllowedSubject(t, relation="member") for t in type_names]
            options += [ir.AllowedSubject(t, caveat=c) for t in type_names for c in caveats]
            if "expiration" in flags:
                options += [ir.AllowedSubject(t, expiration=True) for t in type_names]
                options += [
                    ir.AllowedSubject(t, caveat=c, expiration=True) for t in type_names for c in caveats
                ]
            allowed = draw(st.lists(st.sampled_from(options), min_size=1, max_size=4, unique=True))
            relations[rel] = ir.Relation(rel, tuple(allowed), draw(DOCS))
        permissions: dict[str, ir.Permission] = {}
        leaves: list[ir.Rewrite] = [ir.Nil(), ir.TupleToUserset("member", "member")]
        leaves += [ir.TupleToUserset("member", "member", "all")]
        leaves += [ir.ComputedUserset(r) for r in relations]
        if "self" in flags:
            leaves.append(ir.SelfRef())
        for perm in draw(st.lists(st.sampled_from(PERMISSION_NAMES), max_size=3, unique=True)):
            rewrite = draw(rewrites(leaves, 2))
            annotations = tuple(draw(st.lists(st.sampled_from(type_names), max_size=2, unique=True)))
            permissions[perm] = ir.Permission(perm, rewrite, draw(DOCS), annotations=annotations)
            leaves.append(ir.ComputedUserset(perm))
        order = tuple(draw(st.permutations([*relations, *permissions])))
        acts_for = draw(st.sampled_from([None, "member"]))
        definitions[type_name] = ir.Definition(
            type_name, relations, permissions, acts_for=acts_for, doc=draw(DOCS), order=order
        )
    order = tuple(draw(st.permutations([*definitions, *caveats])))
    return ir.Schema(definitions, caveats, flags, order)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas())
def test_format_then_compile_gives_the_same_schema(schema: ir.Schema) -> None:
    text = format_schema(schema)
    compiled = compile_schema(text)
    assert compiled == schema, text
    assert format_schema(compiled) == text


def test_empty_schema_formats_to_nothing() -> None:
    assert format_schema(compile_schema("")) == ""
    assert format_schema(compile_schema("// only a comment\n")) == ""


def test_formatting_is_idempotent_on_messy_text() -> None:
    text = """use expiration
    definition user{}  definition doc{relation viewer:user|user:*  with expiration
    permission view=viewer-(viewer&viewer)+nil}
    caveat c(a int){
          a > 1 &&
            a < 3
    }"""
    once = format_schema(compile_schema(text))
    assert format_schema(compile_schema(once)) == once
    assert "permission view = viewer - ((viewer & viewer) + nil)" in once
    assert "\ta > 1 &&\n\ta < 3\n" in once


def test_hand_built_ir_without_order_is_printed_completely() -> None:
    user = ir.Definition("user", {}, {})
    doc = ir.Definition(
        "document",
        {"viewer": ir.Relation("viewer", (ir.AllowedSubject("user"),))},
        {"view": ir.Permission("view", ir.ComputedUserset("viewer"))},
        order=("view",),
    )
    schema = ir.Schema({"user": user, "document": doc}, {}, order=("document",))
    text = format_schema(schema)
    assert text == (
        "definition document {\n\tpermission view = viewer\n\trelation viewer: user\n}\n\n"
        "definition user {}\n"
    )
    compiled = compile_schema(text).definitions["document"]
    assert (compiled.relations, compiled.permissions) == (doc.relations, doc.permissions)

"""Hypothesis strategies: small VALID SpiceDB schemas, consistent relationships and request contexts.

A generated :class:`World` carries the schema twice: as IR built directly here (the ground truth
the naive oracle evaluates) and as schema text printed by :func:`print_schema`, an independent
printer, so the engine under test gets the schema through ``compile_schema`` and the parser is
exercised too. Validity follows SpiceDB's rules:

* every ``type#rel`` annotation names an existing relation or permission of that type;
* arrow left sides (``ts->c``, ``ts.all(c)``) are relations, not permissions, and allow no
  wildcard (also not through a subject set); ``c`` exists on at least one allowed type of ``ts``
  (types lacking it exercise the "skipped" / "non-member" rules);
* a permission only names members of its own definition declared before it (no self-reference
  without an arrow); recursion goes through arrows and subject sets, as in real schemas;
* ``with expiration`` needs ``use expiration``; relationships carry exactly the traits of one
  allowed-subject entry (caveat name, expiration);
* exclusion is stratified (see ``naive.strata``): worlds that are not are filtered out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from hypothesis import reject
from hypothesis import strategies as st
from naive import CaveatFn, NotStratifiedError, strata

from rebac.refs import CaveatRef, ObjectRef, Relationship, SubjectRef
from rebac.schema import ir

__all__ = [
    "CAVEAT_FNS",
    "DENSE_OBJECT_IDS",
    "FUTURE",
    "PAST",
    "World",
    "print_rewrite",
    "print_schema",
    "worlds",
]

PAST: Final = datetime(2001, 1, 1, tzinfo=UTC)
FUTURE: Final = datetime(2999, 1, 1, tzinfo=UTC)

USER: Final = "user"
TYPE_NAMES: Final = ("group", "folder", "document")
RELATION_NAMES: Final = ("rel_a", "rel_b", "rel_c", "rel_d")
PERMISSION_NAMES: Final = ("perm_a", "perm_b", "perm_c")
OBJECT_IDS: Final = ("o1", "o2")
USER_IDS: Final = ("u1", "u2")
_MODES: Final[tuple[Literal["any", "all"], ...]] = ("any", "all")
STRANGER: Final = "nobody"
"""A user id mentioned by no relationship: reachable only through wildcards."""

CAVEATS: Final[Mapping[str, ir.CaveatDefinition]] = {
    "cv_ge": ir.CaveatDefinition("cv_ge", {"x": ir.CaveatType("int")}, "x >= 5"),
    "cv_lim": ir.CaveatDefinition(
        "cv_lim", {"limit": ir.CaveatType("int"), "x": ir.CaveatType("int")}, "x <= limit"
    ),
}
CAVEAT_FNS: Final[Mapping[str, CaveatFn]] = {
    "cv_ge": lambda ctx: int(ctx["x"]) >= 5,
    "cv_lim": lambda ctx: int(ctx["x"]) <= int(ctx["limit"]),
}


@dataclass
class World:
    """One generated test world.

    Attributes:
        schema: Ground-truth IR.
        text: The same schema as SpiceDB schema text.
        relationships: Relationships to write (some expired, some caveated).
        contexts: Request contexts to check under (the first is always empty).
        subjects: Plain subjects worth checking (every user id plus a stranger, and some objects).
    """

    schema: ir.Schema
    text: str
    relationships: list[Relationship]
    contexts: list[dict[str, Any]]
    subjects: list[SubjectRef] = field(default_factory=list)

    def resource_types(self) -> list[str]:
        """Types that have at least one relation or permission."""
        return [name for name, d in self.schema.definitions.items() if d.relations or d.permissions]

    def describe(self) -> str:
        """Schema text and relationships, for failure messages."""
        rels = "\n".join(str(r) for r in self.relationships)
        return f"{self.text}\n--- relationships ---\n{rels}\n--- contexts --- {self.contexts}"


# --- printer -------------------------------------------------------------------------------------


def _compound(rewrite: ir.Rewrite) -> bool:
    return isinstance(rewrite, ir.Union | ir.Intersection | ir.Exclusion)


def print_rewrite(rewrite: ir.Rewrite) -> str:
    """SpiceDB text for a rewrite; every compound operand is parenthesised."""

    def operand(child: ir.Rewrite) -> str:
        text = print_rewrite(child)
        return f"({text})" if _compound(child) else text

    if isinstance(rewrite, ir.Nil):
        return "nil"
    if isinstance(rewrite, ir.SelfRef):
        return "self"
    if isinstance(rewrite, ir.ComputedUserset):
        return rewrite.relation
    if isinstance(rewrite, ir.TupleToUserset):
        if rewrite.mode == "all":
            return f"{rewrite.tupleset}.all({rewrite.computed})"
        return f"{rewrite.tupleset}->{rewrite.computed}"
    if isinstance(rewrite, ir.Union):
        return " + ".join(operand(c) for c in rewrite.children)
    if isinstance(rewrite, ir.Intersection):
        return " & ".join(operand(c) for c in rewrite.children)
    return f"{operand(rewrite.base)} - {operand(rewrite.subtract)}"


def print_schema(schema: ir.Schema) -> str:
    """SpiceDB schema text for ``schema`` (printed independently of ``rebac.schema``)."""
    lines: list[str] = []
    if "expiration" in schema.use_flags:
        lines += ["use expiration", ""]
    for caveat in schema.caveats.values():
        params = ", ".join(f"{name} {type_}" for name, type_ in caveat.parameters.items())
        lines += [f"caveat {caveat.name}({params}) {{", f"    {caveat.expression}", "}", ""]
    for definition in schema.definitions.values():
        if not definition.order:
            lines += [f"definition {definition.name} {{}}", ""]
            continue
        lines.append(f"definition {definition.name} {{")
        for name in definition.order:
            if name in definition.relations:
                allowed = " | ".join(str(a) for a in definition.relations[name].allowed)
                lines.append(f"    relation {name}: {allowed}")
            else:
                lines.append(f"    permission {name} = {print_rewrite(definition.permissions[name].rewrite)}")
        lines += ["}", ""]
    return "\n".join(lines)


# --- schema generation ---------------------------------------------------------------------------


@dataclass
class _Draft:
    """Mutable per-definition draft while generating."""

    name: str
    relation_names: list[str]
    permission_names: list[str]
    relations: dict[str, tuple[ir.AllowedSubject, ...]] = field(default_factory=dict)
    permissions: dict[str, ir.Rewrite] = field(default_factory=dict)


def _members(drafts: Mapping[str, _Draft], type_name: str) -> list[str]:
    if type_name == USER:
        return []
    draft = drafts[type_name]
    return draft.relation_names + draft.permission_names


@st.composite
def _allowed_subjects(
    draw: st.DrawFn,
    drafts: Mapping[str, _Draft],
    *,
    arrow_safe: bool,
    caveats: bool,
    expiration: bool,
) -> tuple[ir.AllowedSubject, ...]:
    types = [USER, *drafts]
    entries: list[ir.AllowedSubject] = []
    for index in range(draw(st.integers(1, 3))):
        if index == 0:
            # The first entry makes the relation useful: users for ordinary relations, a
            # container type for arrow left sides.
            type_name = draw(st.sampled_from(sorted(drafts))) if arrow_safe else USER
            kind = "plain" if arrow_safe else draw(st.sampled_from(["plain", "plain", "wildcard"]))
        else:
            type_name = draw(st.sampled_from(types))
            kind = draw(st.sampled_from(["plain", "plain", "wildcard", "set"]))
        relation: str | None = None
        wildcard = False
        if kind == "set":
            if arrow_safe:
                # Only wildcard-free relations: SpiceDB forbids wildcards on an arrow's left side,
                # also transitively through subject sets.
                names = [n for n in _members(drafts, type_name) if n in _safe_relations(drafts, type_name)]
            else:
                names = _members(drafts, type_name)
            if not names:
                continue
            relation = draw(st.sampled_from(sorted(names)))
        elif kind == "wildcard" and not arrow_safe:
            wildcard = True
        caveat = draw(st.sampled_from([None, None, None, None, *sorted(CAVEATS)])) if caveats else None
        expires = draw(st.integers(0, 2)) == 0 if expiration else False
        entry = ir.AllowedSubject(type_name, relation, wildcard, caveat, expires)
        if entry not in entries:
            entries.append(entry)
    if not entries:
        entries.append(ir.AllowedSubject(USER))
    return tuple(entries)


def _safe_relations(drafts: Mapping[str, _Draft], type_name: str) -> set[str]:
    draft = drafts[type_name]
    return {n for n in draft.relation_names if n.startswith(("rel_a", "rel_b"))}


@st.composite
def _rewrite(
    draw: st.DrawFn,
    drafts: Mapping[str, _Draft],
    draft: _Draft,
    visible: Sequence[str],
    depth: int,
) -> ir.Rewrite:
    leaves: list[st.SearchStrategy[ir.Rewrite]] = [
        st.sampled_from(sorted(visible)).map(ir.ComputedUserset),
        st.sampled_from(sorted(visible)).map(ir.ComputedUserset),
    ]
    arrows = _arrow_candidates(drafts, draft)
    if arrows:
        leaves.append(
            st.tuples(st.sampled_from(arrows), st.sampled_from(_MODES)).map(
                lambda pair: ir.TupleToUserset(pair[0][0], pair[0][1], pair[1])
            )
        )
        leaves.append(
            st.tuples(st.sampled_from(arrows), st.sampled_from(_MODES)).map(
                lambda pair: ir.TupleToUserset(pair[0][0], pair[0][1], pair[1])
            )
        )
    leaf = draw(st.integers(0, 19))
    if depth <= 0 or leaf < 9:
        if leaf == 0:
            return ir.Nil()
        return draw(st.one_of(leaves))
    op = draw(st.sampled_from(["union", "union", "intersection", "exclusion"]))
    if op == "exclusion":
        base = draw(_rewrite(drafts, draft, visible, depth - 1))
        subtract = draw(_rewrite(drafts, draft, visible, depth - 1))
        return ir.Exclusion(base, subtract)
    children = tuple(
        draw(_rewrite(drafts, draft, visible, depth - 1)) for _ in range(draw(st.integers(2, 3)))
    )
    return ir.Union(children) if op == "union" else ir.Intersection(children)


def _arrow_candidates(drafts: Mapping[str, _Draft], draft: _Draft) -> list[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for tupleset in _safe_relations(drafts, draft.name):
        allowed = draft.relations.get(tupleset, ())
        for entry in allowed:
            pairs.update((tupleset, member) for member in _members(drafts, entry.type))
    return sorted(pairs)


@st.composite
def schemas(draw: st.DrawFn) -> ir.Schema:
    """A small valid schema: ``user`` plus 1-3 definitions with relations and permissions."""
    use_caveats = draw(st.booleans())
    use_expiration = draw(st.booleans())
    count = draw(st.integers(1, 3))
    drafts: dict[str, _Draft] = {}
    for name in TYPE_NAMES[:count]:
        n_rel = draw(st.integers(2, len(RELATION_NAMES)))
        n_perm = draw(st.integers(1, len(PERMISSION_NAMES)))
        drafts[name] = _Draft(name, list(RELATION_NAMES[:n_rel]), list(PERMISSION_NAMES[:n_perm]))
    for draft in drafts.values():
        safe = _safe_relations(drafts, draft.name)
        for relation in draft.relation_names:
            draft.relations[relation] = draw(
                _allowed_subjects(
                    drafts,
                    arrow_safe=relation in safe,
                    caveats=use_caveats,
                    expiration=use_expiration,
                )
            )
    for draft in drafts.values():
        visible = list(draft.relation_names)
        for permission in draft.permission_names:
            draft.permissions[permission] = draw(_rewrite(drafts, draft, visible, depth=2))
            visible.append(permission)
    _drop_transitive_wildcards(drafts)
    _make_productive(drafts)
    definitions: dict[str, ir.Definition] = {USER: ir.Definition(USER, {}, {})}
    for draft in drafts.values():
        definitions[draft.name] = ir.Definition(
            draft.name,
            relations={n: ir.Relation(n, a) for n, a in draft.relations.items()},
            permissions={n: ir.Permission(n, r) for n, r in draft.permissions.items()},
            order=tuple(draft.relation_names + draft.permission_names),
        )
    used_caveats = {
        a.caveat for d in definitions.values() for r in d.relations.values() for a in r.allowed if a.caveat
    }
    uses_expiration = any(
        a.expiration for d in definitions.values() for r in d.relations.values() for a in r.allowed
    )
    schema = ir.Schema(
        definitions=definitions,
        caveats={n: c for n, c in CAVEATS.items() if n in used_caveats},
        use_flags=frozenset({"expiration"} if uses_expiration else set()),
        order=tuple(sorted(used_caveats)) + tuple(definitions),
    )
    try:
        strata(schema)
    except NotStratifiedError:
        reject()
    return schema


def _reaches_wildcard(drafts: Mapping[str, _Draft], type_name: str, relation: str) -> bool:
    """Whether ``type#relation`` allows a wildcard directly or through relation subject sets."""
    stack = [(type_name, relation)]
    seen: set[tuple[str, str]] = set()
    while stack:
        current = stack.pop()
        if current in seen or current[0] == USER:
            continue
        seen.add(current)
        for entry in drafts[current[0]].relations.get(current[1], ()):
            if entry.wildcard:
                return True
            if entry.relation is not None:
                stack.append((entry.type, entry.relation))
    return False


def _drop_transitive_wildcards(drafts: Mapping[str, _Draft]) -> None:
    """SpiceDB: a subject set ``T#r`` may not include a wildcard through ``r`` (transitively)."""
    doomed = {
        (draft.name, name, entry)
        for draft in drafts.values()
        for name, entries in draft.relations.items()
        for entry in entries
        if entry.relation is not None and _reaches_wildcard(drafts, entry.type, entry.relation)
    }
    for type_name, name, _ in doomed:
        draft = drafts[type_name]
        kept = tuple(e for e in draft.relations[name] if (type_name, name, e) not in doomed)
        draft.relations[name] = kept or (ir.AllowedSubject(USER),)


def _productive(
    drafts: Mapping[str, _Draft], draft: _Draft, rewrite: ir.Rewrite, done: set[tuple[str, str]]
) -> bool:
    """Whether ``rewrite`` can yield a subject without relying on a not-yet-productive member."""
    if isinstance(rewrite, ir.ComputedUserset):
        return (draft.name, rewrite.relation) in done
    if isinstance(rewrite, ir.TupleToUserset):
        targets = {
            e.type for e in draft.relations[rewrite.tupleset] if rewrite.computed in _members(drafts, e.type)
        }
        return any((t, rewrite.computed) in done for t in targets)
    if isinstance(rewrite, ir.Union):
        return any(_productive(drafts, draft, c, done) for c in rewrite.children)
    if isinstance(rewrite, ir.Intersection):
        return all(_productive(drafts, draft, c, done) for c in rewrite.children)
    if isinstance(rewrite, ir.Exclusion):
        return _productive(drafts, draft, rewrite.base, done)
    return True  # nil, self


def _make_productive(drafts: Mapping[str, _Draft]) -> None:
    """rebac's validator rejects permissions that can only be reached through themselves.

    Such a permission gets ``+ <its first relation>`` until every permission is productive.
    """
    while True:
        done = {(d.name, r) for d in drafts.values() for r in d.relation_names}
        changed = True
        while changed:
            changed = False
            for draft in drafts.values():
                for name, rewrite in draft.permissions.items():
                    if (draft.name, name) not in done and _productive(drafts, draft, rewrite, done):
                        done.add((draft.name, name))
                        changed = True
        stuck = [(d, n) for d in drafts.values() for n in d.permissions if (d.name, n) not in done]
        if not stuck:
            return
        draft, name = stuck[0]
        fallback = ir.ComputedUserset(draft.relation_names[0])
        draft.permissions[name] = ir.Union((draft.permissions[name], fallback))


# --- relationships -------------------------------------------------------------------------------


@st.composite
def _caveat_ref(draw: st.DrawFn, name: str) -> CaveatRef:
    params = sorted(CAVEATS[name].parameters)
    context: dict[str, Any] = {}
    for param in params:
        if draw(st.booleans()):
            context[param] = draw(st.integers(0, 9))
    return CaveatRef(name, context)


@st.composite
def relationships(
    draw: st.DrawFn, schema: ir.Schema, object_ids: Sequence[str] = OBJECT_IDS, max_count: int = 30
) -> list[Relationship]:
    """Relationships consistent with ``schema``: unique keys, traits of one allowed entry each."""
    slots = [
        (d.name, r.name, a)
        for d in schema.definitions.values()
        for r in d.relations.values()
        for a in r.allowed
    ]
    found: dict[tuple[str, ...], Relationship] = {}
    for _ in range(draw(st.integers(0, max_count))):
        type_name, relation, entry = draw(st.sampled_from(slots))
        resource = ObjectRef(type_name, draw(st.sampled_from(object_ids)))
        if entry.wildcard:
            subject = SubjectRef(entry.type, "*")
        else:
            ids = USER_IDS if entry.type == USER else object_ids
            subject = SubjectRef(entry.type, draw(st.sampled_from(ids)), entry.relation)
        caveat = draw(_caveat_ref(entry.caveat)) if entry.caveat else None
        expires = draw(st.sampled_from([PAST, FUTURE])) if entry.expiration else None
        rel = Relationship(resource, relation, subject, caveat, expires)
        found.setdefault(rel.key(), rel)
    return list(found.values())


_CONTEXTS: Final = st.fixed_dictionaries(
    {},
    optional={"x": st.integers(0, 9), "limit": st.integers(0, 9)},
)


DENSE_OBJECT_IDS: Final = ("o1", "o2", "o3", "o4", "o5")


@st.composite
def worlds(draw: st.DrawFn, *, dense: bool = False) -> World:
    """A schema, its text, relationships, request contexts and subjects to check.

    ``dense`` worlds have more objects per type and more relationships, so data cycles of
    several nodes (through subject sets and arrows) are common.
    """
    schema = draw(schemas())
    if dense:
        rels = draw(relationships(schema, DENSE_OBJECT_IDS, max_count=60))
    else:
        rels = draw(relationships(schema))
    contexts: list[dict[str, Any]] = [{}]
    if schema.caveats:
        contexts += draw(st.lists(_CONTEXTS, min_size=1, max_size=2))
    subjects = [SubjectRef(USER, uid) for uid in (*USER_IDS, STRANGER)]
    subjects += [SubjectRef(t, "o1") for t in schema.definitions if t != USER]
    # Subject sets as check subjects (``group:o1#rel_a``): matched exactly, never by a wildcard.
    subjects += [
        SubjectRef(t, "o1", next(iter(d.relations))) for t, d in schema.definitions.items() if d.relations
    ]
    return World(schema, print_schema(schema), rels, contexts, subjects)

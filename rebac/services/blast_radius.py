"""Blast radius: everything a subject can reach, and who can reach a resource (DESIGN §7).

:func:`blast_radius` answers "if this agent were compromised, what could it reach?": for every
resource type and every permission *and* relation the subject's type may reach (pruned with the
schema's type graph), the resources found by the engine's own lookups, as

* **raw** reach -- the subject's own grants (``delegation=False``), and
* **effective** reach -- after the ``acts_for`` caps of its principal chain (DESIGN §4); equal to
  the raw reach for a subject that does not delegate,

with conditional (caveated) results marked and one readable path for each entry. The answer of
every entry comes from the engine's lookups (cursors followed to the end); the path comes from a
directed graph of the relationships and rewrites traversed from the subject (subject -> subject
set -> ... -> ``resource#permission``): the first breadth-first path to the entry. That graph is
a sound over-approximation of reach (intersections contribute every operand, exclusions their
base), so it also tells which (type, permission) pairs are worth a lookup at all.

:func:`who_can_reach` is the reverse view: every subject (humans and agents, plain objects and
wildcards) who can reach a resource, per permission, raw and effective, with a path each.

Work and output are bounded by ``budget``: at most ``budget`` graph nodes are visited and at most
``budget`` entries are returned. When either bound is hit the result says so explicitly
(``truncated=True``, ``truncated_at=budget`` and a "truncated at N" message); nothing is dropped
silently. :func:`to_networkx`, :func:`to_json` and :func:`to_graphml` export a result.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import networkx as nx

from rebac import limits
from rebac.engine.results import LookupPage, LookupResourceItem, LookupSubjectItem, Permissionship
from rebac.errors import InvalidInputError
from rebac.refs import WILDCARD, ObjectRef, Relationship, SubjectRef
from rebac.schema import ir
from rebac.store.base import Consistency, RelationshipFilter, TupleReader
from rebac.store.revision import Revision

if TYPE_CHECKING:
    from rebac.engine import Engine

__all__ = [
    "BlastRadius",
    "PathStep",
    "PermissionReach",
    "ReachEntry",
    "StepKind",
    "WhoCanReach",
    "blast_radius",
    "to_graphml",
    "to_json",
    "to_networkx",
    "who_can_reach",
]

_Node: TypeAlias = tuple[str, str, str | None]
"""A graph node: (type, id, relation); relation ``None`` for a plain object or a wildcard."""


class StepKind(StrEnum):
    """What one step of a path stands for."""

    RELATIONSHIP = "relationship"
    """A stored relationship ``resource#relation@subject``."""
    WILDCARD = "wildcard"
    """The subject matches a ``type:*`` grant."""
    COMPUTED = "computed"
    """A permission includes another relation or permission of the same object."""
    ARROW = "arrow"
    """A permission ``x->p``: through the relationship ``resource#x@object``, ``p`` on that object."""
    SELF = "self"
    """A permission ``self``: the object itself."""


@dataclass(frozen=True, slots=True)
class PathStep:
    """One step of a path, from ``source`` to ``target`` (node labels such as ``team:a#member``).

    Attributes:
        source: Where the step starts.
        target: Where it leads.
        kind: What the step stands for.
        detail: The relationship or rewrite behind it, readable (``doc:1#viewer@team:a#member``).
        caveat: The caveat on the relationship, if any (the step is then conditional).
    """

    source: str
    target: str
    kind: StepKind
    detail: str
    caveat: str | None = None

    def __str__(self) -> str:
        caveat = f" [caveat {self.caveat}]" if self.caveat else ""
        return f"{self.source} -> {self.target} ({self.kind.value}: {self.detail}){caveat}"


@dataclass(frozen=True, slots=True)
class ReachEntry:
    """One (resource, permission, subject) the subject can reach.

    Attributes:
        resource: The resource.
        permission: The permission or relation reached.
        subject: Who reaches it.
        raw: The subject's own reach (no delegation caps).
        effective: The reach after delegation caps (``NO_PERMISSION``: raw reach its principals
            deny); ``None`` when not computed (raw-only).
        missing: Caveat parameters whose absence made a result conditional.
        path: One path from the subject to ``resource#permission``; empty only when the result
            is truncated before the path was found.
    """

    resource: ObjectRef
    permission: str
    subject: SubjectRef
    raw: Permissionship
    effective: Permissionship | None
    missing: frozenset[str] = frozenset()
    path: tuple[PathStep, ...] = ()

    @property
    def conditional(self) -> bool:
        """True when the raw or effective result depends on missing caveat context."""
        return Permissionship.CONDITIONAL in (self.raw, self.effective)

    @property
    def capped(self) -> bool:
        """True when delegation removes or weakens this raw reach."""
        return self.effective is not None and self.effective is not self.raw


@dataclass(frozen=True, slots=True)
class PermissionReach:
    """Every entry of one resource type and permission (or relation)."""

    resource_type: str
    permission: str
    entries: tuple[ReachEntry, ...]

    @property
    def raw_count(self) -> int:
        """Entries in the raw reach."""
        return sum(1 for e in self.entries if e.raw is not Permissionship.NO_PERMISSION)

    @property
    def effective_count(self) -> int:
        """Entries in the effective reach."""
        return sum(1 for e in self.entries if e.effective not in (None, Permissionship.NO_PERMISSION))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Bounded:
    """Fields shared by both views."""

    revision: str
    raw_only: bool
    groups: tuple[PermissionReach, ...]
    nodes_visited: int
    budget: int
    truncated: bool = False
    truncated_at: int | None = None
    truncated_reason: str | None = None

    @property
    def entries(self) -> Iterator[ReachEntry]:
        """Every entry, group by group."""
        for group in self.groups:
            yield from group.entries

    @property
    def message(self) -> str | None:
        """``truncated at N: ...`` when the budget was hit, else ``None``."""
        if not self.truncated:
            return None
        return f"truncated at {self.truncated_at}: {self.truncated_reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class BlastRadius(_Bounded):
    """Everything ``subject`` can reach.

    Attributes:
        subject: The subject.
        delegated: Its type declares ``acts_for`` (effective reach is capped by its principals).
        revision: The store revision every read used.
        raw_only: Effective reach was not computed.
        groups: Per resource type and permission, sorted; only non-empty groups.
        nodes_visited: Graph nodes the path search visited.
        budget: The bound on visited nodes and on returned entries.
        truncated: The budget was hit; ``truncated_at`` is the budget and ``message`` says so.
    """

    subject: SubjectRef
    delegated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class WhoCanReach(_Bounded):
    """Every subject who can reach ``resource`` (per permission); fields as :class:`BlastRadius`."""

    resource: ObjectRef


# --- shared plumbing ------------------------------------------------------------------------------


def _label(node: _Node) -> str:
    type_name, object_id, relation = node
    return f"{type_name}:{object_id}" if relation is None else f"{type_name}:{object_id}#{relation}"


def _subject_node(subject: SubjectRef) -> _Node:
    return (subject.type, subject.id, subject.relation)


def _leaves(rewrite: ir.Rewrite) -> Iterator[ir.Rewrite]:
    """Leaves that can contribute a grant (intersections: every operand; exclusions: the base)."""
    pending = [rewrite]
    while pending:
        current = pending.pop()
        if isinstance(current, ir.Union | ir.Intersection):
            pending.extend(current.children)
        elif isinstance(current, ir.Exclusion):
            pending.append(current.base)
        else:
            yield current


class _Budget:
    """Counts graph nodes and output entries against one bound."""

    def __init__(self, budget: int) -> None:
        if budget < 1:
            raise InvalidInputError("the blast radius budget must be at least 1")
        self.limit = budget
        self.reason: str | None = None
        self.entries_full = False

    def hit(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    def hit_entries(self) -> None:
        self.entries_full = True
        self.hit(f"{self.limit} entries were returned; more exist")


class _Graph:
    """A DiGraph of steps, subject side first, with node-count accounting."""

    def __init__(self, budget: _Budget) -> None:
        self.graph = nx.DiGraph()
        self.budget = budget
        self.full = False

    def add(self, source: _Node, target: _Node, kind: StepKind, detail: str, caveat: str | None) -> bool:
        """Add one step; ``False`` (and the graph is marked full) when the node budget is hit."""
        graph = self.graph
        new = (source not in graph) + (target not in graph)
        if new and graph.number_of_nodes() + new > self.budget.limit:
            self.full = True
            self.budget.hit(f"the path graph reached {self.budget.limit} nodes")
            return False
        if not graph.has_edge(source, target):
            graph.add_edge(source, target, kind=kind, detail=detail, caveat=caveat)
        return True

    def step(self, source: _Node, target: _Node) -> PathStep:
        data = self.graph.edges[source, target]
        return PathStep(_label(source), _label(target), data["kind"], data["detail"], data["caveat"])


def _caveat(rel: Relationship) -> str | None:
    return None if rel.caveat is None else rel.caveat.name


async def _query(reader: TupleReader, flt: RelationshipFilter, revision: Revision) -> list[Relationship]:
    return [rel async for rel in reader.query(flt, revision=revision)]


def _chunks(ids: Iterable[str]) -> Iterator[tuple[str, ...]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), limits.CHUNK_SIZE):
        yield tuple(ordered[start : start + limits.CHUNK_SIZE])


# --- the forward graph ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ForwardRules:
    """Which permissions a reached member feeds, indexed from the schema once."""

    computed: Mapping[tuple[str, str], tuple[str, ...]]
    arrows: Mapping[tuple[str, str], tuple[tuple[str, str, str], ...]]
    selfs: Mapping[str, tuple[str, ...]]
    subject_sets: frozenset[tuple[str, str]]

    @classmethod
    def build(cls, schema: ir.Schema) -> _ForwardRules:
        computed: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
        arrows: defaultdict[tuple[str, str], set[tuple[str, str, str]]] = defaultdict(set)
        selfs: defaultdict[str, set[str]] = defaultdict(set)
        subject_sets: set[tuple[str, str]] = set()
        for definition in schema.definitions.values():
            for relation in definition.relations.values():
                subject_sets.update((a.type, a.relation) for a in relation.allowed if a.relation is not None)
            for permission in definition.permissions.values():
                for leaf in _leaves(permission.rewrite):
                    if isinstance(leaf, ir.ComputedUserset):
                        computed[definition.name, leaf.relation].add(permission.name)
                    elif isinstance(leaf, ir.SelfRef):
                        selfs[definition.name].add(permission.name)
                    elif isinstance(leaf, ir.TupleToUserset):
                        tupleset = definition.relations.get(leaf.tupleset)
                        for allowed in tupleset.allowed if tupleset else ():
                            if allowed.relation is None and not allowed.wildcard:
                                arrows[allowed.type, leaf.computed].add(
                                    (definition.name, leaf.tupleset, permission.name)
                                )
        return cls(
            {k: tuple(sorted(v)) for k, v in computed.items()},
            {k: tuple(sorted(v)) for k, v in arrows.items()},
            {k: tuple(sorted(v)) for k, v in selfs.items()},
            frozenset(subject_sets),
        )


class _Forward:
    """Breadth-first, batched traversal from a subject along relationships and rewrites."""

    def __init__(self, reader: TupleReader, revision: Revision, rules: _ForwardRules, graph: _Graph) -> None:
        self.reader = reader
        self.revision = revision
        self.rules = rules
        self.graph = graph
        self.seen: set[_Node] = set()
        self.pending_sets: set[_Node] = set()
        self.pending_plain: set[tuple[str, str]] = set()
        self.plain: dict[tuple[str, str], list[Relationship]] = {}
        self.waiting: defaultdict[tuple[str, str], set[str]] = defaultdict(set)

    def reach(self, node: _Node) -> None:
        """Record a reached member node and schedule what it leads to."""
        if node in self.seen or self.graph.full:
            return
        self.seen.add(node)
        type_name, object_id, relation = node
        if relation is None:
            return
        if (type_name, relation) in self.rules.subject_sets:
            self.pending_sets.add(node)
        for permission in self.rules.computed.get((type_name, relation), ()):
            target = (type_name, object_id, permission)
            if self.graph.add(
                node, target, StepKind.COMPUTED, f"{type_name}#{permission} includes {relation}", None
            ):
                self.reach(target)
        if (type_name, relation) in self.rules.arrows:
            key = (type_name, object_id)
            self.waiting[key].add(relation)
            if key in self.plain:
                self._arrows(key)
            else:
                self.pending_plain.add(key)

    def _arrows(self, key: tuple[str, str]) -> None:
        type_name, object_id = key
        relations = self.waiting.pop(key, set())
        for relation in sorted(relations):
            source = (type_name, object_id, relation)
            rules = self.rules.arrows[type_name, relation]
            for rel in self.plain[key]:
                for resource_type, tupleset, permission in rules:
                    if rel.resource.type != resource_type or rel.relation != tupleset:
                        continue
                    target = (resource_type, rel.resource.id, permission)
                    detail = f"{rel.resource}#{tupleset}@{type_name}:{object_id}, then {tupleset}->{relation}"
                    if self.graph.add(source, target, StepKind.ARROW, detail, _caveat(rel)):
                        self.reach(target)

    def _grant(self, source: _Node, rel: Relationship) -> None:
        target = (rel.resource.type, rel.resource.id, rel.relation)
        if self.graph.add(
            source,
            target,
            StepKind.RELATIONSHIP,
            str(Relationship(rel.resource, rel.relation, rel.subject)),
            _caveat(rel),
        ):
            self.reach(target)

    async def start(self, subject: SubjectRef) -> None:
        node = _subject_node(subject)
        self.graph.graph.add_node(node)
        if subject.relation is not None:
            self.reach(node)
        else:
            self.seen.add(node)
            for permission in self.rules.selfs.get(subject.type, ()):
                target = (subject.type, subject.id, permission)
                if self.graph.add(
                    node, target, StepKind.SELF, f"{subject.type}#{permission} includes self", None
                ):
                    self.reach(target)
            own = RelationshipFilter(
                subject_type=subject.type, subject_ids=(subject.id,), subject_relation=None
            )
            rels = await _query(self.reader, own, self.revision)
            self.plain[subject.type, subject.id] = rels
            for rel in rels:
                self._grant(node, rel)
            wildcard = (subject.type, WILDCARD, None)
            flt = RelationshipFilter(
                subject_type=subject.type, subject_ids=(WILDCARD,), subject_relation=None
            )
            for rel in await _query(self.reader, flt, self.revision):
                if self.graph.add(
                    node, wildcard, StepKind.WILDCARD, f"{subject} matches {subject.type}:*", None
                ):
                    self._grant(wildcard, rel)
        await self.run()

    async def run(self) -> None:
        while (self.pending_sets or self.pending_plain) and not self.graph.full:
            sets, self.pending_sets = self.pending_sets, set()
            plain, self.pending_plain = self.pending_plain, set()
            by_set: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
            for type_name, object_id, relation in sets:
                by_set[type_name, relation or ""].add(object_id)
            for (type_name, relation), ids in sorted(by_set.items()):
                for chunk in _chunks(ids):
                    flt = RelationshipFilter(
                        subject_type=type_name, subject_ids=chunk, subject_relation=relation
                    )
                    for rel in await _query(self.reader, flt, self.revision):
                        self._grant(_subject_node(rel.subject), rel)
            by_type: defaultdict[str, set[str]] = defaultdict(set)
            for type_name, object_id in plain:
                by_type[type_name].add(object_id)
            for type_name, ids in sorted(by_type.items()):
                for chunk in _chunks(ids):
                    flt = RelationshipFilter(subject_type=type_name, subject_ids=chunk, subject_relation=None)
                    found: defaultdict[str, list[Relationship]] = defaultdict(list)
                    for rel in await _query(self.reader, flt, self.revision):
                        found[rel.subject.id].append(rel)
                    for object_id in chunk:
                        self.plain[type_name, object_id] = found.get(object_id, [])
                        self._arrows((type_name, object_id))


# --- the reverse graph ----------------------------------------------------------------------------


class _Reverse:
    """Breadth-first, batched traversal backwards from ``resource#permission`` to its subjects."""

    def __init__(self, reader: TupleReader, revision: Revision, schema: ir.Schema, graph: _Graph) -> None:
        self.reader = reader
        self.revision = revision
        self.schema = schema
        self.graph = graph
        self.seen: set[_Node] = set()
        self.pending: set[tuple[str, str, str]] = set()
        self.tuples: dict[tuple[str, str, str], list[Relationship]] = {}
        self.consumers: defaultdict[tuple[str, str, str], list[tuple[_Node, str | None]]] = defaultdict(list)

    def _need(self, key: tuple[str, str, str], target: _Node, computed: str | None) -> None:
        """``target`` consumes the relationships ``key`` (direct grants, or an arrow to ``computed``)."""
        self.consumers[key].append((target, computed))
        if key in self.tuples:
            self._consume(key)
        else:
            self.pending.add(key)

    def reach(self, node: _Node) -> None:
        if node in self.seen or self.graph.full:
            return
        self.seen.add(node)
        type_name, object_id, relation = node
        definition = self.schema.definitions.get(type_name)
        if relation is None or definition is None:
            return
        if relation in definition.relations:
            self._need((type_name, object_id, relation), node, None)
            return
        permission = definition.permissions.get(relation)
        if permission is None:
            return
        for leaf in _leaves(permission.rewrite):
            if isinstance(leaf, ir.ComputedUserset):
                source = (type_name, object_id, leaf.relation)
                if self.graph.add(
                    source, node, StepKind.COMPUTED, f"{type_name}#{relation} includes {leaf.relation}", None
                ):
                    self.reach(source)
            elif isinstance(leaf, ir.SelfRef):
                self.graph.add(
                    (type_name, object_id, None),
                    node,
                    StepKind.SELF,
                    f"{type_name}#{relation} includes self",
                    None,
                )
            elif isinstance(leaf, ir.TupleToUserset):
                self._need((type_name, object_id, leaf.tupleset), node, leaf.computed)

    def _consume(self, key: tuple[str, str, str]) -> None:
        for target, computed in self.consumers.pop(key, []):
            for rel in self.tuples[key]:
                subject = rel.subject
                if computed is None:
                    source = (subject.type, subject.id, subject.relation)
                    detail = str(Relationship(rel.resource, rel.relation, subject))
                    if self.graph.add(source, target, StepKind.RELATIONSHIP, detail, _caveat(rel)):
                        self.reach(source)
                    continue
                definition = self.schema.definitions.get(subject.type)
                if subject.relation is not None or subject.is_wildcard or definition is None:
                    continue
                if definition.member(computed) is None:
                    continue
                source = (subject.type, subject.id, computed)
                detail = f"{rel.resource}#{rel.relation}@{subject}, then {rel.relation}->{computed}"
                if self.graph.add(source, target, StepKind.ARROW, detail, _caveat(rel)):
                    self.reach(source)

    async def run(self) -> None:
        while self.pending and not self.graph.full:
            pending, self.pending = self.pending, set()
            grouped: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
            for type_name, object_id, relation in pending:
                grouped[type_name, relation].add(object_id)
            for (type_name, relation), ids in sorted(grouped.items()):
                for chunk in _chunks(ids):
                    flt = RelationshipFilter(resource_type=type_name, resource_ids=chunk, relation=relation)
                    found: defaultdict[str, list[Relationship]] = defaultdict(list)
                    for rel in await _query(self.reader, flt, self.revision):
                        found[rel.resource.id].append(rel)
                    for object_id in chunk:
                        key = (type_name, object_id, relation)
                        self.tuples[key] = found.get(object_id, [])
                        self._consume(key)


class _Paths:
    """Breadth-first paths from ``start`` over the graph, each built once from its parent's."""

    def __init__(self, graph: _Graph, start: _Node) -> None:
        self.graph = graph
        self.parents = {child: parent for parent, child in nx.bfs_edges(graph.graph, start)}
        self.memo: dict[_Node, tuple[PathStep, ...]] = {start: ()}

    def to(self, target: _Node) -> tuple[PathStep, ...]:
        """The path to ``target`` (empty when unreached)."""
        found = self.memo.get(target)
        if found is not None:
            return found
        if target not in self.parents:
            return ()
        chain = [target]
        while chain[-1] not in self.memo:
            chain.append(self.parents[chain[-1]])
        path = self.memo[chain[-1]]
        for parent, child in itertools.pairwise(reversed(chain)):
            path = (*path, self.graph.step(parent, child))
            self.memo[child] = path
        return path


def _path_to(
    graph: _Graph, children: Mapping[_Node, _Node], start: _Node, target: _Node
) -> tuple[PathStep, ...]:
    """The path ``start`` -> ``target`` from a reverse breadth-first ``children`` map rooted at ``target``."""
    if start not in children:
        return ()
    nodes = [start]
    while nodes[-1] != target:
        nodes.append(children[nodes[-1]])
    return tuple(graph.step(a, b) for a, b in itertools.pairwise(nodes))


def _subject_path(
    graph: _Graph, children: Mapping[_Node, _Node], subject: SubjectRef, target: _Node
) -> tuple[PathStep, ...]:
    """The path from ``subject`` (directly, or through its type's wildcard) to ``target``."""
    node = _subject_node(subject)
    path = _path_to(graph, children, node, target)
    if path or subject.is_wildcard:
        return path
    wildcard = (subject.type, WILDCARD, None)
    rest = _path_to(graph, children, wildcard, target)
    if not rest:
        return ()
    first = PathStep(_label(node), _label(wildcard), StepKind.WILDCARD, f"{subject} matches {subject.type}:*")
    return (first, *rest)


# --- lookups ----------------------------------------------------------------------------------------


T = TypeVar("T")


async def _collect(
    fetch: Callable[[int, str | None], Awaitable[LookupPage[T]]], remaining: int
) -> tuple[list[T], bool]:
    """Every item of a lookup (cursors followed), stopping after ``remaining + 1`` (then ``True``).

    Args:
        fetch: Returns one page for ``(limit, cursor)``.
        remaining: How many items the budget still allows.
    """
    items: list[T] = []
    cursor: str | None = None
    while True:
        page = await fetch(max(1, min(limits.MAX_LOOKUP_PAGE_SIZE, remaining + 1 - len(items))), cursor)
        items.extend(page.items)
        if len(items) > remaining:
            return items[:remaining], True
        if page.cursor is None:
            return items, False
        cursor = page.cursor


async def _resources(
    engine: Engine,
    resource_type: str,
    permission: str,
    subject: SubjectRef,
    revision: Revision,
    *,
    delegation: bool,
    remaining: int,
) -> tuple[list[LookupResourceItem], bool]:
    """Every resource ``subject`` reaches, bounded like :func:`_collect`."""

    def fetch(limit: int, cursor: str | None) -> Awaitable[LookupPage[LookupResourceItem]]:
        return engine.lookup_resources(
            resource_type,
            permission,
            subject,
            revision=revision,
            limit=limit,
            cursor=cursor,
            delegation=delegation,
        )

    return await _collect(fetch, remaining)


async def _subjects(
    engine: Engine,
    resource: ObjectRef,
    permission: str,
    subject_type: str,
    revision: Revision,
    *,
    delegation: bool,
    remaining: int,
) -> tuple[list[LookupSubjectItem], bool]:
    """Every subject of ``subject_type`` reaching ``resource``, bounded like :func:`_collect`."""

    def fetch(limit: int, cursor: str | None) -> Awaitable[LookupPage[LookupSubjectItem]]:
        return engine.lookup_subjects(
            resource,
            permission,
            subject_type,
            revision=revision,
            limit=limit,
            cursor=cursor,
            delegation=delegation,
        )

    return await _collect(fetch, remaining)


def _effective(
    raw: Permissionship, capped: Permissionship | None, *, delegating: bool, raw_only: bool
) -> Permissionship | None:
    """The effective value of an entry: ``None`` when not computed, the raw value without delegation."""
    if raw_only:
        return None
    if not delegating:
        return raw
    return Permissionship.NO_PERMISSION if capped is None else capped


def _bounds(graph: _Graph) -> dict[str, Any]:
    """The size and truncation fields of a result."""
    reason = graph.budget.reason
    return {
        "nodes_visited": graph.graph.number_of_nodes(),
        "budget": graph.budget.limit,
        "truncated": reason is not None,
        "truncated_at": graph.budget.limit if reason is not None else None,
        "truncated_reason": reason,
    }


def _members(definition: ir.Definition) -> list[str]:
    return sorted([*definition.relations, *definition.permissions])


def _selected(values: Sequence[str] | None, value: str) -> bool:
    return values is None or value in values


# --- the forward view ---------------------------------------------------------------------------


async def blast_radius(
    engine: Engine,
    subject: SubjectRef,
    *,
    consistency: Consistency | None = None,
    revision: Revision | None = None,
    budget: int = limits.EXPAND_NODE_BUDGET,
    resource_types: Sequence[str] | None = None,
    permissions: Sequence[str] | None = None,
    raw_only: bool = False,
) -> BlastRadius:
    """Everything ``subject`` can reach, raw and effective, with one path for each entry.

    Args:
        engine: The engine (its lookups decide every entry).
        subject: An object (``agent:a``) or a subject set (``team:t#member``); not a wildcard.
        consistency: How fresh the reads must be (ignored with ``revision``).
        revision: Read at exactly this revision.
        budget: Most graph nodes visited and most entries returned; hitting it is reported.
        resource_types: Only these resource types (default: every type the subject may reach).
        permissions: Only these permissions or relations (default: all).
        raw_only: Skip the effective (delegation-capped) reach.

    Raises:
        InvalidInputError: a wildcard subject or a budget below 1.
        NotFoundError: an unknown subject type or relation.
        EvaluationError: a lookup could not decide (treat the whole answer as unknown).
    """
    if subject.is_wildcard:
        raise InvalidInputError("a blast radius subject cannot be a wildcard")
    model = engine.model
    model.definition(subject.type)
    if subject.relation is not None:
        model.member(subject.type, subject.relation)
    if revision is None:
        revision = await engine.resolve(consistency)
    bound = _Budget(budget)
    graph = _Graph(bound)
    forward = _Forward(engine.reader, revision, _ForwardRules.build(model.schema), graph)
    await forward.start(subject)
    reached: set[tuple[str, str]] = {(t, r) for t, _, r in graph.graph.nodes if r is not None}
    delegated = subject.relation is None and model.definition(subject.type).acts_for is not None
    start = _subject_node(subject)
    paths = _Paths(graph, start)
    groups: list[PermissionReach] = []
    count = 0
    for type_name in sorted(model.schema.definitions):
        if not _selected(resource_types, type_name):
            continue
        for member in _members(model.schema.definitions[type_name]):
            if not _selected(permissions, member) or bound.entries_full:
                continue
            if not model.may_reach(type_name, member, subject.type, subject.relation):
                continue
            if not graph.full and (type_name, member) not in reached:
                continue  # the (complete) graph proves no data connects them
            remaining = bound.limit - count
            if remaining <= 0:
                bound.hit_entries()
                break
            raw, over = await _resources(
                engine, type_name, member, subject, revision, delegation=False, remaining=remaining
            )
            effective: dict[str, LookupResourceItem] = {}
            if delegated and not raw_only and raw:
                capped, _ = await _resources(
                    engine, type_name, member, subject, revision, delegation=True, remaining=remaining
                )
                effective = {item.resource_id: item for item in capped}
            if over:
                bound.hit_entries()
            entries = [
                ReachEntry(
                    ObjectRef(type_name, item.resource_id),
                    member,
                    subject,
                    item.permissionship,
                    _effective(
                        item.permissionship,
                        eff.permissionship if (eff := effective.get(item.resource_id)) else None,
                        delegating=delegated,
                        raw_only=raw_only,
                    ),
                    item.missing | (eff.missing if eff else frozenset()),
                    paths.to((type_name, item.resource_id, member)),
                )
                for item in raw
                if (type_name, item.resource_id, member) != start  # a subject set reaches itself
            ]
            count += len(entries)
            if entries:
                groups.append(PermissionReach(type_name, member, tuple(entries)))
    return BlastRadius(
        revision=str(revision),
        raw_only=raw_only,
        groups=tuple(groups),
        subject=subject,
        delegated=delegated,
        **_bounds(graph),
    )


# --- the reverse view ---------------------------------------------------------------------------


async def who_can_reach(
    engine: Engine,
    resource: ObjectRef,
    permission: str | None = None,
    *,
    consistency: Consistency | None = None,
    revision: Revision | None = None,
    budget: int = limits.EXPAND_NODE_BUDGET,
    subject_types: Sequence[str] | None = None,
    raw_only: bool = False,
) -> WhoCanReach:
    """Every subject (humans and agents) who can reach ``resource``, per permission.

    Args:
        engine: The engine (its lookups decide every entry).
        resource: The resource.
        permission: One permission or relation; default every member of the resource's type.
        consistency: How fresh the reads must be (ignored with ``revision``).
        revision: Read at exactly this revision.
        budget: Most graph nodes visited and most entries returned; hitting it is reported.
        subject_types: Only subjects of these types (default: every type that may reach it).
        raw_only: Skip the effective (delegation-capped) reach of delegating subject types.

    Raises:
        InvalidInputError: a budget below 1.
        NotFoundError: an unknown type or permission.
        EvaluationError: a lookup could not decide.
    """
    model = engine.model
    definition = model.definition(resource.type)
    if permission is not None:
        model.member(resource.type, permission)
    if revision is None:
        revision = await engine.resolve(consistency)
    bound = _Budget(budget)
    graph = _Graph(bound)
    reverse = _Reverse(engine.reader, revision, model.schema, graph)
    wanted = [permission] if permission is not None else _members(definition)
    for member in wanted:
        graph.graph.add_node((resource.type, resource.id, member))
        reverse.reach((resource.type, resource.id, member))
    await reverse.run()
    plain_types = {t for t, _, r in graph.graph.nodes if r is None}
    groups: list[PermissionReach] = []
    count = 0
    for member in wanted:
        target = (resource.type, resource.id, member)
        children = {child: parent for parent, child in nx.bfs_edges(graph.graph, target, reverse=True)}
        entries: list[ReachEntry] = []
        for subject_type in sorted(model.schema.definitions):
            if not _selected(subject_types, subject_type) or bound.entries_full:
                continue
            if not model.may_reach(resource.type, member, subject_type, None):
                continue
            if not graph.full and subject_type not in plain_types:
                continue
            remaining = bound.limit - count - len(entries)
            if remaining <= 0:
                bound.hit_entries()
                break
            raw, over = await _subjects(
                engine, resource, member, subject_type, revision, delegation=False, remaining=remaining
            )
            delegating = model.definition(subject_type).acts_for is not None
            effective: dict[SubjectRef, LookupSubjectItem] = {}
            if delegating and not raw_only and raw:
                capped, _ = await _subjects(
                    engine, resource, member, subject_type, revision, delegation=True, remaining=remaining
                )
                effective = {item.subject: item for item in capped}
            if over:
                bound.hit_entries()
            entries.extend(
                ReachEntry(
                    resource,
                    member,
                    item.subject,
                    item.permissionship,
                    _effective(
                        item.permissionship,
                        eff.permissionship if (eff := effective.get(item.subject)) else None,
                        delegating=delegating,
                        raw_only=raw_only,
                    ),
                    item.missing | (eff.missing if eff else frozenset()),
                    _subject_path(graph, children, item.subject, target),
                )
                for item in raw
            )
        count += len(entries)
        if entries:
            groups.append(PermissionReach(resource.type, member, tuple(entries)))
    return WhoCanReach(
        revision=str(revision), raw_only=raw_only, groups=tuple(groups), resource=resource, **_bounds(graph)
    )


# --- export ---------------------------------------------------------------------------------------


def _permissionship(value: Permissionship | None) -> str:
    return "" if value is None else value.name.lower()


def to_networkx(result: BlastRadius | WhoCanReach) -> Any:
    """The result as an ``nx.DiGraph`` (GraphML-safe attributes: strings, ints and booleans).

    Nodes are labels (``user:tom``, ``team:a#member``, ``doc:1#view``). Every path step is an edge
    with ``kind``, ``detail`` and ``caveat``; every entry sets ``reach=True`` on the edge from its
    subject to ``resource#permission`` (added when the path is longer than one step), with
    ``raw``, ``effective``, ``conditional`` and ``missing``. Graph attributes give the view, the
    subject or resource, the revision and the truncation.
    """
    graph = nx.DiGraph()
    if isinstance(result, BlastRadius):
        graph.graph.update(view="blast_radius", origin=str(result.subject), delegated=result.delegated)
    else:
        graph.graph.update(view="who_can_reach", origin=str(result.resource), delegated=False)
    graph.graph.update(
        revision=result.revision,
        raw_only=result.raw_only,
        budget=result.budget,
        truncated=result.truncated,
        truncated_at=result.truncated_at or 0,
        message=result.message or "",
    )
    for entry in result.entries:
        for step in entry.path:
            if not graph.has_edge(step.source, step.target):
                graph.add_edge(
                    step.source,
                    step.target,
                    kind=step.kind.value,
                    detail=step.detail,
                    caveat=step.caveat or "",
                    reach=False,
                )
        source, target = str(entry.subject), f"{entry.resource}#{entry.permission}"
        if not graph.has_edge(source, target):
            graph.add_edge(source, target, kind="reach", detail="", caveat="")
        graph.edges[source, target].update(
            reach=True,
            raw=_permissionship(entry.raw),
            effective=_permissionship(entry.effective),
            conditional=entry.conditional,
            missing=",".join(sorted(entry.missing)),
        )
    return graph


def to_json(result: BlastRadius | WhoCanReach) -> str:
    """The graph of :func:`to_networkx` as networkx node-link JSON (edges under ``"edges"``)."""
    data = nx.node_link_data(to_networkx(result), edges="edges")
    return json.dumps(data, sort_keys=True)


def to_graphml(result: BlastRadius | WhoCanReach) -> str:
    """The graph of :func:`to_networkx` as GraphML."""
    return "\n".join(nx.generate_graphml(to_networkx(result)))

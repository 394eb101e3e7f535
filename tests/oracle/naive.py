"""A deliberately naive reference evaluator for SpiceDB check semantics (test oracle).

It shares no code with ``rebac.engine``. It works on the compiled IR (``rebac.schema.ir``) and a
plain list of relationships, and computes, for ONE subject and ONE request context, the
three-valued answer of *every* (object, relation-or-permission) pair at once, by iterating the
definitions to a fixed point over sets. Nothing is clever, nothing is cached across subjects.

Semantics (DESIGN §4, SpiceDB's docs and its check dispatcher):

* A relation ``o#r`` holds for subject ``s`` through a live relationship ``o#r@x`` when ``x == s``,
  or ``x`` is ``T:*`` and ``s`` is a plain object of type ``T`` (a wildcard never matches a
  subject set), or ``x`` is a subject set ``g#m`` and ``s`` is in ``g#m``. The relationship's own
  caveat is ANDed with that.
* Expired relationships (``expires_at <= now``) do not exist.
* A caveat is evaluated on the request context overlaid by the relationship's stored context (the
  stored values win, as in SpiceDB). A missing parameter makes it CONDITIONAL.
* ``+`` / ``&`` / ``-`` are Kleene OR / AND / AND-NOT over NO < CONDITIONAL < YES.
* ``ts->c`` (``.any``): OR over live ``o#ts@y`` of ``caveat(t) AND c(y)``; a subject type that does
  not define ``c`` contributes NO. A subject set ``y = Y:id#rel`` is walked as the object ``Y:id``.
* ``ts.all(c)``: NO when there is no live ``o#ts@y`` at all; otherwise AND over every live one of
  ``caveat(t) AND c(y)``, where a type lacking ``c`` gives NO (so the whole arrow is NO). This is
  SpiceDB's ``checkIntersectionTupleToUserset``: an empty tupleset denies, and a subject whose
  type lacks the relation is a non-member. A caveat that evaluates false on a tupleset relationship
  therefore makes ``.all`` false (conformance file ``caveatedintersectionarrow.yaml``).
* ``nil`` is NO; ``self`` holds only for the resource itself as a plain subject.
* Cycles in data contribute nothing: the answer is the least fixed point. Exclusion is not
  monotone, so the schema must be *stratified* (no dependency cycle through the subtracted side
  of an exclusion); :func:`strata` checks that and the generators only produce such schemas.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

import networkx as nx

from rebac.refs import ObjectRef, Relationship, SubjectRef
from rebac.schema import ir

__all__ = [
    "CaveatFn",
    "NaiveWorld",
    "NotStratifiedError",
    "Tri",
    "dependency_graph",
    "strata",
]

CaveatFn = Callable[[Mapping[str, Any]], bool]
"""Python implementation of a caveat expression, given a COMPLETE context."""

Node = tuple[str, str]
"""A schema-level node: (type name, relation or permission name)."""

Cell = tuple[str, str, str]
"""A data-level node: (type name, object id, relation or permission name)."""


class Tri(IntEnum):
    """Three-valued result, ordered NO < CONDITIONAL < YES (Kleene logic)."""

    NO = 0
    CONDITIONAL = 1
    YES = 2

    def __and__(self, other: object) -> Tri:
        if not isinstance(other, Tri):
            return NotImplemented
        return Tri(min(self, other))

    def __or__(self, other: object) -> Tri:
        if not isinstance(other, Tri):
            return NotImplemented
        return Tri(max(self, other))

    def __invert__(self) -> Tri:
        return Tri(2 - self.value)


class NotStratifiedError(ValueError):
    """The schema has a dependency cycle through the subtracted side of an exclusion."""


# --- schema-level dependency graph ---------------------------------------------------------------


def _tupleset_types(definition: ir.Definition, tupleset: str) -> set[str]:
    relation = definition.relations.get(tupleset)
    if relation is None:
        return set()
    return {a.type for a in relation.allowed}


def _rewrite_edges(
    schema: ir.Schema, definition: ir.Definition, rewrite: ir.Rewrite, *, negative: bool
) -> Iterable[tuple[Node, bool]]:
    if isinstance(rewrite, ir.ComputedUserset):
        yield (definition.name, rewrite.relation), negative
    elif isinstance(rewrite, ir.TupleToUserset):
        yield (definition.name, rewrite.tupleset), negative
        for type_name in _tupleset_types(definition, rewrite.tupleset):
            target = schema.definition(type_name)
            if target is not None and target.member(rewrite.computed) is not None:
                yield (type_name, rewrite.computed), negative
    elif isinstance(rewrite, ir.Union | ir.Intersection):
        for child in rewrite.children:
            yield from _rewrite_edges(schema, definition, child, negative=negative)
    elif isinstance(rewrite, ir.Exclusion):
        yield from _rewrite_edges(schema, definition, rewrite.base, negative=negative)
        yield from _rewrite_edges(schema, definition, rewrite.subtract, negative=True)


def dependency_graph(schema: ir.Schema) -> nx.DiGraph:
    """Edges ``u -> v`` when ``u`` reads ``v``; attribute ``negative`` marks subtracted reads."""
    graph = nx.DiGraph()
    for definition in schema.definitions.values():
        for relation in definition.relations.values():
            node = (definition.name, relation.name)
            graph.add_node(node)
            for allowed in relation.allowed:
                if allowed.relation is not None:
                    graph.add_edge(node, (allowed.type, allowed.relation), negative=False)
        for permission in definition.permissions.values():
            node = (definition.name, permission.name)
            graph.add_node(node)
            for target, negative in _rewrite_edges(schema, definition, permission.rewrite, negative=False):
                previous = graph.get_edge_data(node, target, default={}).get("negative", False)
                graph.add_edge(node, target, negative=negative or previous)
    return graph


def strata(schema: ir.Schema) -> list[list[Node]]:
    """Strongly connected groups of nodes, dependencies first.

    Raises:
        NotStratifiedError: if an exclusion's subtracted side depends on its own permission.
    """
    graph = dependency_graph(schema)
    condensed = nx.condensation(graph)
    mapping: dict[Node, int] = condensed.graph["mapping"]
    for u, v, data in graph.edges(data=True):
        if data["negative"] and mapping[u] == mapping[v]:
            raise NotStratifiedError(f"{u} subtracts {v}, which depends on it again")
    order = list(reversed(list(nx.topological_sort(condensed))))
    return [sorted(condensed.nodes[c]["members"]) for c in order]


# --- evaluation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Env:
    """One fixed-point computation: the subject, the request context and the values so far."""

    subject: SubjectRef
    context: dict[str, Any]
    values: dict[Cell, Tri]

    def value(self, cell: Cell) -> Tri:
        """The current value of ``cell`` (NO until shown otherwise)."""
        return self.values.get(cell, Tri.NO)


@dataclass
class NaiveWorld:
    """A schema, a set of relationships and a clock: answers checks by brute force.

    Attributes:
        schema: The compiled schema (ground truth).
        relationships: Every stored relationship (expired ones included; they are ignored).
        caveats: Python implementations of the schema's caveats, by name.
        now: The instant that decides expiry.
    """

    schema: ir.Schema
    relationships: list[Relationship]
    caveats: Mapping[str, CaveatFn] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self._strata = strata(self.schema)
        self._live: dict[Cell, list[Relationship]] = defaultdict(list)
        self._objects: dict[str, set[str]] = defaultdict(set)
        for rel in self.relationships:
            self._objects[rel.resource.type].add(rel.resource.id)
            if not rel.subject.is_wildcard:
                self._objects[rel.subject.type].add(rel.subject.id)
            if not rel.is_expired(self.now):
                self._live[rel.resource.type, rel.resource.id, rel.relation].append(rel)
        self._memo: dict[tuple[SubjectRef, str], dict[Cell, Tri]] = {}

    # -- public API -------------------------------------------------------------------------------

    def objects(self, type_name: str) -> set[str]:
        """Ids of every object of ``type_name`` mentioned by a relationship (expired or not)."""
        return set(self._objects.get(type_name, set()))

    def check(
        self,
        resource: ObjectRef,
        permission: str,
        subject: SubjectRef,
        context: Mapping[str, Any] | None = None,
    ) -> Tri:
        """The three-valued answer of ``resource#permission@subject`` under ``context``."""
        values = self._solve(subject, dict(context or {}))
        return values.get((resource.type, resource.id, permission), Tri.NO)

    def lookup_resources(
        self,
        resource_type: str,
        permission: str,
        subject: SubjectRef,
        context: Mapping[str, Any] | None = None,
    ) -> dict[str, Tri]:
        """Every resource id of ``resource_type`` whose check is not NO, with its answer."""
        values = self._solve(subject, dict(context or {}))
        return {
            oid: value
            for (type_name, oid, member), value in values.items()
            if type_name == resource_type and member == permission and value is not Tri.NO
        }

    def lookup_subjects(
        self,
        resource: ObjectRef,
        permission: str,
        candidates: Iterable[SubjectRef],
        context: Mapping[str, Any] | None = None,
    ) -> dict[SubjectRef, Tri]:
        """Every candidate subject whose check is not NO, with its answer."""
        found: dict[SubjectRef, Tri] = {}
        for subject in candidates:
            value = self.check(resource, permission, subject, context)
            if value is not Tri.NO:
                found[subject] = value
        return found

    # -- the fixed point --------------------------------------------------------------------------

    def _solve(self, subject: SubjectRef, context: dict[str, Any]) -> dict[Cell, Tri]:
        key = (subject, json.dumps(context, sort_keys=True))
        if key in self._memo:
            return self._memo[key]
        values: dict[Cell, Tri] = {}
        env = _Env(subject, context, values)
        for group in self._strata:
            cells = [
                (type_name, oid, member)
                for type_name, member in group
                for oid in self._universe(type_name, subject)
            ]
            changed = True
            while changed:
                changed = False
                for cell in cells:
                    new = self._eval_member(cell, env)
                    old = values.get(cell, Tri.NO)
                    if new < old:  # monotone iteration from NO may only go up
                        msg = f"non-monotone step at {cell}: {old!r} -> {new!r}"
                        raise AssertionError(msg)
                    if new != old:
                        values[cell] = new
                        changed = True
        self._memo[key] = values
        return values

    def _universe(self, type_name: str, subject: SubjectRef) -> set[str]:
        ids = set(self._objects.get(type_name, set()))
        if subject.type == type_name and not subject.is_wildcard:
            ids.add(subject.id)
        return ids

    def _eval_member(self, cell: Cell, env: _Env) -> Tri:
        type_name, oid, member = cell
        subject = env.subject
        if subject.relation is not None and (subject.type, subject.id, subject.relation) == cell:
            return Tri.YES  # a subject set is always a member of itself
        definition = self.schema.definitions[type_name]
        if member in definition.relations:
            return self._eval_relation(cell, env)
        permission = definition.permissions[member]
        return self._eval_rewrite(definition, oid, permission.rewrite, env)

    def _eval_relation(self, cell: Cell, env: _Env) -> Tri:
        subject = env.subject
        result = Tri.NO
        for rel in self._live.get(cell, []):
            target = rel.subject
            if target.relation is not None:
                match = Tri.YES if target == subject else env.value((target.type, target.id, target.relation))
            elif target.is_wildcard:
                plain = subject.relation is None and not subject.is_wildcard
                match = Tri.YES if plain and subject.type == target.type else Tri.NO
            else:
                match = Tri.YES if target == subject else Tri.NO
            result |= match & self._caveat(rel, env.context)
        return result

    def _eval_rewrite(self, definition: ir.Definition, oid: str, rewrite: ir.Rewrite, env: _Env) -> Tri:
        def sub(child: ir.Rewrite) -> Tri:
            return self._eval_rewrite(definition, oid, child, env)

        subject = env.subject
        if isinstance(rewrite, ir.Nil):
            return Tri.NO
        if isinstance(rewrite, ir.SelfRef):
            is_self = (subject.type, subject.id, subject.relation) == (definition.name, oid, None)
            return Tri.YES if is_self else Tri.NO
        if isinstance(rewrite, ir.ComputedUserset):
            return env.value((definition.name, oid, rewrite.relation))
        if isinstance(rewrite, ir.Union):
            result = Tri.NO
            for child in rewrite.children:
                result |= sub(child)
            return result
        if isinstance(rewrite, ir.Intersection):
            result = Tri.YES
            for child in rewrite.children:
                result &= sub(child)
            return result
        if isinstance(rewrite, ir.Exclusion):
            return sub(rewrite.base) & ~sub(rewrite.subtract)
        return self._eval_arrow(definition, oid, rewrite, env)

    def _eval_arrow(self, definition: ir.Definition, oid: str, arrow: ir.TupleToUserset, env: _Env) -> Tri:
        branches: list[Tri] = []
        for rel in self._live.get((definition.name, oid, arrow.tupleset), []):
            target_def = self.schema.definitions.get(rel.subject.type)
            if target_def is None or target_def.member(arrow.computed) is None:
                reached = Tri.NO
            else:
                reached = env.value((rel.subject.type, rel.subject.id, arrow.computed))
            branches.append(self._caveat(rel, env.context) & reached)
        if arrow.mode == "all":
            if not branches:
                return Tri.NO
            return Tri(min(branches))
        return Tri(max(branches, default=Tri.NO))

    def _caveat(self, rel: Relationship, context: dict[str, Any]) -> Tri:
        if rel.caveat is None:
            return Tri.YES
        definition = self.schema.caveats[rel.caveat.name]
        merged = {**context, **rel.caveat.context}
        if any(name not in merged for name in definition.parameters):
            return Tri.CONDITIONAL
        return Tri.YES if self.caveats[rel.caveat.name](merged) else Tri.NO

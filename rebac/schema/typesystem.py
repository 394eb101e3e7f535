"""A resolved, cached view of one compiled schema, for the engine.

Besides lookups that raise typed errors, it answers :meth:`TypeSystem.may_reach`: can checking
``resource_type#relation`` ever yield a given subject type? The answer comes from a small static
graph of the schema (networkx), so the engine can skip impossible branches before any I/O.

Graph nodes are ``("member", type, name)`` for each relation/permission and
``("subject", type, relation)`` for each kind of subject a relation stores (``relation`` is
``None`` for plain objects and wildcards). Edges follow what evaluation can do:

* a relation stores its allowed subjects, and ``type#rel`` subjects are expanded through
  ``("member", type, rel)``;
* a permission reaches whatever its rewrite references: computed usersets, arrows (to the
  computed member on every type the tupleset allows), ``self`` (the resource's own type);
  exclusions reach only their base; intersections reach all children (an over-approximation).
"""

from __future__ import annotations

from typing import TypeAlias

import networkx as nx

from rebac.errors import UnknownRelationError, UnknownTypeError
from rebac.schema import ir

__all__ = ["TypeSystem"]

_Node: TypeAlias = tuple[str, str, str | None]


class TypeSystem:
    """Resolved lookups over a compiled schema, with per-instance caches.

    Args:
        schema: The compiled schema.
    """

    def __init__(self, schema: ir.Schema) -> None:
        self.schema = schema
        self._graph = self._build_graph()
        self._reach: dict[tuple[str, str], frozenset[_Node]] = {}

    # --- lookups -------------------------------------------------------------------------------

    def definition(self, type_name: str) -> ir.Definition:
        """The definition of ``type_name``.

        Raises:
            UnknownTypeError: if the schema does not define it.
        """
        definition = self.schema.definitions.get(type_name)
        if definition is None:
            raise UnknownTypeError(
                f"object type `{type_name}` is not defined in the schema", details={"type": type_name}
            )
        return definition

    def member(self, type_name: str, name: str) -> ir.Relation | ir.Permission:
        """The relation or permission ``name`` of ``type_name``.

        Raises:
            UnknownTypeError: if the type is not defined.
            UnknownRelationError: if the type has no such relation or permission.
        """
        found = self.definition(type_name).member(name)
        if found is None:
            raise UnknownRelationError(
                f"`{type_name}` has no relation or permission `{name}`",
                details={"type": type_name, "relation": name},
            )
        return found

    def is_permission(self, type_name: str, name: str) -> bool:
        """Whether ``type_name#name`` is a permission (``False`` for a relation).

        Raises:
            UnknownTypeError: if the type is not defined.
            UnknownRelationError: if the type has no such member.
        """
        return isinstance(self.member(type_name, name), ir.Permission)

    def delegation_relation(self, type_name: str) -> str | None:
        """The relation named by ``acts_for`` on ``type_name``, or ``None``.

        Raises:
            UnknownTypeError: if the type is not defined.
        """
        return self.definition(type_name).acts_for

    # --- reachability --------------------------------------------------------------------------

    def may_reach(
        self, resource_type: str, relation: str, subject_type: str, subject_relation: str | None
    ) -> bool:
        """Whether checking ``resource_type#relation`` could ever yield that kind of subject.

        ``False`` only when the type graph proves it impossible; ``True`` when unsure.

        Args:
            resource_type: The resource's type.
            relation: The relation or permission checked on it.
            subject_type: The subject's type.
            subject_relation: The subject's relation for a subject set (``team#member``), else ``None``.

        Raises:
            UnknownTypeError: if ``resource_type`` is not defined.
            UnknownRelationError: if it has no member ``relation``.
        """
        self.member(resource_type, relation)
        if subject_relation is not None and (resource_type, relation) == (subject_type, subject_relation):
            return True
        key = (resource_type, relation)
        reached = self._reach.get(key)
        if reached is None:
            start: _Node = ("member", resource_type, relation)
            reached = frozenset(nx.descendants(self._graph, start))
            self._reach[key] = reached
        if ("subject", subject_type, subject_relation) in reached:
            return True
        # A subject set ``t#r`` is also found wherever a check expands through ``t#r`` itself.
        return subject_relation is not None and ("member", subject_type, subject_relation) in reached

    def _build_graph(self) -> nx.DiGraph:
        graph = nx.DiGraph()
        for definition in self.schema.definitions.values():
            for relation in definition.relations.values():
                node: _Node = ("member", definition.name, relation.name)
                graph.add_node(node)
                for allowed in relation.allowed:
                    graph.add_edge(node, ("subject", allowed.type, allowed.relation))
                    if allowed.relation is not None:
                        graph.add_edge(node, ("member", allowed.type, allowed.relation))
            for permission in definition.permissions.values():
                node = ("member", definition.name, permission.name)
                graph.add_node(node)
                for target in self._rewrite_targets(definition, permission.rewrite):
                    graph.add_edge(node, target)
        return graph

    def _rewrite_targets(self, definition: ir.Definition, rewrite: ir.Rewrite) -> list[_Node]:
        targets: list[_Node] = []
        pending = [rewrite]
        while pending:
            current = pending.pop()
            if isinstance(current, ir.ComputedUserset):
                targets.append(("member", definition.name, current.relation))
            elif isinstance(current, ir.SelfRef):
                targets.append(("subject", definition.name, None))
            elif isinstance(current, ir.TupleToUserset):
                tupleset = definition.relations.get(current.tupleset)
                for allowed in tupleset.allowed if tupleset else ():
                    target = self.schema.definitions.get(allowed.type)
                    if target is not None and target.member(current.computed) is not None:
                        targets.append(("member", allowed.type, current.computed))
            elif isinstance(current, ir.Union | ir.Intersection):
                pending.extend(current.children)
            elif isinstance(current, ir.Exclusion):
                pending.append(current.base)
        return targets

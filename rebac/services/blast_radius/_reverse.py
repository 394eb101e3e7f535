"""The reverse walk: breadth first from ``resource#permission`` back to its subjects (batched reads).

Each permission is followed through its granting leaf steps (:func:`rebac.engine.rewrites.steps`).
"""

from __future__ import annotations

from collections import defaultdict

from rebac.engine.mechanics import SameObject, TheObject, Through
from rebac.engine.rewrites import steps
from rebac.refs import Relationship
from rebac.schema import ir
from rebac.services.blast_radius._graph import Graph, Node, caveat_of, chunks, query
from rebac.services.blast_radius._results import StepKind
from rebac.store.base import RelationshipFilter, TupleReader
from rebac.store.revision import Revision

__all__ = ["Reverse"]


class Reverse:
    """Breadth-first, batched traversal backwards from ``resource#permission`` to its subjects."""

    def __init__(self, reader: TupleReader, revision: Revision, schema: ir.Schema, graph: Graph) -> None:
        self.reader = reader
        self.revision = revision
        self.schema = schema
        self.graph = graph
        self.seen: set[Node] = set()
        self.pending: set[tuple[str, str, str]] = set()
        self.tuples: dict[tuple[str, str, str], list[Relationship]] = {}
        self.consumers: defaultdict[tuple[str, str, str], list[tuple[Node, str | None]]] = defaultdict(list)

    def _need(self, key: tuple[str, str, str], target: Node, computed: str | None) -> None:
        """``target`` consumes the relationships ``key`` (direct grants, or an arrow to ``computed``)."""
        self.consumers[key].append((target, computed))
        if key in self.tuples:
            self._consume(key)
        else:
            self.pending.add(key)

    def reach(self, node: Node) -> None:
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
        # Right to left, as this walk has always gone (it decides which paths are reported first).
        for step in reversed(list(steps(permission.rewrite, granting=True))):
            match step:
                case SameObject(relation=name):
                    source = (type_name, object_id, name)
                    if self.graph.add(
                        source, node, StepKind.COMPUTED, f"{type_name}#{relation} includes {name}", None
                    ):
                        self.reach(source)
                case TheObject():
                    self.graph.add(
                        (type_name, object_id, None),
                        node,
                        StepKind.SELF,
                        f"{type_name}#{relation} includes self",
                        None,
                    )
                case Through(tupleset=tupleset, computed=computed):
                    self._need((type_name, object_id, tupleset), node, computed)

    def _consume(self, key: tuple[str, str, str]) -> None:
        for target, computed in self.consumers.pop(key, []):
            for rel in self.tuples[key]:
                subject = rel.subject
                if computed is None:
                    source = (subject.type, subject.id, subject.relation)
                    detail = str(Relationship(rel.resource, rel.relation, subject))
                    if self.graph.add(source, target, StepKind.RELATIONSHIP, detail, caveat_of(rel)):
                        self.reach(source)
                    continue
                definition = self.schema.definitions.get(subject.type)
                if subject.relation is not None or subject.is_wildcard or definition is None:
                    continue
                if definition.member(computed) is None:
                    continue
                source = (subject.type, subject.id, computed)
                detail = f"{rel.resource}#{rel.relation}@{subject}, then {rel.relation}->{computed}"
                if self.graph.add(source, target, StepKind.ARROW, detail, caveat_of(rel)):
                    self.reach(source)

    async def run(self) -> None:
        while self.pending and not self.graph.full:
            pending, self.pending = self.pending, set()
            grouped: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
            for type_name, object_id, relation in pending:
                grouped[type_name, relation].add(object_id)
            for (type_name, relation), ids in sorted(grouped.items()):
                for chunk in chunks(ids):
                    flt = RelationshipFilter(resource_type=type_name, resource_ids=chunk, relation=relation)
                    found: defaultdict[str, list[Relationship]] = defaultdict(list)
                    for rel in await query(self.reader, flt, self.revision):
                        found[rel.resource.id].append(rel)
                    for object_id in chunk:
                        key = (type_name, object_id, relation)
                        self.tuples[key] = found.get(object_id, [])
                        self._consume(key)

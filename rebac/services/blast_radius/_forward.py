"""The forward walk: breadth first from a subject along relationships and rewrites (batched reads).

Which rewrites a reached member feeds is indexed once from the schema, from each permission's
granting leaf steps (:func:`rebac.engine.rewrites.steps`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from rebac.engine.mechanics import SameObject, TheObject, Through
from rebac.engine.rewrites import steps
from rebac.refs import WILDCARD, Relationship, SubjectRef
from rebac.schema import ir
from rebac.services.blast_radius._graph import Graph, Node, caveat_of, chunks, query, subject_node
from rebac.services.blast_radius._results import StepKind
from rebac.store.base import RelationshipFilter, TupleReader
from rebac.store.revision import Revision

__all__ = ["Forward", "ForwardRules"]


@dataclass(frozen=True, slots=True)
class ForwardRules:
    """Which permissions a reached member feeds, indexed from the schema once."""

    computed: Mapping[tuple[str, str], tuple[str, ...]]
    arrows: Mapping[tuple[str, str], tuple[tuple[str, str, str], ...]]
    selfs: Mapping[str, tuple[str, ...]]
    subject_sets: frozenset[tuple[str, str]]

    @classmethod
    def build(cls, schema: ir.Schema) -> ForwardRules:
        computed: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
        arrows: defaultdict[tuple[str, str], set[tuple[str, str, str]]] = defaultdict(set)
        selfs: defaultdict[str, set[str]] = defaultdict(set)
        subject_sets: set[tuple[str, str]] = set()
        for definition in schema.definitions.values():
            for relation in definition.relations.values():
                subject_sets.update((a.type, a.relation) for a in relation.allowed if a.relation is not None)
            for permission in definition.permissions.values():
                for step in steps(permission.rewrite, granting=True):
                    match step:
                        case SameObject(relation=name):
                            computed[definition.name, name].add(permission.name)
                        case TheObject():
                            selfs[definition.name].add(permission.name)
                        case Through(tupleset=tupleset, computed=target):
                            found = definition.relations.get(tupleset)
                            for allowed in found.allowed if found else ():
                                if allowed.relation is None and not allowed.wildcard:
                                    arrows[allowed.type, target].add(
                                        (definition.name, tupleset, permission.name)
                                    )
        return cls(
            {k: tuple(sorted(v)) for k, v in computed.items()},
            {k: tuple(sorted(v)) for k, v in arrows.items()},
            {k: tuple(sorted(v)) for k, v in selfs.items()},
            frozenset(subject_sets),
        )


class Forward:
    """Breadth-first, batched traversal from a subject along relationships and rewrites."""

    def __init__(self, reader: TupleReader, revision: Revision, rules: ForwardRules, graph: Graph) -> None:
        self.reader = reader
        self.revision = revision
        self.rules = rules
        self.graph = graph
        self.seen: set[Node] = set()
        self.pending_sets: set[Node] = set()
        self.pending_plain: set[tuple[str, str]] = set()
        self.plain: dict[tuple[str, str], list[Relationship]] = {}
        self.waiting: defaultdict[tuple[str, str], set[str]] = defaultdict(set)

    def reach(self, node: Node) -> None:
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
                    if self.graph.add(source, target, StepKind.ARROW, detail, caveat_of(rel)):
                        self.reach(target)

    def _grant(self, source: Node, rel: Relationship) -> None:
        target = (rel.resource.type, rel.resource.id, rel.relation)
        if self.graph.add(
            source,
            target,
            StepKind.RELATIONSHIP,
            str(Relationship(rel.resource, rel.relation, rel.subject)),
            caveat_of(rel),
        ):
            self.reach(target)

    async def start(self, subject: SubjectRef) -> None:
        node = subject_node(subject)
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
            rels = await query(self.reader, own, self.revision)
            self.plain[subject.type, subject.id] = rels
            for rel in rels:
                self._grant(node, rel)
            wildcard = (subject.type, WILDCARD, None)
            flt = RelationshipFilter(
                subject_type=subject.type, subject_ids=(WILDCARD,), subject_relation=None
            )
            for rel in await query(self.reader, flt, self.revision):
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
                for chunk in chunks(ids):
                    flt = RelationshipFilter(
                        subject_type=type_name, subject_ids=chunk, subject_relation=relation
                    )
                    for rel in await query(self.reader, flt, self.revision):
                        self._grant(subject_node(rel.subject), rel)
            by_type: defaultdict[str, set[str]] = defaultdict(set)
            for type_name, object_id in plain:
                by_type[type_name].add(object_id)
            for type_name, ids in sorted(by_type.items()):
                for chunk in chunks(ids):
                    flt = RelationshipFilter(subject_type=type_name, subject_ids=chunk, subject_relation=None)
                    found: defaultdict[str, list[Relationship]] = defaultdict(list)
                    for rel in await query(self.reader, flt, self.revision):
                        found[rel.subject.id].append(rel)
                    for object_id in chunk:
                        self.plain[type_name, object_id] = found.get(object_id, [])
                        self._arrows((type_name, object_id))

"""The path graph both views build (a networkx DiGraph under a node budget) and its paths."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeAlias

import networkx as nx

from rebac import limits
from rebac.errors import InvalidInputError
from rebac.refs import WILDCARD, Relationship, SubjectRef
from rebac.services.blast_radius._results import PathStep, StepKind
from rebac.store.base import RelationshipFilter, TupleReader
from rebac.store.revision import Revision

__all__ = [
    "Budget",
    "Graph",
    "Node",
    "Paths",
    "bounds",
    "caveat_of",
    "chunks",
    "label",
    "query",
    "subject_node",
    "subject_path",
]

Node: TypeAlias = tuple[str, str, str | None]
"""A graph node: (type, id, relation); relation ``None`` for a plain object or a wildcard."""


def label(node: Node) -> str:
    type_name, object_id, relation = node
    return f"{type_name}:{object_id}" if relation is None else f"{type_name}:{object_id}#{relation}"


def subject_node(subject: SubjectRef) -> Node:
    return (subject.type, subject.id, subject.relation)


class Budget:
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


class Graph:
    """A DiGraph of steps, subject side first, with node-count accounting."""

    def __init__(self, budget: Budget) -> None:
        self.graph = nx.DiGraph()
        self.budget = budget
        self.full = False

    def add(self, source: Node, target: Node, kind: StepKind, detail: str, caveat: str | None) -> bool:
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

    def step(self, source: Node, target: Node) -> PathStep:
        data = self.graph.edges[source, target]
        return PathStep(label(source), label(target), data["kind"], data["detail"], data["caveat"])


def caveat_of(rel: Relationship) -> str | None:
    return None if rel.caveat is None else rel.caveat.name


async def query(reader: TupleReader, flt: RelationshipFilter, revision: Revision) -> list[Relationship]:
    return [rel async for rel in reader.query(flt, revision=revision)]


def chunks(ids: Iterable[str]) -> Iterator[tuple[str, ...]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), limits.CHUNK_SIZE):
        yield tuple(ordered[start : start + limits.CHUNK_SIZE])


class Paths:
    """Breadth-first paths from ``start`` over the graph, each built once from its parent's."""

    def __init__(self, graph: Graph, start: Node) -> None:
        self.graph = graph
        self.parents = {child: parent for parent, child in nx.bfs_edges(graph.graph, start)}
        self.memo: dict[Node, tuple[PathStep, ...]] = {start: ()}

    def to(self, target: Node) -> tuple[PathStep, ...]:
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


def _path_to(graph: Graph, children: Mapping[Node, Node], start: Node, target: Node) -> tuple[PathStep, ...]:
    """The path ``start`` -> ``target`` from a reverse breadth-first ``children`` map rooted at ``target``."""
    if start not in children:
        return ()
    nodes = [start]
    while nodes[-1] != target:
        nodes.append(children[nodes[-1]])
    return tuple(graph.step(a, b) for a, b in itertools.pairwise(nodes))


def subject_path(
    graph: Graph, children: Mapping[Node, Node], subject: SubjectRef, target: Node
) -> tuple[PathStep, ...]:
    """The path from ``subject`` (directly, or through its type's wildcard) to ``target``."""
    node = subject_node(subject)
    path = _path_to(graph, children, node, target)
    if path or subject.is_wildcard:
        return path
    wildcard = (subject.type, WILDCARD, None)
    rest = _path_to(graph, children, wildcard, target)
    if not rest:
        return ()
    first = PathStep(label(node), label(wildcard), StepKind.WILDCARD, f"{subject} matches {subject.type}:*")
    return (first, *rest)


def bounds(graph: Graph) -> dict[str, Any]:
    """The size and truncation fields of a result."""
    reason = graph.budget.reason
    return {
        "nodes_visited": graph.graph.number_of_nodes(),
        "budget": graph.budget.limit,
        "truncated": reason is not None,
        "truncated_at": graph.budget.limit if reason is not None else None,
        "truncated_reason": reason,
    }

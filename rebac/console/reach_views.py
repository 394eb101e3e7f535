"""View models of the blast-radius page: the reach table and the graph cytoscape.js draws.

Pure functions over :class:`~rebac.services.blast_radius.BlastRadius` and
:class:`~rebac.services.blast_radius.WhoCanReach`; the page's script (``static/reach.js``) only
lays the elements out and highlights what a node's ``path`` names.

The graph is the union of the entries' paths (one readable path per entry, as the service found
it). Every node carries the edge ids of the path(s) to it: for an entry's end (a
``resource#permission`` forward, a subject in the reverse view) the paths of its entries, for a
node on the way the first path through it, cut at it. Beyond :data:`MAX_DRAWN_NODES` nodes the
graph is drawn aggregated: one node per type and relation (``document#view``) with the number of
nodes it stands for, and one edge per pair with the number of steps; the page says so.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

from rebac.services.blast_radius import BlastRadius, ReachEntry, WhoCanReach
from rebac.services.types import Permissionship

__all__ = ["MAX_DRAWN_NODES", "MAX_LISTED", "TIMES", "EntryView", "GroupView", "ReachView", "reach_view"]

MAX_DRAWN_NODES: Final = 300
"""Above this many nodes the graph is aggregated by type and relation (it stays interactive)."""
MAX_LISTED: Final = 200
"""Entries listed in the table under the graph (the counts are always complete)."""
_STATES: Final = ("effective", "capped", "conditional", "raw")
TIMES: Final = "\u00d7"
"""The multiplication sign before an aggregate node's count (``document#view`` then the sign and 120)."""


@dataclass(frozen=True, slots=True)
class EntryView:
    """One entry of the reach table."""

    resource: str
    permission: str
    subject: str
    raw: str
    effective: str
    state: str
    """``effective`` (reached after the delegation caps), ``capped`` (raw reach the caps remove),
    ``conditional`` (depends on caveat context) or ``raw`` (effective reach not computed)."""
    node: str
    """The id of the graph node the entry ends at (its path is highlighted from there)."""


@dataclass(frozen=True, slots=True)
class GroupView:
    """One resource type and permission: how many entries reach it, raw and effective."""

    resource_type: str
    permission: str
    raw: int
    effective: int


@dataclass(frozen=True, slots=True)
class ReachView:
    """What the blast-radius page shows of one result."""

    reverse: bool
    origin: str
    delegated: bool
    raw_only: bool
    revision: str
    groups: tuple[GroupView, ...]
    entries: tuple[EntryView, ...]
    total_entries: int
    raw: int
    effective: int
    capped: int
    graph: dict[str, Any]
    total_nodes: int
    drawn_nodes: int
    aggregated: bool
    truncated: str | None

    @property
    def unlisted(self) -> int:
        """Entries counted but not listed in the table."""
        return self.total_entries - len(self.entries)


def _name(value: Permissionship | None) -> str:
    return "" if value is None else value.name.lower()


def state_of(entry: ReachEntry) -> str:
    """The entry's drawing state (see :attr:`EntryView.state`)."""
    if entry.effective is None:
        return "conditional" if entry.raw is Permissionship.CONDITIONAL else "raw"
    if entry.effective is Permissionship.NO_PERMISSION:
        return "capped"
    if entry.conditional:
        return "conditional"
    return "effective"


def _end(entry: ReachEntry, reverse: bool) -> str:
    return str(entry.subject) if reverse else f"{entry.resource}#{entry.permission}"


def _origins(result: BlastRadius | WhoCanReach) -> set[str]:
    if isinstance(result, BlastRadius):
        return {str(result.subject)}
    return {f"{result.resource}#{g.permission}" for g in result.groups}


def _hops(entry: ReachEntry) -> list[tuple[str, str, str, str]]:
    """The entry's path as (source, target, kind, detail); a direct step when no path was found."""
    steps = [(s.source, s.target, s.kind.value, s.detail) for s in entry.path]
    if steps:
        return steps
    start, end = str(entry.subject), f"{entry.resource}#{entry.permission}"
    return [(start, end, "unknown", "no path found within the budget")]


def _aggregate_key(label: str, origins: set[str]) -> str:
    """``document:1#view`` -> ``document#view``; ``user:tom`` -> ``user``; origins stay themselves."""
    if label in origins:
        return label
    left, _, relation = label.partition("#")
    type_name = left.partition(":")[0]
    return f"{type_name}#{relation}" if relation else type_name


class _Drawing:
    """Nodes and edges keyed by id, and the path (edge ids) that leads to each node."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: dict[tuple[str, str], dict[str, Any]] = {}
        self.own: dict[str, dict[str, None]] = {}
        """Per entry end: the edges of the paths of its entries (an ordered set)."""
        self.via: dict[str, list[str]] = {}
        """Per node on the way: the first path through it, cut at it."""
        self.states: dict[str, set[str]] = defaultdict(set)
        self.members: dict[str, set[str]] = defaultdict(set)

    def node(self, node_id: str, member: str) -> None:
        if node_id not in self.nodes:
            self.nodes[node_id] = {"id": node_id, "label": node_id}
        self.members[node_id].add(member)

    def edge(self, source: str, target: str, kind: str, detail: str) -> str:
        found = self.edges.get((source, target))
        if found is None:
            found = {"id": f"e{len(self.edges)}", "source": source, "target": target, "kind": kind}
            found.update(detail=detail, count=0)
            self.edges[(source, target)] = found
        found["count"] += 1
        return str(found["id"])

    def reached(self, node_id: str, edge_ids: list[str], state: str) -> None:
        self.own.setdefault(node_id, {}).update(dict.fromkeys(edge_ids))
        self.states[node_id].add(state)

    def path(self, node_id: str) -> list[str]:
        return list(self.own.get(node_id) or self.via.get(node_id, []))


def _too_many(result: BlastRadius | WhoCanReach, reverse: bool, origins: set[str], limit: int) -> bool:
    """Whether the graph has more than ``limit`` nodes (stops counting as soon as it does)."""
    seen = set(origins)
    for entry in result.entries:
        seen.update(step.target for step in entry.path)
        seen.add(str(entry.subject))
        seen.add(_end(entry, reverse))
        if len(seen) > limit:
            return True
    return False


def _draw(
    result: BlastRadius | WhoCanReach, reverse: bool, origins: set[str], *, aggregate: bool
) -> _Drawing:
    drawing = _Drawing()
    keys: dict[str, str] = {}

    def key(label: str) -> str:
        found = keys.get(label)
        if found is None:
            found = keys[label] = _aggregate_key(label, origins) if aggregate else label
            drawing.node(found, label)
        return found

    for label in sorted(origins):
        key(label)
    for entry in result.entries:
        walked: list[str] = []
        for source, target, kind, detail in _hops(entry):
            target_id = key(target)
            walked.append(drawing.edge(key(source), target_id, kind, detail))
            if target_id not in drawing.via and target_id not in origins:
                drawing.via[target_id] = list(walked)
        drawing.reached(key(_end(entry, reverse)), walked, state_of(entry))
    return drawing


def _elements(drawing: _Drawing, origins: set[str], aggregate: bool) -> dict[str, Any]:
    nodes = []
    for node_id, data in drawing.nodes.items():
        states = drawing.states.get(node_id, set())
        count = len(drawing.members[node_id])
        classes = ["origin" if node_id in origins else ("reached" if states else "via")]
        classes += [f"state-{s}" for s in _STATES if s in states]
        if aggregate and node_id not in origins:
            classes.append("aggregate")
        label = f"{data['label']} {TIMES}{count}" if "aggregate" in classes else data["label"]
        shown = {**data, "label": label, "count": count, "path": drawing.path(node_id)}
        nodes.append({"data": shown, "classes": " ".join(classes)})
    edges = []
    for edge in drawing.edges.values():
        label = f"{TIMES}{edge['count']}" if aggregate and edge["count"] > 1 else ""
        edges.append({"data": {**edge, "label": label}, "classes": f"kind-{edge['kind']}"})
    return {"nodes": nodes, "edges": edges}


def reach_view(result: BlastRadius | WhoCanReach, *, max_nodes: int = MAX_DRAWN_NODES) -> ReachView:
    """The page's view of a result: counts, the first :data:`MAX_LISTED` entries and the graph."""
    reverse = isinstance(result, WhoCanReach)
    origins = _origins(result)
    aggregate = _too_many(result, reverse, origins, max_nodes)
    drawing = _draw(result, reverse, origins, aggregate=aggregate)
    entries = list(result.entries)
    listed = tuple(
        EntryView(
            resource=str(e.resource),
            permission=e.permission,
            subject=str(e.subject),
            raw=_name(e.raw),
            effective=_name(e.effective),
            state=state_of(e),
            node=(_aggregate_key(_end(e, reverse), origins) if aggregate else _end(e, reverse)),
        )
        for e in entries[:MAX_LISTED]
    )
    states = [state_of(e) for e in entries]
    return ReachView(
        reverse=reverse,
        origin=str(result.resource) if isinstance(result, WhoCanReach) else str(result.subject),
        delegated=isinstance(result, BlastRadius) and result.delegated,
        raw_only=result.raw_only,
        revision=result.revision,
        groups=tuple(
            GroupView(g.resource_type, g.permission, g.raw_count, g.effective_count) for g in result.groups
        ),
        entries=listed,
        total_entries=len(entries),
        raw=sum(g.raw_count for g in result.groups),
        effective=sum(g.effective_count for g in result.groups),
        capped=states.count("capped"),
        graph=_elements(drawing, origins, aggregate),
        total_nodes=sum(len(m) for m in drawing.members.values()),
        drawn_nodes=len(drawing.nodes),
        aggregated=aggregate,
        truncated=result.message,
    )

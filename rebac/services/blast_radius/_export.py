"""Exports of a result: a networkx DiGraph, node-link JSON and GraphML."""

from __future__ import annotations

import json
from typing import Any

import networkx as nx

from rebac.engine.results import Permissionship
from rebac.services.blast_radius._results import BlastRadius, WhoCanReach

__all__ = ["to_graphml", "to_json", "to_networkx"]


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

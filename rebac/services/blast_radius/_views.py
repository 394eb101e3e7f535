"""The two entry points: :func:`blast_radius` (forward) and :func:`who_can_reach` (reverse)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import networkx as nx

from rebac import limits
from rebac.engine.results import LookupResourceItem, LookupSubjectItem
from rebac.errors import InvalidInputError
from rebac.refs import ObjectRef, SubjectRef
from rebac.services.blast_radius._forward import Forward, ForwardRules
from rebac.services.blast_radius._graph import Budget, Graph, Paths, bounds, subject_node, subject_path
from rebac.services.blast_radius._lookups import effective_of, members, resources, selected, subjects
from rebac.services.blast_radius._results import BlastRadius, PermissionReach, ReachEntry, WhoCanReach
from rebac.services.blast_radius._reverse import Reverse
from rebac.store.base import Consistency
from rebac.store.revision import Revision

if TYPE_CHECKING:
    from rebac.engine import Engine

__all__ = ["blast_radius", "who_can_reach"]


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
    bound = Budget(budget)
    graph = Graph(bound)
    forward = Forward(engine.reader, revision, ForwardRules.build(model.schema), graph)
    await forward.start(subject)
    reached: set[tuple[str, str]] = {(t, r) for t, _, r in graph.graph.nodes if r is not None}
    delegated = subject.relation is None and model.definition(subject.type).acts_for is not None
    start = subject_node(subject)
    paths = Paths(graph, start)
    groups: list[PermissionReach] = []
    count = 0
    for type_name in sorted(model.schema.definitions):
        if not selected(resource_types, type_name):
            continue
        for member in members(model.schema.definitions[type_name]):
            if not selected(permissions, member) or bound.entries_full:
                continue
            if not model.may_reach(type_name, member, subject.type, subject.relation):
                continue
            if not graph.full and (type_name, member) not in reached:
                continue  # the (complete) graph proves no data connects them
            remaining = bound.limit - count
            if remaining <= 0:
                bound.hit_entries()
                break
            raw, over = await resources(
                engine, type_name, member, subject, revision, delegation=False, remaining=remaining
            )
            effective: dict[str, LookupResourceItem] = {}
            if delegated and not raw_only and raw:
                capped, _ = await resources(
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
                    effective_of(
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
        **bounds(graph),
    )


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
    bound = Budget(budget)
    graph = Graph(bound)
    reverse = Reverse(engine.reader, revision, model.schema, graph)
    wanted = [permission] if permission is not None else members(definition)
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
            if not selected(subject_types, subject_type) or bound.entries_full:
                continue
            if not model.may_reach(resource.type, member, subject_type, None):
                continue
            if not graph.full and subject_type not in plain_types:
                continue
            remaining = bound.limit - count - len(entries)
            if remaining <= 0:
                bound.hit_entries()
                break
            raw, over = await subjects(
                engine, resource, member, subject_type, revision, delegation=False, remaining=remaining
            )
            delegating = model.definition(subject_type).acts_for is not None
            effective: dict[SubjectRef, LookupSubjectItem] = {}
            if delegating and not raw_only and raw:
                capped, _ = await subjects(
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
                    effective_of(
                        item.permissionship,
                        eff.permissionship if (eff := effective.get(item.subject)) else None,
                        delegating=delegating,
                        raw_only=raw_only,
                    ),
                    item.missing | (eff.missing if eff else frozenset()),
                    subject_path(graph, children, item.subject, target),
                )
                for item in raw
            )
        count += len(entries)
        if entries:
            groups.append(PermissionReach(resource.type, member, tuple(entries)))
    return WhoCanReach(
        revision=str(revision), raw_only=raw_only, groups=tuple(groups), resource=resource, **bounds(graph)
    )

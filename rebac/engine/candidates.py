"""Candidate generation for the lookups: cheap supersets that :mod:`rebac.engine.check` filters.

Both walks ignore caveats and over-approximate intersections (first operand) and exclusions (base
only), so they can only produce *more* candidates than the answer; every candidate is then
decided by a real check, which keeps the lookups in exact agreement with check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import cast

from rebac.engine.check import chunked, read_relationships
from rebac.engine.requests import EvalContext
from rebac.engine.results import earliest
from rebac.refs import WILDCARD, SubjectRef
from rebac.schema import ir
from rebac.store.base import ANY_RELATION, RelationshipFilter, TupleReader

__all__ = ["ReverseWalk", "forward_subjects"]

_EdgeShape = tuple[str, str, str, str | None, bool]
"""What one reverse read selects: resource type, relation, subject type and relation, any relation."""

_NONE: frozenset[str] = frozenset()


class ReverseWalk:
    """Resources of a type that may reach a subject (least fixpoint over recursive relations).

    One walk serves one lookup: the settled value of every member and every relationship read
    (per filter shape and subject id) are kept for the walk's lifetime, so the passes of a
    fixpoint and the several members an exact lookup combines never read the same rows twice.
    """

    __slots__ = (
        "_changed",
        "_ctx",
        "_edges",
        "_final",
        "_incomplete",
        "_memo",
        "_on_stack",
        "_reader",
        "_subject",
        "expires_at",
    )

    def __init__(self, reader: TupleReader, ctx: EvalContext, subject: SubjectRef) -> None:
        self._reader = reader
        self._ctx = ctx
        self._subject = subject
        self._memo: dict[tuple[str, str], set[str]] = {}
        self._final: set[tuple[str, str]] = set()
        self._edges: dict[_EdgeShape, dict[str, AbstractSet[str]]] = {}
        self._on_stack: set[tuple[str, str]] = set()
        self._changed = False
        self._incomplete = False
        self.expires_at: datetime | None = None
        """Earliest expiration among the live rows read so far (``None``: none expires)."""

    async def resources(self, resource_type: str, name: str) -> set[str]:
        """Candidate ids of ``resource_type`` for ``name`` (computed to a fixpoint)."""
        while True:
            self._changed = False
            self._incomplete = False
            done: set[tuple[str, str]] = set()
            result = await self._visit(resource_type, name, done)
            if not (self._changed and self._incomplete):
                # A pass that changed nothing (or met no cycle) settled every member it visited.
                self._final |= done
                return set(result)

    async def _visit(self, resource_type: str, name: str, done: set[tuple[str, str]]) -> set[str]:
        key = (resource_type, name)
        current = self._memo.setdefault(key, set())
        if key in self._final:
            return current
        if key in self._on_stack:
            self._incomplete = True
            return current
        if key in done:
            return current
        model = self._ctx.model
        if not model.may_reach(resource_type, name, self._subject.type, self._subject.relation):
            done.add(key)
            return current
        self._on_stack.add(key)
        try:
            member = model.member(resource_type, name)
            found: set[str] = set()
            subject = self._subject
            if subject.type == resource_type and subject.relation == name:
                found.add(subject.id)
            if isinstance(member, ir.Relation):
                found |= await self._relation(resource_type, member, done)
            else:
                found |= await self._rewrite(resource_type, member.rewrite, done)
        finally:
            self._on_stack.discard(key)
        done.add(key)
        if not found <= current:
            current |= found
            self._changed = True
        return current

    async def resources_via(
        self, resource_type: str, relation: str, subject_type: str, subject_ids: Iterable[str]
    ) -> set[str]:
        """Ids of ``resource_type`` with a live ``relation`` to any of the subjects (any relation)."""
        return await self._by_subjects(
            resource_type, relation, subject_type, subject_ids, None, any_relation=True
        )

    async def _by_subjects(
        self,
        resource_type: str,
        relation: str,
        subject_type: str,
        ids: Iterable[str],
        subject_rel: str | None,
        *,
        any_relation: bool = False,
    ) -> set[str]:
        shape: _EdgeShape = (resource_type, relation, subject_type, subject_rel, any_relation)
        known = self._edges.get(shape)
        if known is None:
            known = self._edges[shape] = {}
        wanted = ids if isinstance(ids, (set, frozenset, list, tuple)) else list(ids)
        missing = sorted(i for i in wanted if i not in known)
        ctx = self._ctx
        for chunk in chunked(missing):
            flt = RelationshipFilter(
                resource_type=resource_type,
                relation=relation,
                subject_type=subject_type,
                subject_ids=chunk,
                subject_relation=ANY_RELATION if any_relation else subject_rel,
            )
            ctx.check_deadline()
            known.update(dict.fromkeys(chunk, _NONE))
            now = ctx.now
            async for rel in self._reader.query(flt, revision=ctx.revision):
                if rel.expires_at is not None:
                    if rel.is_expired(now):
                        continue
                    self.expires_at = earliest(self.expires_at, rel.expires_at)
                sid = rel.subject.id
                targets = known[sid]
                if targets is _NONE:
                    targets = known[sid] = set()
                cast("set[str]", targets).add(rel.resource.id)
        out: set[str] = set()
        for i in wanted:
            targets = known[i]
            if targets:
                out |= targets
        return out

    async def _relation(
        self, resource_type: str, relation: ir.Relation, done: set[tuple[str, str]]
    ) -> set[str]:
        subject = self._subject
        found: set[str] = set()
        if any(
            a.type == subject.type
            and (a.relation is None if subject.relation is None else a.relation == subject.relation)
            for a in relation.allowed
        ):
            ids = [subject.id] if subject.relation is not None else [subject.id, WILDCARD]
            found |= await self._by_subjects(
                resource_type, relation.name, subject.type, ids, subject.relation
            )
        for entry in dict.fromkeys((a.type, a.relation) for a in relation.allowed if a.relation):
            subject_type, subject_relation = entry
            if subject_relation is None or not self._ctx.model.has_member(subject_type, subject_relation):
                continue
            members = await self._visit(subject_type, subject_relation, done)
            if members:
                found |= await self._by_subjects(
                    resource_type, relation.name, subject_type, members, subject_relation
                )
        return found

    async def _rewrite(self, resource_type: str, rewrite: ir.Rewrite, done: set[tuple[str, str]]) -> set[str]:
        match rewrite:
            case ir.Nil():
                return set()
            case ir.SelfRef():
                subject = self._subject
                if subject.type == resource_type and subject.relation is None:
                    return {subject.id}
                return set()
            case ir.ComputedUserset(relation=name):
                return await self._visit(resource_type, name, done)
            case ir.TupleToUserset(tupleset=tupleset, computed=computed):
                return await self._arrow(resource_type, tupleset, computed, done)
            case ir.Union(children=children):
                out: set[str] = set()
                for child in children:
                    out |= await self._rewrite(resource_type, child, done)
                return out
            case ir.Intersection(children=children):
                return await self._rewrite(resource_type, children[0], done) if children else set()
            case ir.Exclusion(base=base):
                return await self._rewrite(resource_type, base, done)
        raise TypeError(f"unknown rewrite {rewrite!r}")  # pragma: no cover

    async def _arrow(
        self, resource_type: str, tupleset: str, computed: str, done: set[tuple[str, str]]
    ) -> set[str]:
        model = self._ctx.model
        definition = model.definition(resource_type)
        relation = definition.relations.get(tupleset)
        if relation is None:
            return set()
        found: set[str] = set()
        for subject_type in dict.fromkeys(a.type for a in relation.allowed):
            if not model.has_member(subject_type, computed):
                continue
            members = await self._visit(subject_type, computed, done)
            if members:
                found |= await self._by_subjects(
                    resource_type, tupleset, subject_type, members, None, any_relation=True
                )
        return found


async def forward_subjects(
    reader: TupleReader,
    ctx: EvalContext,
    *,
    resource_type: str,
    resource_id: str,
    name: str,
    subject_type: str,
    subject_relation: str | None,
) -> set[SubjectRef]:
    """Subjects of ``subject_type`` (``#subject_relation``) reachable from the resource (superset)."""
    model = ctx.model
    found: set[SubjectRef] = set()
    seen: set[tuple[str, str, str]] = set()
    frontier: dict[tuple[str, str], set[str]] = defaultdict(set)
    frontier[resource_type, name].add(resource_id)
    while frontier:
        (ftype, fname), fids = frontier.popitem()
        ids = sorted(i for i in fids if (ftype, i, fname) not in seen)
        if not ids:
            continue
        seen.update((ftype, i, fname) for i in ids)
        if ftype == subject_type and fname == subject_relation:
            found.update(SubjectRef(ftype, i, fname) for i in ids)
        member = model.member(ftype, fname)
        if isinstance(member, ir.Relation):
            flt = RelationshipFilter(resource_type=ftype, relation=fname)
            for rel in await read_relationships(reader, ctx, flt, ids):
                sub = rel.subject
                if sub.relation is None:
                    if sub.type == subject_type and subject_relation is None:
                        found.add(sub)
                elif model.has_member(sub.type, sub.relation):
                    frontier[sub.type, sub.relation].add(sub.id)
            continue
        for kind, target in _targets(member.rewrite):
            if kind == "self":
                if ftype == subject_type and subject_relation is None:
                    found.update(SubjectRef(ftype, i) for i in ids)
            elif kind == "computed":
                frontier[ftype, target[0]].update(ids)
            else:
                tupleset, computed = target
                flt = RelationshipFilter(resource_type=ftype, relation=tupleset)
                for rel in await read_relationships(reader, ctx, flt, ids):
                    if model.has_member(rel.subject.type, computed):
                        frontier[rel.subject.type, computed].add(rel.subject.id)
    return found


def _targets(rewrite: ir.Rewrite) -> list[tuple[str, tuple[str, ...]]]:
    """Every leaf of a rewrite, followed forward (all operands, so a wildcard's exclusions are seen)."""
    match rewrite:
        case ir.Nil():
            return []
        case ir.SelfRef():
            return [("self", ())]
        case ir.ComputedUserset(relation=name):
            return [("computed", (name,))]
        case ir.TupleToUserset(tupleset=tupleset, computed=computed):
            return [("arrow", (tupleset, computed))]
        case ir.Union(children=children):
            return [leaf for child in children for leaf in _targets(child)]
        case ir.Intersection(children=children):
            return [leaf for child in children for leaf in _targets(child)]
        case ir.Exclusion(base=base, subtract=subtract):
            return _targets(base) + _targets(subtract)
    raise TypeError(f"unknown rewrite {rewrite!r}")  # pragma: no cover

"""Candidate generation for the lookups: cheap supersets that :mod:`rebac.engine.check` filters.

Both walks ignore caveats and over-approximate intersections (first operand) and exclusions (base
only), so they can only produce *more* candidates than the answer; every candidate is then
decided by a real check, which keeps the lookups in exact agreement with check. What each rewrite
kind contributes is its rule's (:meth:`rebac.engine.rewrites.Rule.reverse` for the reverse walk,
:func:`rebac.engine.rewrites.steps` for the forward one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import cast

from rebac.engine import rewrites
from rebac.engine.mechanics import SameObject, TheObject, Through
from rebac.engine.model import SchemaModel
from rebac.engine.reads import chunked, read_relationships
from rebac.engine.requests import EvalContext
from rebac.engine.results import earliest
from rebac.refs import WILDCARD, SubjectRef
from rebac.schema.ir import Relation
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
        "_done",
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
        self._done: set[tuple[str, str]] = set()
        self.expires_at: datetime | None = None
        """Earliest expiration among the live rows read so far (``None``: none expires)."""

    @property
    def subject(self) -> SubjectRef:
        """The subject the walk is for."""
        return self._subject

    @property
    def model(self) -> SchemaModel:
        """The schema."""
        return self._ctx.model

    async def resources(self, resource_type: str, name: str) -> set[str]:
        """Candidate ids of ``resource_type`` for ``name`` (computed to a fixpoint)."""
        while True:
            self._changed = False
            self._incomplete = False
            done: set[tuple[str, str]] = set()
            self._done = done
            result = await self.members(resource_type, name)
            if not (self._changed and self._incomplete):
                # A pass that changed nothing (or met no cycle) settled every member it visited.
                self._final |= done
                return set(result)

    async def members(self, resource_type: str, name: str) -> set[str]:
        """Candidate ids of ``resource_type`` for ``name`` in the current pass (rules recurse here)."""
        done = self._done
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
            if isinstance(member, Relation):
                found |= await self._relation(resource_type, member)
            else:
                found |= await rewrites.reverse(self, resource_type, member.rewrite)
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

    async def _relation(self, resource_type: str, relation: Relation) -> set[str]:
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
            members = await self.members(subject_type, subject_relation)
            if members:
                found |= await self._by_subjects(
                    resource_type, relation.name, subject_type, members, subject_relation
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
        if isinstance(member, Relation):
            flt = RelationshipFilter(resource_type=ftype, relation=fname)
            for rel in await read_relationships(reader, ctx, flt, ids):
                sub = rel.subject
                if sub.relation is None:
                    if sub.type == subject_type and subject_relation is None:
                        found.add(sub)
                elif model.has_member(sub.type, sub.relation):
                    frontier[sub.type, sub.relation].add(sub.id)
            continue
        for step in rewrites.steps(member.rewrite):
            match step:
                case TheObject():
                    if ftype == subject_type and subject_relation is None:
                        found.update(SubjectRef(ftype, i) for i in ids)
                case SameObject(relation=relation):
                    frontier[ftype, relation].update(ids)
                case Through(tupleset=tupleset, computed=computed):
                    flt = RelationshipFilter(resource_type=ftype, relation=tupleset)
                    for rel in await read_relationships(reader, ctx, flt, ids):
                        if model.has_member(rel.subject.type, computed):
                            frontier[rel.subject.type, computed].add(rel.subject.id)
    return found

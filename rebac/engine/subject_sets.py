"""Exact lookup_subjects without per-candidate checks: an algebra of subject sets.

A :class:`SubjectSet` is either a finite set of subject ids or "every id but these" (a wildcard
with exclusions), so union, intersection and difference are exact and a wildcard never has to be
enumerated: ``(invoker + ...) & org->access`` with ``invoker: user:*`` is answered by set
operations instead of one check per member of the org. How a rewrite's operands combine is its
rule's (:attr:`rebac.engine.rewrites.Rule.combine`); the leaves are the rules' steps.

The algebra is used only where it gives the check's own answer, and :func:`exact_subjects`
returns ``None`` (the caller falls back to candidates plus checks) otherwise: a caveated
relationship on the way (its truth depends on the context), an ``.all`` arrow, a cycle in the
data through a member that is not monotone, or a path deeper than the depth budget (the checks
then raise the depth error themselves). A monotone cycle (``team#member`` in ``team#member``) is
iterated to its least fixed point, as the checks settle it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from rebac.engine import rewrites
from rebac.engine.exact import SchemaShape
from rebac.engine.mechanics import SameObject, TheObject, Through
from rebac.engine.reads import read_relationships
from rebac.engine.requests import EvalContext
from rebac.refs import WILDCARD
from rebac.schema import ir
from rebac.schema.ir import Relation
from rebac.store.base import RelationshipFilter, TupleReader

__all__ = ["SubjectSet", "exact_subjects"]

_MAX_ROUNDS: Final = 64
"""Passes over a cyclic graph before giving up (each pass can only grow a monotone answer)."""


@dataclass(frozen=True, slots=True)
class SubjectSet:
    """Subject ids of one type: ``ids`` (finite), or every id except ``ids`` (``wildcard``)."""

    ids: frozenset[str] = frozenset()
    wildcard: bool = False

    def __contains__(self, subject_id: object) -> bool:
        return (subject_id in self.ids) != self.wildcard

    def __or__(self, other: SubjectSet) -> SubjectSet:
        if self.wildcard and other.wildcard:
            return SubjectSet(self.ids & other.ids, wildcard=True)
        if self.wildcard:
            return SubjectSet(self.ids - other.ids, wildcard=True)
        if other.wildcard:
            return SubjectSet(other.ids - self.ids, wildcard=True)
        return SubjectSet(self.ids | other.ids)

    def __and__(self, other: SubjectSet) -> SubjectSet:
        if self.wildcard and other.wildcard:
            return SubjectSet(self.ids | other.ids, wildcard=True)
        if self.wildcard:
            return SubjectSet(other.ids - self.ids)
        if other.wildcard:
            return SubjectSet(self.ids - other.ids)
        return SubjectSet(self.ids & other.ids)

    def __sub__(self, other: SubjectSet) -> SubjectSet:
        if self.wildcard and other.wildcard:
            return SubjectSet(other.ids - self.ids)
        if self.wildcard:
            return SubjectSet(self.ids | other.ids, wildcard=True)
        if other.wildcard:
            return SubjectSet(self.ids & other.ids)
        return SubjectSet(self.ids - other.ids)


_EMPTY: Final = SubjectSet()
Node = tuple[str, str, str]


class _Unsure(Exception):  # noqa: N818 - control flow inside this module only
    """The algebra would not give the check's answer here: fall back."""


class _Evaluator:
    """One evaluation pass; ``previous`` holds the last pass's values for nodes met again on a cycle."""

    def __init__(  # noqa: PLR0917 - one pass's inputs, all positional by design
        self,
        reader: TupleReader,
        ctx: EvalContext,
        shape: SchemaShape,
        subject_type: str,
        previous: dict[Node, SubjectSet],
        max_depth: int,
    ) -> None:
        self.reader = reader
        self.ctx = ctx
        self.model = ctx.model
        self.shape = shape
        self.subject_type = subject_type
        self.previous = previous
        self.values: dict[Node, SubjectSet] = {}
        self.active: set[Node] = set()
        self.cyclic = False
        self.max_depth = max_depth

    async def member(self, resource_type: str, resource_id: str, name: str, depth: int) -> SubjectSet:
        node = (resource_type, resource_id, name)
        known = self.values.get(node)
        if known is not None:
            return known
        if node in self.active:
            if not self.shape.monotone((resource_type, name)):
                raise _Unsure
            self.cyclic = True
            return self.previous.get(node, _EMPTY)
        if depth >= self.max_depth:
            raise _Unsure
        self.active.add(node)
        member = self.model.member(resource_type, name)
        if isinstance(member, Relation):
            found = await self.relation(resource_type, resource_id, name, depth)
        else:
            found = await self.rewrite(resource_type, resource_id, member.rewrite, depth)
        self.active.discard(node)
        self.values[node] = found
        return found

    async def _rows(
        self, resource_type: str, resource_id: str, relation: str
    ) -> Iterable[tuple[str, str, str | None]]:
        flt = RelationshipFilter(resource_type=resource_type, relation=relation)
        rows = await read_relationships(self.reader, self.ctx, flt, (resource_id,))
        if any(rel.caveat is not None for rel in rows):
            raise _Unsure
        return [(rel.subject.type, rel.subject.id, rel.subject.relation) for rel in rows]

    async def relation(self, resource_type: str, resource_id: str, name: str, depth: int) -> SubjectSet:
        ids: set[str] = set()
        out = _EMPTY
        for subject_type, subject_id, subject_relation in await self._rows(resource_type, resource_id, name):
            if subject_relation is None:
                if subject_type != self.subject_type:
                    continue
                if subject_id == WILDCARD:
                    out |= SubjectSet(wildcard=True)
                else:
                    ids.add(subject_id)
            elif self.model.has_member(subject_type, subject_relation):
                out |= await self.member(subject_type, subject_id, subject_relation, depth + 1)
        return out | SubjectSet(frozenset(ids))

    async def rewrite(self, resource_type: str, resource_id: str, node: ir.Rewrite, depth: int) -> SubjectSet:
        rule = rewrites.rule_for(node)
        operands = rule.operands(node)
        if operands:
            parts = [await self.rewrite(resource_type, resource_id, child, depth) for child in operands]
            combined: SubjectSet | None = rule.combine(parts)
            if combined is None:
                raise _Unsure
            return combined
        match rule.step(node):
            case TheObject():
                return SubjectSet(frozenset({resource_id})) if resource_type == self.subject_type else _EMPTY
            case SameObject(relation=relation):
                return await self.member(resource_type, resource_id, relation, depth + 1)
            case Through(tupleset=tupleset, computed=computed, mode="any"):
                out = _EMPTY
                for subject_type, subject_id, _ in await self._rows(resource_type, resource_id, tupleset):
                    if self.model.has_member(subject_type, computed):
                        out |= await self.member(subject_type, subject_id, computed, depth + 1)
                return out
            case None if not operands:
                return _EMPTY  # nil
            case _:
                raise _Unsure  # an .all arrow, or a kind this algebra does not know


async def exact_subjects(
    reader: TupleReader,
    ctx: EvalContext,
    *,
    resource_type: str,
    resource_id: str,
    name: str,
    subject_type: str,
    max_depth: int,
) -> SubjectSet | None:
    """The exact set of plain ``subject_type`` subjects having ``name`` on the resource, or ``None``."""
    shape = SchemaShape(ctx.model)
    previous: dict[Node, SubjectSet] = {}
    for _ in range(_MAX_ROUNDS):
        evaluator = _Evaluator(reader, ctx, shape, subject_type, previous, max_depth)
        try:
            found = await evaluator.member(resource_type, resource_id, name, 0)
        except _Unsure:
            return None
        if not evaluator.cyclic or evaluator.values == previous:
            return found
        previous = evaluator.values
    return None

"""Expand: SpiceDB's userset tree for ``resource#relation`` (one function per rewrite kind).

A relation becomes a leaf listing its direct subjects (usersets are not followed, as in SpiceDB);
caveat names and expirations are kept on the leaf subjects. A permission becomes the tree of its
rewrite: computed relations and arrow targets are expanded as sub-trees (each spending one unit of
depth); ``.all`` arrows become intersections. The number of nodes is bounded.
"""

from __future__ import annotations

from collections.abc import Sequence

from rebac import limits
from rebac.engine.check import read_relationships
from rebac.engine.requests import ExpandRequest
from rebac.engine.results import ExpandKind, ExpandNode, ExpandSubject
from rebac.errors import BudgetExceededError
from rebac.refs import ObjectRef, SubjectRef
from rebac.schema import ir
from rebac.store.base import RelationshipFilter, TupleReader

__all__ = ["Expander"]


class Expander:
    """Builds expand trees from the store."""

    __slots__ = ("_budget", "_nodes", "_reader")

    def __init__(self, reader: TupleReader, node_budget: int = limits.EXPAND_NODE_BUDGET) -> None:
        self._reader = reader
        self._budget = node_budget
        self._nodes = 0

    def _count(self) -> None:
        self._nodes += 1
        if self._nodes > self._budget:
            raise BudgetExceededError(
                "expand visited too many nodes",
                details={"limit": "EXPAND_NODE_BUDGET", "maximum": self._budget},
            )

    async def expand(self, request: ExpandRequest) -> ExpandNode:
        """Expand ``request.resource#request.relation``."""
        request.ctx.check_deadline()
        self._count()
        member = request.ctx.model.member(request.resource.type, request.relation)
        if isinstance(member, ir.Relation):
            return await self._leaf(request)
        return await self._rewrite(request, member.rewrite)

    async def _leaf(self, request: ExpandRequest) -> ExpandNode:
        flt = RelationshipFilter(resource_type=request.resource.type, relation=request.relation)
        rels = await read_relationships(self._reader, request.ctx, flt, [request.resource.id])
        subjects = tuple(
            ExpandSubject(rel.subject, rel.caveat.name if rel.caveat else None, rel.expires_at)
            for rel in rels
        )
        return ExpandNode(ExpandKind.LEAF, request.resource, request.relation, subjects=subjects)

    def _node(self, request: ExpandRequest, kind: ExpandKind, children: Sequence[ExpandNode]) -> ExpandNode:
        return ExpandNode(kind, request.resource, request.relation, children=tuple(children))

    async def _rewrite(self, request: ExpandRequest, rewrite: ir.Rewrite) -> ExpandNode:
        self._count()
        match rewrite:
            case ir.Nil():
                return ExpandNode(ExpandKind.LEAF, request.resource, request.relation)
            case ir.SelfRef():
                subject = ExpandSubject(SubjectRef(request.resource.type, request.resource.id))
                return ExpandNode(ExpandKind.LEAF, request.resource, request.relation, subjects=(subject,))
            case ir.ComputedUserset(relation=name):
                return await self.expand(request.sub(request.resource, name))
            case ir.TupleToUserset():
                return await self._arrow(request, rewrite)
            case ir.Union(children=children):
                return self._node(
                    request, ExpandKind.UNION, [await self._rewrite(request, c) for c in children]
                )
            case ir.Intersection(children=children):
                nodes = [await self._rewrite(request, c) for c in children]
                return self._node(request, ExpandKind.INTERSECTION, nodes)
            case ir.Exclusion(base=base, subtract=subtract):
                nodes = [await self._rewrite(request, base), await self._rewrite(request, subtract)]
                return self._node(request, ExpandKind.EXCLUSION, nodes)
        raise TypeError(f"unknown rewrite {rewrite!r}")  # pragma: no cover

    async def _arrow(self, request: ExpandRequest, arrow: ir.TupleToUserset) -> ExpandNode:
        model = request.ctx.model
        flt = RelationshipFilter(resource_type=request.resource.type, relation=arrow.tupleset)
        rels = await read_relationships(self._reader, request.ctx, flt, [request.resource.id])
        targets = dict.fromkeys(ObjectRef(rel.subject.type, rel.subject.id) for rel in rels)
        children = [
            await self.expand(request.sub(target, arrow.computed))
            for target in targets
            if model.has_member(target.type, arrow.computed)
        ]
        kind = ExpandKind.UNION if arrow.mode == "any" else ExpandKind.INTERSECTION
        if kind is ExpandKind.INTERSECTION and len(children) < len(targets):
            # A subject whose type lacks the target is a non-member: the intersection is empty.
            children.append(ExpandNode(ExpandKind.LEAF, request.resource, request.relation))
        return self._node(request, kind, children)

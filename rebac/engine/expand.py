"""Expand: SpiceDB's userset tree for ``resource#relation``.

A relation becomes a leaf listing its direct subjects (usersets are not followed, as in SpiceDB);
caveat names and expirations are kept on the leaf subjects. A permission becomes the tree of its
rewrite, node by node as each kind's rule says (:meth:`rebac.engine.rewrites.Rule.expand`):
computed relations and arrow targets are expanded as sub-trees (each spending one unit of
depth); ``.all`` arrows become intersections. The number of nodes is bounded.
"""

from __future__ import annotations

from collections.abc import Sequence

from rebac import limits
from rebac.engine import rewrites
from rebac.engine.reads import read_relationships
from rebac.engine.requests import ExpandRequest
from rebac.engine.results import ExpandKind, ExpandNode, ExpandSubject
from rebac.errors import BudgetExceededError
from rebac.refs import Relationship
from rebac.schema.ir import Relation
from rebac.store.base import RelationshipFilter, TupleReader

__all__ = ["Expander"]


class Expander:
    """Builds expand trees from the store (the :class:`~rebac.engine.mechanics.ExpandOps` of the rules)."""

    __slots__ = ("_budget", "_nodes", "_reader")

    def __init__(self, reader: TupleReader, node_budget: int = limits.EXPAND_NODE_BUDGET) -> None:
        self._reader = reader
        self._budget = node_budget
        self._nodes = 0

    def count(self) -> None:
        """Spend one node of the budget.

        Raises:
            BudgetExceededError: the budget is spent.
        """
        self._nodes += 1
        if self._nodes > self._budget:
            raise BudgetExceededError(
                "expand visited too many nodes",
                details={"limit": "EXPAND_NODE_BUDGET", "maximum": self._budget},
            )

    async def read(
        self, request: ExpandRequest, flt: RelationshipFilter, resource_ids: Sequence[str]
    ) -> list[Relationship]:
        """Live relationships matching ``flt`` for ``resource_ids``."""
        return await read_relationships(self._reader, request.ctx, flt, resource_ids)

    async def expand(self, request: ExpandRequest) -> ExpandNode:
        """Expand ``request.resource#request.relation``."""
        request.ctx.check_deadline()
        self.count()
        member = request.ctx.model.member(request.resource.type, request.relation)
        if isinstance(member, Relation):
            return await self._leaf(request)
        return await rewrites.expand(self, request, member.rewrite)

    async def _leaf(self, request: ExpandRequest) -> ExpandNode:
        flt = RelationshipFilter(resource_type=request.resource.type, relation=request.relation)
        rels = await self.read(request, flt, [request.resource.id])
        subjects = tuple(
            ExpandSubject(rel.subject, rel.caveat.name if rel.caveat else None, rel.expires_at)
            for rel in rels
        )
        return ExpandNode(ExpandKind.LEAF, request.resource, request.relation, subjects=subjects)

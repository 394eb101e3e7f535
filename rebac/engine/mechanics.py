"""The interfaces around the rewrite rules of :mod:`rebac.engine.rewrites`.

* What the evaluators lend the rules: each evaluator keeps its own mechanics (reads, chunking,
  dispatch through the chain head, fixpoint scopes, memo, deadlines, budgets) and implements one
  of these small protocols over them; the rules compose the operations and never reach a store
  or a scope themselves.
* What the rules give the edge-following views: the leaf :data:`Step` values of a rewrite.

Nothing here knows a rewrite kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

from rebac.engine.model import SchemaModel
from rebac.engine.requests import CheckRequest, ExpandRequest
from rebac.engine.results import CheckResult, ExpandNode
from rebac.refs import Relationship, SubjectRef
from rebac.store.base import RelationshipFilter

__all__ = [
    "CheckOps",
    "ExactOps",
    "ExpandOps",
    "LookupOps",
    "PairResults",
    "Results",
    "ReverseOps",
    "SameObject",
    "Step",
    "TheObject",
    "Through",
]

Results = dict[str, CheckResult]
"""Check answers per resource id."""

PairResults = dict[tuple[str, str], CheckResult]
"""Check answers per ``(child, parent)`` (see :meth:`CheckOps.dispatch`)."""


class CheckOps(Protocol):
    """The check evaluator's mechanics (:class:`rebac.engine.check.Checker`)."""

    async def dispatch(
        self, request: CheckRequest, resource_type: str, relation: str, parents: Mapping[str, Iterable[str]]
    ) -> PairResults:
        """Check ``resource_type:child#relation`` for each child (``parents``: child -> parent ids).

        Every sub-problem goes through the chain head; the answer is keyed ``(child, parent)``.
        """
        ...

    async def read(
        self, request: CheckRequest, flt: RelationshipFilter, resource_ids: Sequence[str]
    ) -> list[Relationship]:
        """Live relationships matching ``flt`` for ``resource_ids`` (chunked, memoised)."""
        ...

    async def settle(
        self,
        request: CheckRequest,
        resource_ids: Sequence[str],
        evaluate: Callable[[CheckRequest], Awaitable[Results]],
    ) -> Results:
        """Run ``evaluate`` for ``resource_ids`` in a nested fixpoint scope until it is exact."""
        ...


class ExpandOps(Protocol):
    """The expander's mechanics (:class:`rebac.engine.expand.Expander`)."""

    def count(self) -> None:
        """Spend one node of the expand budget."""
        ...

    async def expand(self, request: ExpandRequest) -> ExpandNode:
        """The tree of another member (``request`` from ``ExpandRequest.sub``)."""
        ...

    async def read(
        self, request: ExpandRequest, flt: RelationshipFilter, resource_ids: Sequence[str]
    ) -> list[Relationship]:
        """Live relationships matching ``flt`` for ``resource_ids``."""
        ...


class LookupOps(Protocol):
    """What both lookup walks share: the subject, the schema and reverse reads."""

    @property
    def subject(self) -> SubjectRef:
        """The subject the lookup is for."""
        ...

    @property
    def model(self) -> SchemaModel:
        """The schema."""
        ...

    async def resources_via(
        self, resource_type: str, relation: str, subject_type: str, subject_ids: Iterable[str]
    ) -> set[str]:
        """Ids of ``resource_type`` with a live ``relation`` to any of the subjects."""
        ...


class ReverseOps(LookupOps, Protocol):
    """The reverse candidate walk's mechanics (:class:`rebac.engine.candidates.ReverseWalk`)."""

    async def members(self, resource_type: str, name: str) -> set[str]:
        """Candidate ids of ``resource_type`` for the member ``name`` (within the walk's fixpoint)."""
        ...


class ExactOps(LookupOps, Protocol):
    """The exact lookup's mechanics (:mod:`rebac.engine.exact`)."""

    async def exact(self, resource_type: str, name: str) -> set[str] | None:
        """The exact ids of ``resource_type`` having ``name``, or ``None`` if unsure."""
        ...


# --- leaf steps ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SameObject:
    """Step to the same object's ``relation`` (a relation or permission)."""

    relation: str


@dataclass(frozen=True, slots=True)
class Through:
    """Step through each relationship ``object#tupleset@y`` to ``computed`` on ``y``.

    ``mode="all"`` requires every such ``y``; edge-following views may treat both modes alike.
    """

    tupleset: str
    computed: str
    mode: Literal["any", "all"] = "any"


@dataclass(frozen=True, slots=True)
class TheObject:
    """Step to the object itself, as a subject of its own type."""


Step: TypeAlias = SameObject | Through | TheObject
"""One leaf step of a rewrite: what an edge-following view follows through the data."""

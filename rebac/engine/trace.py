"""Check traces, recorded by the evaluator while it decides (as SpiceDB's dispatcher records them).

A traced check (:meth:`rebac.engine.Engine.check_traced`) carries mutable :class:`TraceNode` values
in its requests (``CheckRequest.trace``: one per resource id). Every sub-problem the evaluator
dispatches for an id becomes a child node of that id's node (:func:`dispatch_traced`), with the
sub-problem's answer, its missing caveat parameters, expiry and duration; a child shared by several
parents is evaluated on the path of the first, whose node gets the child's own children. When
the check is done the tree is frozen into :class:`CheckTrace` values.

* Bounded: at most :data:`rebac.limits.TRACE_NODE_BUDGET` nodes per check; past it children are
  dropped and their parent is marked ``truncated``.
* A fixpoint pass that is repeated replaces the nodes of the previous one (the last pass is
  kept): a node evaluated again starts its children afresh, and a child dispatched again is the
  same node, which keeps its children when its value was reused rather than recomputed.
* A failure marks every node on the failing path with the error message; the partial tree rides
  on the raised error (:func:`trace_of`), since the check itself fails closed.

Untraced checks carry ``trace=None`` and pay one ``None`` test per dispatch.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Final, Protocol

from rebac import limits
from rebac.engine.results import CheckResult, Permissionship
from rebac.errors import RebacError
from rebac.refs import ObjectRef, SubjectRef
from rebac.schema.ir import Permission

if TYPE_CHECKING:
    from rebac.engine.model import SchemaModel
    from rebac.engine.requests import CheckRequest

__all__ = ["CheckTrace", "TraceBudget", "TraceNode", "dispatch_traced", "record_check", "trace_of"]

_ERROR_ATTRIBUTE: Final = "rebac_check_trace"


@dataclass(frozen=True, slots=True)
class CheckTrace:
    """One dispatched sub-problem for one resource id, and the sub-problems it dispatched.

    Attributes:
        resource: The object checked.
        relation: The relation or permission checked on it.
        is_permission: ``relation`` is a permission (else a relation).
        subject: The subject it was checked for (for a delegated check's hops: that hop's identity).
        result: The answer; ``None`` when the sub-problem failed (see ``error``).
        error: Why it failed (the error's public message), else ``None``.
        missing: Caveat parameters whose absence made the answer conditional.
        expires_at: Earliest expiration among the relationships the answer used.
        duration: Seconds the dispatch took (shared by the ids of one batch); not compared.
        children: The sub-problems dispatched on behalf of this id, in dispatch order.
        truncated: Children were dropped because the node budget was spent.
    """

    resource: ObjectRef
    relation: str
    is_permission: bool
    subject: SubjectRef
    result: Permissionship | None
    error: str | None = None
    missing: frozenset[str] = frozenset()
    expires_at: datetime | None = None
    duration: float = field(default=0.0, compare=False)
    children: tuple[CheckTrace, ...] = ()
    truncated: bool = False

    def nodes(self) -> Iterator[CheckTrace]:
        """This node and every node below it, depth first, in order."""
        pending = [self]
        while pending:
            node = pending.pop()
            yield node
            pending.extend(reversed(node.children))


class TraceBudget:
    """How many more nodes one traced check may record."""

    __slots__ = ("remaining",)

    def __init__(self, nodes: int) -> None:
        self.remaining = nodes

    def take(self) -> bool:
        """Spend one node; ``False`` when none is left."""
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


_Key = tuple[ObjectRef, str, SubjectRef]


class TraceNode:
    """The mutable node the evaluator fills while it decides; :meth:`freeze` makes the value."""

    __slots__ = (
        "_budget",
        "_children",
        "_previous",
        "duration",
        "error",
        "expires_at",
        "is_permission",
        "missing",
        "relation",
        "resource",
        "result",
        "subject",
        "truncated",
    )

    def __init__(
        self,
        budget: TraceBudget,
        resource: ObjectRef,
        relation: str,
        subject: SubjectRef,
        *,
        is_permission: bool,
    ) -> None:
        self._budget = budget
        self.resource = resource
        self.relation = relation
        self.subject = subject
        self.is_permission = is_permission
        self.result: Permissionship | None = None
        self.error: str | None = None
        self.missing: frozenset[str] = frozenset()
        self.expires_at: datetime | None = None
        self.duration = 0.0
        self.truncated = False
        self._children: dict[_Key, TraceNode] = {}
        self._previous: dict[_Key, TraceNode] = {}

    @classmethod
    def root(
        cls, model: SchemaModel, budget: TraceBudget, resource: ObjectRef, relation: str, subject: SubjectRef
    ) -> TraceNode:
        """The node of a top-level check (it spends one node of ``budget``)."""
        budget.take()
        return cls(
            budget, resource, relation, subject, is_permission=_is_permission(model, resource, relation)
        )

    def child(
        self, model: SchemaModel, resource: ObjectRef, relation: str, subject: SubjectRef
    ) -> TraceNode | None:
        """The node of a sub-problem dispatched for this one (``None``: the budget is spent)."""
        key = (resource, relation, subject)
        found = self._children.get(key)
        if found is None:
            found = self._previous.pop(key, None)
            if found is None:
                if not self._budget.take():
                    self.truncated = True
                    return None
                permission = _is_permission(model, resource, relation)
                found = TraceNode(self._budget, resource, relation, subject, is_permission=permission)
            self._children[key] = found
        return found

    def mark(self) -> int:
        """How many children this node has now (for :meth:`rewind`)."""
        return len(self._children)

    def rewind(self, mark: int = 0) -> None:
        """Set aside the children after ``mark`` (a repeated pass re-adds those it dispatches again)."""
        keys = list(self._children)[mark:]
        for key in keys:
            self._previous.setdefault(key, self._children.pop(key))

    def finish(self, result: CheckResult, duration: float) -> None:
        """Record the answer."""
        self.result = result.permissionship
        self.error = None
        self.missing = result.missing
        self.expires_at = result.expires_at
        self.duration = duration

    def fail(self, message: str, duration: float) -> None:
        """Record a failure."""
        self.result = None
        self.error = message
        self.duration = duration

    def freeze(self) -> CheckTrace:
        """The frozen tree below this node."""
        return CheckTrace(
            resource=self.resource,
            relation=self.relation,
            is_permission=self.is_permission,
            subject=self.subject,
            result=self.result,
            error=self.error,
            missing=self.missing,
            expires_at=self.expires_at,
            duration=self.duration,
            children=tuple(child.freeze() for child in self._children.values()),
            truncated=self.truncated,
        )


def _is_permission(model: SchemaModel, resource: ObjectRef, relation: str) -> bool:
    return isinstance(model.member(resource.type, relation), Permission)


class _Head(Protocol):
    async def check(self, request: CheckRequest) -> Mapping[str, CheckResult]: ...


async def dispatch_traced(
    head: _Head, request: CheckRequest, parents: Mapping[str, Sequence[TraceNode]]
) -> Mapping[str, CheckResult]:
    """Dispatch ``request`` to ``head``, recording one node per id under each node of its parents.

    Args:
        head: The chain head.
        request: A batch of sub-problems.
        parents: For each resource id of ``request``, the nodes it is dispatched for; the id is
            evaluated on the path of the first, whose node records the id's own children.

    Raises:
        RebacError: whatever the dispatch raised (the nodes record its message first).
    """
    model = request.ctx.model
    recorded: list[tuple[str, TraceNode]] = []
    own: dict[str, TraceNode] = {}
    for rid in request.resource_ids:
        resource = ObjectRef(request.resource_type, rid)
        for parent in parents.get(rid, ()):
            node = parent.child(model, resource, request.relation, request.subject)
            if node is not None:
                recorded.append((rid, node))
                own.setdefault(rid, node)
    started = time.perf_counter()
    try:
        answer = await head.check(replace(request, trace=own or None))
    except RebacError as exc:
        elapsed = time.perf_counter() - started
        for _, node in recorded:
            node.fail(exc.message, elapsed)
        raise
    elapsed = time.perf_counter() - started
    for rid, node in recorded:
        if rid in answer:
            node.finish(answer[rid], elapsed)
    return answer


async def record_check(
    model: SchemaModel,
    check: tuple[ObjectRef, str, SubjectRef],
    decide: Callable[[TraceNode], Awaitable[CheckResult]],
) -> tuple[CheckResult, CheckTrace]:
    """Run ``decide`` with a fresh root node for ``check`` (resource, permission, subject).

    Raises:
        RebacError: whatever ``decide`` raised, carrying the partial trace (:func:`trace_of`).
    """
    resource, permission, subject = check
    root = TraceNode.root(model, TraceBudget(limits.TRACE_NODE_BUDGET), resource, permission, subject)
    started = time.perf_counter()
    try:
        result = await decide(root)
    except RebacError as exc:
        root.fail(exc.message, time.perf_counter() - started)
        setattr(exc, _ERROR_ATTRIBUTE, root.freeze())
        raise
    root.finish(result, time.perf_counter() - started)
    return result, root.freeze()


def trace_of(error: BaseException) -> CheckTrace | None:
    """The partial trace a failed traced check left on its error, if any."""
    found = getattr(error, _ERROR_ATTRIBUTE, None)
    return found if isinstance(found, CheckTrace) else None

"""Deciding data cycles: per-request fixpoint scopes and the memo of decided results.

The meaning of a check over cyclic data is the *least fixed point* of the schema's equations
(DESIGN §4: a cycle never grants on its own), with ``+``, ``&`` and arrows read as Kleene OR / AND
over NO < CONDITIONAL < YES and ``a - b`` as ``a AND NOT b`` for a ``b`` that does not depend on
``a`` (stratified exclusion).

Why not exact per-path cuts (a node re-entered on its own path contributes NO): they give the
same top-level answer, but the answer of an inner node then depends on the *set* of its
ancestors, so results are reusable only under the same ancestor set. A clique of ``n`` nodes
has ``2**(n-2)`` such sets per node: exponential work, a denial-of-service vector.

The evaluator instead runs a chaotic (Gauss-Seidel) fixpoint iteration with memoisation, which
stays polynomial:

* Every node ``(type, id, relation)`` evaluated inside a :class:`Scope` records its value there.
  A node re-entered on its own evaluation path is *cut*: it contributes the value its earlier
  activations recorded (NO at first), flagged ``cycle_detected`` and ``provisional``.
* Every value ever computed is an under-approximation of the least fixed point (induction: the
  operators are monotone, a cut reads an under-approximation, and the subtracted side of an
  exclusion is always exact, see below). So a provisional YES is final, and a recorded value
  only grows; :meth:`Scope.record` keeps the maximum.
* A scope's *generation* moves on whenever a recorded value grows. A recorded value is reusable
  anywhere in the scope (whatever the path) while the generation has not moved since its
  computation *started*; it is then consistent with every value it read.
* The scope's root is evaluated again until one whole pass moves no value. Then every value of
  the last generation satisfies ``x >= F(x)`` over a closed set of nodes; with ``x <= lfp`` this
  forces ``x == lfp`` (Knaster-Tarski), so those values are *decided* and go to the request's
  :class:`CheckMemo`. Each extra pass follows a strict growth of some value (at most two per
  node: NO, CONDITIONAL, YES), and a pass evaluates each node about once per generation, so the
  work is polynomial in the nodes and edges of the cycle (a negative answer needs one pass).
* The subtracted side of an exclusion is settled in its own nested scope first, so it is exact
  before it is used. If it re-enters a node of an enclosing scope, the data has a cycle through
  an exclusion: the equations are not monotone and need not have a least fixed point, so that
  is an :class:`~rebac.errors.EvaluationError` (fail closed), never a guess.
* Each activation descends along one real path (a child shared by several parents is evaluated
  on one of their paths), so recursion ends at the latest when the path holds every node of the
  cycle; a cycle with more nodes than the depth budget still ends in ``MaxDepthExceededError``,
  as a chain of that length would.

Decided results reached through a cycle stay flagged ``cycle_detected``: the cross-request cache
never stores them (the per-request memo does). Everything here lives for one request; nothing is
global.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from rebac.engine.results import CheckResult, Permissionship
from rebac.errors import EvaluationError
from rebac.refs import Relationship, SubjectRef

__all__ = ["CheckMemo", "Node", "Path", "Scope", "cut_result"]

Node = tuple[str, str, str]
"""A data-level node: ``(type, id, relation)``."""

Path = Mapping[Node, int]
"""The nodes on an evaluation path, each with the nesting level of the scope that entered it."""

_RANK = {
    Permissionship.NO_PERMISSION: 0,
    Permissionship.CONDITIONAL: 1,
    Permissionship.HAS_PERMISSION: 2,
}
_NO = CheckResult(Permissionship.NO_PERMISSION)


@dataclass(frozen=True, slots=True)
class _Recorded:
    result: CheckResult
    generation: int


class CheckMemo:
    """Decided (least-fixed-point) results of one request, keyed by subject and node.

    Attributes:
        reads: The live rows each resource had for one filter shape, as read so far by this
            request (see :func:`rebac.engine.reads.read_relationships`). A request reads one
            revision at one instant, so a repeated read is answered from here.
    """

    __slots__ = ("_decided", "reads")

    def __init__(self) -> None:
        self._decided: dict[tuple[str, str, str | None, str, str, str], CheckResult] = {}
        self.reads: dict[tuple[object, ...], list[Relationship]] = {}

    def __len__(self) -> int:
        return len(self._decided)

    @staticmethod
    def _key(subject: SubjectRef, node: Node) -> tuple[str, str, str | None, str, str, str]:
        return (subject.type, subject.id, subject.relation, *node)

    def get(self, subject: SubjectRef, node: Node, depth_remaining: int | None = None) -> CheckResult | None:
        """The decided result of ``node``; with ``depth_remaining``, only if it fits that budget."""
        found = self._decided.get(self._key(subject, node))
        if found is None or (depth_remaining is not None and depth_remaining < found.depth_required):
            return None
        return found

    def put(self, subject: SubjectRef, node: Node, result: CheckResult) -> None:
        """Remember a decided result (never a provisional one)."""
        self._decided[self._key(subject, node)] = (
            replace(result, provisional=False) if result.provisional else result
        )


class Scope:
    """One fixpoint iteration: the values recorded for its nodes and the current generation.

    Attributes:
        level: Nesting depth (0 for a top-level check; +1 for the subtracted side of an exclusion).
        generation: Moves on whenever a recorded value grows.
    """

    __slots__ = ("_recorded", "generation", "level")

    def __init__(self, level: int = 0) -> None:
        self.level = level
        self.generation = 0
        self._recorded: dict[Node, _Recorded] = {}

    def nested(self) -> Scope:
        """A fresh scope one level deeper (for the subtracted side of an exclusion)."""
        return Scope(self.level + 1)

    def reusable(self, node: Node, depth_remaining: int) -> CheckResult | None:
        """The value recorded for ``node`` in the current generation, if it fits the depth budget."""
        found = self._recorded.get(node)
        if (
            found is None
            or found.generation != self.generation
            or depth_remaining < found.result.depth_required
        ):
            return None
        return found.result

    def record(self, node: Node, result: CheckResult, since: int) -> CheckResult:
        """Record a value computed for ``node``; returns the best value known (the maximum).

        ``since`` is the generation in which the computation started: the value is current (and
        reusable) only if no recorded value grew from then on, its own growth included, since
        it may have read its own older value through a cut.
        """
        found = self._recorded.get(node)
        best = result
        if found is not None and _RANK[found.result.permissionship] > _RANK[result.permissionship]:
            best = replace(found.result, cycle_detected=True, provisional=not found.result.allowed)
        before = _RANK[found.result.permissionship] if found is not None else 0
        if _RANK[best.permissionship] > before:
            self.generation += 1
        self._recorded[node] = _Recorded(best, since)
        return best

    def cut(self, node: Node, level: int, memo_value: CheckResult | None) -> CheckResult:
        """The contribution of ``node`` re-entered on its own path (entered at scope ``level``).

        Raises:
            EvaluationError: the node was entered by an enclosing scope, i.e. the subtracted side
                of an exclusion depends on the exclusion itself (no least fixed point exists).
        """
        if level < self.level:
            raise EvaluationError(
                "a data cycle runs through the subtracted side of an exclusion; it has no answer",
                details={"reason": "cycle_through_exclusion", "node": "{}:{}#{}".format(*node)},
            )
        if memo_value is not None:
            return replace(memo_value, depth_required=0, cycle_detected=True, provisional=False)
        found = self._recorded.get(node)
        return cut_result(found.result if found is not None else _NO)

    def decided(self) -> list[tuple[Node, CheckResult]]:
        """The values of the current generation (decided once a whole pass moved nothing)."""
        return [
            (node, entry.result)
            for node, entry in self._recorded.items()
            if entry.generation == self.generation
        ]


def cut_result(value: CheckResult) -> CheckResult:
    """``value`` read through a cut: flagged, and provisional unless it is already YES (final)."""
    return replace(value, depth_required=0, cycle_detected=True, provisional=not value.allowed)

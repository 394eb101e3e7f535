"""Three-valued combination of check results (true / conditional / false) with their metadata.

Every combinator keeps the bookkeeping the cache relies on: the deepest dispatch used, whether a
branch was cut by a cycle (and whether the value is still provisional, see
:mod:`rebac.engine.cycles`), and the earliest expiration among the relationships consulted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rebac.engine.caveats import CaveatOutcome, Truth
from rebac.engine.results import CheckResult, Permissionship, earliest

__all__ = ["both", "either", "exclude", "from_caveat", "intersect_all", "union_all"]

_RANK = {
    Permissionship.NO_PERMISSION: 0,
    Permissionship.CONDITIONAL: 1,
    Permissionship.HAS_PERMISSION: 2,
}
_BY_RANK = {rank: perm for perm, rank in _RANK.items()}
_EMPTY = CheckResult(Permissionship.NO_PERMISSION)


def _combine(results: Sequence[CheckResult], permissionship: Permissionship) -> CheckResult:
    depth = 0
    cycle = False
    provisional = False
    expires = None
    missing: set[str] = set()
    for result in results:
        depth = max(depth, result.depth_required)
        cycle = cycle or result.cycle_detected
        provisional = provisional or result.provisional
        expires = earliest(expires, result.expires_at)
        if result.permissionship is Permissionship.CONDITIONAL:
            missing |= result.missing
    if permissionship is not Permissionship.CONDITIONAL:
        missing = set()
    return CheckResult(permissionship, frozenset(missing), depth, cycle, expires, provisional)


def _alone(result: CheckResult) -> CheckResult:
    """``result`` combined with nothing: itself, less what a combination never carries."""
    if not result.delegation and (not result.missing or result.permissionship is Permissionship.CONDITIONAL):
        return result
    return _combine([result], result.permissionship)


def _neutral(result: CheckResult) -> bool:
    """True for a bare unconditional grant (the identity of ``&``): nothing else to combine."""
    return (
        result.permissionship is Permissionship.HAS_PERMISSION
        and result.depth_required == 0
        and result.expires_at is None
        and not (result.cycle_detected or result.provisional)
    )


def union_all(results: Iterable[CheckResult]) -> CheckResult:
    """``a + b + ...``: the best of the operands (no operands: no permission)."""
    items: Sequence[CheckResult] = results if isinstance(results, (list, tuple)) else list(results)
    if len(items) == 1:
        return _alone(items[0])
    if not items:
        return _EMPTY
    rank = max(_RANK[r.permissionship] for r in items)
    return _combine(items, _BY_RANK[rank])


def intersect_all(results: Iterable[CheckResult]) -> CheckResult:
    """``a & b & ...``: the worst of the operands (no operands: no permission)."""
    items: Sequence[CheckResult] = results if isinstance(results, (list, tuple)) else list(results)
    if len(items) == 1:
        return _alone(items[0])
    if not items:
        return _EMPTY
    rank = min(_RANK[r.permissionship] for r in items)
    return _combine(items, _BY_RANK[rank])


def either(a: CheckResult, b: CheckResult) -> CheckResult:
    """Union of two results."""
    return union_all((a, b))


def both(a: CheckResult, b: CheckResult) -> CheckResult:
    """Intersection of two results."""
    if _neutral(a):
        return _alone(b)
    return intersect_all((a, b))


def exclude(base: CheckResult, subtract: CheckResult) -> CheckResult:
    """``base - subtract``: base and not subtract."""
    if base.is_no or subtract.allowed:
        permissionship = Permissionship.NO_PERMISSION
    elif base.allowed and subtract.is_no:
        permissionship = Permissionship.HAS_PERMISSION
    else:
        permissionship = Permissionship.CONDITIONAL
    return _combine([base, subtract], permissionship)


def from_caveat(outcome: CaveatOutcome) -> CheckResult:
    """A check result standing for a relationship's caveat outcome."""
    if outcome.truth is Truth.TRUE:
        return CheckResult(Permissionship.HAS_PERMISSION)
    if outcome.truth is Truth.FALSE:
        return CheckResult(Permissionship.NO_PERMISSION)
    return CheckResult(Permissionship.CONDITIONAL, outcome.missing)

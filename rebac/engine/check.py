"""The check evaluator: relations over batched, indexed reads, and the mechanics rewrites use.

A request carries a batch of resource ids of one type. Each relation is answered with one store
query per (type, relation, subject shape) per chunk of :data:`rebac.limits.CHUNK_SIZE` ids, and
every sub-problem (a userset, a computed relation, an arrow's target) goes back through the chain
head (``redispatch``), so caching and limits apply at every hop. Caveats are evaluated eagerly
with the request context; results are three-valued (see :mod:`rebac.engine.logic`). A
permission's meaning (set operations, arrows, ...) is its rewrite's rule
(:mod:`rebac.engine.rewrites`), which composes this evaluator's :class:`~rebac.engine.mechanics.CheckOps`.

Cycles (see :mod:`rebac.engine.cycles` for the reasoning): each resource id carries the nodes on
its evaluation path. A child re-entering a node of its parent's path is cut and contributes the
value recorded for that node so far (NO at first), flagged ``cycle_detected``. A child reached from
several parents is evaluated once, on the path of one of them, and its value is shared: values are
recorded per request scope and reused whatever the path while they are current, so batches are
never split by path. A top-level request (and the subtracted side of every exclusion) is evaluated
again until a pass changes no recorded value; its values are then the least fixed point, and are
memoised for the rest of the request. Cycle-affected results are never put in the cross-request
cache.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from rebac.engine import rewrites
from rebac.engine.cycles import Node, Path, Scope
from rebac.engine.logic import both, union_all
from rebac.engine.mechanics import PairResults, Results
from rebac.engine.reads import chunked, read_relationships, tuple_existence
from rebac.engine.requests import CheckRequest
from rebac.engine.results import CheckResult, Permissionship
from rebac.engine.trace import dispatch_traced
from rebac.refs import WILDCARD, Relationship
from rebac.schema.ir import Relation
from rebac.store.base import RelationshipFilter, TupleReader

__all__ = ["CheckRedispatcher", "Checker"]

_NO = CheckResult(Permissionship.NO_PERMISSION)
_YES = CheckResult(Permissionship.HAS_PERMISSION)


class CheckRedispatcher(Protocol):
    """The chain head, as the evaluator sees it."""

    async def check(self, request: CheckRequest) -> Mapping[str, CheckResult]:
        """Answer a check sub-problem."""
        ...


def _scope(request: CheckRequest) -> Scope:
    if request.scope is None:  # pragma: no cover - Checker.check opens one for every request
        raise RuntimeError("a sub-problem without a fixpoint scope")
    return request.scope


def _hop(result: CheckResult) -> CheckResult:
    """A sub-result seen one dispatch up: one more unit of depth required."""
    return CheckResult(
        result.permissionship,
        missing=result.missing,
        depth_required=result.depth_required + 1,
        cycle_detected=result.cycle_detected,
        expires_at=result.expires_at,
        provisional=result.provisional,
        delegation=result.delegation,
    )


class Checker:
    """Evaluates one check request locally; sub-problems go to ``redispatch``."""

    __slots__ = ("_reader", "redispatch")

    def __init__(self, reader: TupleReader, redispatch: CheckRedispatcher | None = None) -> None:
        self._reader = reader
        self.redispatch = redispatch

    async def check(self, request: CheckRequest) -> dict[str, CheckResult]:
        """Answer ``request`` for every resource id in it.

        A top-level request (no scope yet) opens its own fixpoint scope and is evaluated until it
        settles; a sub-problem belongs to the scope of the request that issued it.
        """
        ctx = request.ctx
        ctx.check_deadline()
        model = ctx.model
        model.member(request.resource_type, request.relation)
        model.definition(request.subject.type)
        if request.scope is None:
            scoped = replace(request, scope=Scope())
            return await self._settle(scoped, lambda: self._nodes(scoped))
        return await self._nodes(request)

    async def _settle(self, request: CheckRequest, evaluate: Callable[[], Awaitable[Results]]) -> Results:
        """Run ``evaluate`` in ``request.scope`` until a pass changes no recorded value.

        The values of the last pass are then decided (least fixed point) and memoised. A traced
        request keeps the trace nodes of the last pass only.
        """
        scope = _scope(request)
        trace = request.trace
        marks = [] if trace is None else [(traced, traced.mark()) for traced in trace.values()]
        while True:
            generation = scope.generation
            found = await evaluate()
            if scope.generation == generation or all(not r.provisional or r.allowed for r in found.values()):
                break
            request.ctx.check_deadline()
            for traced, mark in marks:
                traced.rewind(mark)
        memo = request.ctx.memo
        if scope.generation == generation:
            for node, result in scope.decided():
                memo.put(request.subject, node, result)
        return {rid: replace(r, provisional=False) if r.provisional else r for rid, r in found.items()}

    async def _nodes(self, request: CheckRequest) -> Results:
        """Answer each id: from the memo or the scope when possible, else by evaluating it."""
        scope = _scope(request)
        memo = request.ctx.memo
        member = request.ctx.model.member(request.resource_type, request.relation)
        subject = request.subject
        results: Results = {}
        todo: list[str] = []
        for rid in dict.fromkeys(request.resource_ids):
            node = (request.resource_type, rid, request.relation)
            path = request.path_of(rid)
            if (
                subject.type == request.resource_type
                and subject.relation == request.relation
                and subject.id == rid
            ):
                results[rid] = _YES
            elif node in path:
                results[rid] = scope.cut(node, path[node], memo.get(subject, node))
            elif (known := memo.get(subject, node, request.depth_remaining)) is not None or (
                known := scope.reusable(node, request.depth_remaining)
            ) is not None:
                results[rid] = known
            else:
                todo.append(rid)
        if todo:
            since = scope.generation
            if request.trace is not None:
                # Evaluated (again): these ids' trace nodes get this evaluation's sub-problems.
                for rid in todo:
                    if (traced := request.trace.get(rid)) is not None:
                        traced.rewind()
            if isinstance(member, Relation):
                found = await self._relation(request, member, todo)
            else:
                found = await rewrites.check(self, request, member.rewrite, todo)
            for rid in todo:
                node = (request.resource_type, rid, request.relation)
                result = found[rid]
                if result.provisional and result.allowed:
                    # Every computed value under-approximates the least fixed point: YES is final.
                    result = replace(result, provisional=False)
                best = scope.record(node, result, since)
                if not best.provisional:
                    memo.put(subject, node, best)
                results[rid] = best
        return results

    # --- what the rewrite rules use (rebac.engine.mechanics.CheckOps) -------------------------------

    async def read(
        self, request: CheckRequest, flt: RelationshipFilter, resource_ids: Sequence[str]
    ) -> list[Relationship]:
        """Live relationships matching ``flt`` for ``resource_ids`` (chunked, memoised per request)."""
        return await read_relationships(self._reader, request.ctx, flt, resource_ids)

    async def settle(
        self,
        request: CheckRequest,
        resource_ids: Sequence[str],
        evaluate: Callable[[CheckRequest], Awaitable[Results]],
    ) -> Results:
        """Run ``evaluate`` for ``resource_ids`` in a nested scope until it settles (exactly).

        Each id's own node is entered on its path first, so a subtracted side that depends on
        the exclusion itself is detected (see :meth:`Scope.cut`).
        """
        outer = _scope(request)
        entered = {
            rid: {(request.resource_type, rid, request.relation): outer.level, **request.path_of(rid)}
            for rid in resource_ids
        }
        nested = replace(request, scope=outer.nested(), paths={**request.paths, **entered})
        return await self._settle(nested, lambda: evaluate(nested))

    async def dispatch(
        self,
        request: CheckRequest,
        resource_type: str,
        relation: str,
        parents: Mapping[str, Iterable[str]],
    ) -> PairResults:
        """Check ``resource_type:child#relation`` for every child; ``parents`` maps child -> parents.

        The answer is keyed by ``(child, parent)``: a child that re-enters its parent's evaluation
        path is cut for that parent (see :meth:`Scope.cut`). Every other child is evaluated once,
        on the path of its first such parent, and the value is shared by all its parents (values
        are path-independent within a scope; see :mod:`rebac.engine.cycles`).
        """
        if self.redispatch is None:
            raise RuntimeError("the checker has no redispatcher")
        subject = request.subject
        self_member = subject.type == resource_type and subject.relation == relation
        if not self_member and not request.ctx.model.may_reach(
            resource_type, relation, subject.type, subject.relation
        ):
            return {(child, parent): _NO for child, ids in parents.items() for parent in ids}
        scope = _scope(request)
        memo = request.ctx.memo
        out: PairResults = {}
        paths: dict[str, Path] = {}
        live: dict[str, list[str]] = {}
        for child, parent_ids in parents.items():
            node: Node = (resource_type, child, relation)
            for parent in sorted(parent_ids):
                here: Node = (request.resource_type, parent, request.relation)
                path = request.path_of(parent)
                # ``here`` is on the path already when an exclusion's subtracted side is being
                # settled: it was entered by the enclosing scope (see ``settle``).
                if node in path or node == here:
                    level = path.get(node, scope.level)
                    out[child, parent] = scope.cut(node, level, memo.get(subject, node))
                    continue
                live.setdefault(child, []).append(parent)
                if child not in paths:
                    paths[child] = {here: scope.level, **path}
        trace = request.trace
        for chunk in chunked(list(live)):
            sub = request.sub(resource_type, chunk, relation, {c: paths[c] for c in chunk})
            if trace is None:
                answer = await self.redispatch.check(sub)
            else:
                holders = {c: [trace[p] for p in live[c] if p in trace] for c in chunk}
                answer = await dispatch_traced(self.redispatch, sub, holders)
            for child in chunk:
                result = _hop(answer.get(child, _NO))
                for parent in live[child]:
                    out[child, parent] = result
        return out

    # --- relations --------------------------------------------------------------------------------

    async def _relation(self, request: CheckRequest, relation: Relation, ids: list[str]) -> Results:
        ctx = request.ctx
        model = ctx.model
        subject = request.subject
        direct = any(
            a.type == subject.type
            and (a.relation is None if subject.relation is None else a.relation == subject.relation)
            and not (a.wildcard and subject.relation is not None)
            for a in relation.allowed
        )
        usersets = [
            (t, r)
            for t, r in dict.fromkeys(
                (a.type, a.relation) for a in relation.allowed if a.relation is not None
            )
            if r is not None
            and model.has_member(t, r)
            and model.may_reach(t, r, subject.type, subject.relation)
        ]
        if not direct and not usersets:
            return dict.fromkeys(ids, _NO)
        # Every read is narrowed: to the subject for the direct matches, and to one subject-set
        # type per userset, so a resource with many unrelated subjects is never read whole.
        per_resource: dict[str, list[CheckResult]] = defaultdict(list)
        if direct:
            plain = subject.relation is None and subject.id != WILDCARD
            subject_ids = (subject.id, WILDCARD) if plain else (subject.id,)
            flt = RelationshipFilter(
                request.resource_type, (), relation.name, subject.type, subject_ids, subject.relation
            )
            for rel in await read_relationships(self._reader, ctx, flt, ids):
                per_resource[rel.resource.id].append(tuple_existence(ctx, rel))
        by_set: dict[tuple[str, str], list[Relationship]] = {}
        for subject_type, subject_relation in usersets:
            flt = RelationshipFilter(
                request.resource_type, (), relation.name, subject_type, (), subject_relation
            )
            open_ids = [rid for rid in ids if not any(r.allowed for r in per_resource.get(rid, ()))]
            if open_ids:
                by_set[subject_type, subject_relation] = await read_relationships(
                    self._reader, ctx, flt, open_ids
                )
        for (subject_type, subject_relation), set_rels in by_set.items():
            open_rels = [
                rel for rel in set_rels if not any(r.allowed for r in per_resource.get(rel.resource.id, ()))
            ]
            if not open_rels:
                continue
            parents: dict[str, set[str]] = defaultdict(set)
            for rel in open_rels:
                parents[rel.subject.id].add(rel.resource.id)
            answers = await self.dispatch(request, subject_type, subject_relation, parents)
            for rel in open_rels:
                answer = answers[rel.subject.id, rel.resource.id]
                per_resource[rel.resource.id].append(both(tuple_existence(ctx, rel), answer))
        return {rid: union_all(per_resource.get(rid, ())) for rid in ids}

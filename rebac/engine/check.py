"""The check evaluator: relations, set operations and arrows over batched, indexed reads.

A request carries a batch of resource ids of one type. Each relation is answered with one store
query per (type, relation, subject shape) per chunk of :data:`rebac.limits.CHUNK_SIZE` ids, and
every sub-problem (a userset, a computed relation, an arrow's target) goes back through the chain
head (``redispatch``), so caching and limits apply at every hop. Caveats are evaluated eagerly
with the request context; results are three-valued (see :mod:`rebac.engine.logic`).

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

from rebac import limits
from rebac.engine.cycles import Node, Path, Scope
from rebac.engine.logic import both, exclude, from_caveat, intersect_all, union_all
from rebac.engine.requests import CheckRequest, EvalContext
from rebac.engine.results import CheckResult, Permissionship
from rebac.refs import WILDCARD, Relationship
from rebac.schema import ir
from rebac.store.base import RelationshipFilter, TupleReader

__all__ = ["CheckRedispatcher", "Checker", "chunked", "read_relationships", "tuple_existence"]

Results = dict[str, CheckResult]
PairResults = dict[tuple[str, str], CheckResult]

_NO = CheckResult(Permissionship.NO_PERMISSION)
_YES = CheckResult(Permissionship.HAS_PERMISSION)


class CheckRedispatcher(Protocol):
    """The chain head, as the evaluator sees it."""

    async def check(self, request: CheckRequest) -> Mapping[str, CheckResult]:
        """Answer a check sub-problem."""
        ...


def chunked(ids: Sequence[str], size: int = limits.CHUNK_SIZE) -> Iterable[tuple[str, ...]]:
    """Split ``ids`` into tuples of at most ``size``."""
    for start in range(0, len(ids), size):
        yield tuple(ids[start : start + size])


async def read_relationships(
    reader: TupleReader, ctx: EvalContext, flt: RelationshipFilter, resource_ids: Sequence[str]
) -> list[Relationship]:
    """Live, unexpired relationships matching ``flt`` for ``resource_ids``, chunk by chunk.

    Rows come per chunk in resource id order. Each resource's rows are remembered for the rest
    of the request (``ctx.memo.reads``), so a second read of the same shape costs no I/O.
    """
    found: list[Relationship] = []
    reads = ctx.memo.reads
    shape = (flt.resource_type, flt.relation, flt.subject_type, flt.subject_ids, flt.subject_relation)
    now = ctx.now
    for chunk in chunked(resource_ids):
        ctx.check_deadline()
        missing = tuple(rid for rid in chunk if (shape, rid) not in reads)
        if missing:
            fresh: dict[str, list[Relationship]] = {rid: [] for rid in missing}
            narrowed = RelationshipFilter(
                flt.resource_type,
                missing,
                flt.relation,
                flt.subject_type,
                flt.subject_ids,
                flt.subject_relation,
            )
            async for rel in reader.query(narrowed, revision=ctx.revision):
                if rel.expires_at is None or not rel.is_expired(now):
                    fresh[rel.resource.id].append(rel)
            for rid, rows in fresh.items():
                reads[shape, rid] = rows
        for rid in sorted(chunk):
            found.extend(reads[shape, rid])
    return found


def tuple_existence(ctx: EvalContext, rel: Relationship) -> CheckResult:
    """Whether ``rel`` exists for this request: its caveat outcome, with its expiration."""
    if rel.caveat is None:
        if rel.expires_at is None:
            return _YES
        return CheckResult(Permissionship.HAS_PERMISSION, expires_at=rel.expires_at)
    outcome = ctx.model.caveats.evaluate(rel.caveat.name, rel.caveat.context, ctx.context)
    result = from_caveat(outcome)
    if rel.expires_at is not None:
        result = replace(result, expires_at=rel.expires_at)
    return result


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

        The values of the last pass are then decided (least fixed point) and memoised.
        """
        scope = _scope(request)
        while True:
            generation = scope.generation
            found = await evaluate()
            if scope.generation == generation or all(not r.provisional or r.allowed for r in found.values()):
                break
            request.ctx.check_deadline()
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
            if isinstance(member, ir.Relation):
                found = await self._relation(request, member, todo)
            else:
                found = await self._rewrite(request, member.rewrite, todo)
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

    # --- sub-dispatch -----------------------------------------------------------------------------

    async def _dispatch(
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
                # settled: it was entered by the enclosing scope (see ``_exclusion``).
                if node in path or node == here:
                    level = path.get(node, scope.level)
                    out[child, parent] = scope.cut(node, level, memo.get(subject, node))
                    continue
                live.setdefault(child, []).append(parent)
                if child not in paths:
                    paths[child] = {here: scope.level, **path}
        for chunk in chunked(list(live)):
            sub = request.sub(resource_type, chunk, relation, {c: paths[c] for c in chunk})
            answer = await self.redispatch.check(sub)
            for child in chunk:
                result = _hop(answer.get(child, _NO))
                for parent in live[child]:
                    out[child, parent] = result
        return out

    # --- relations --------------------------------------------------------------------------------

    async def _relation(self, request: CheckRequest, relation: ir.Relation, ids: list[str]) -> Results:
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
            answers = await self._dispatch(request, subject_type, subject_relation, parents)
            for rel in open_rels:
                answer = answers[rel.subject.id, rel.resource.id]
                per_resource[rel.resource.id].append(both(tuple_existence(ctx, rel), answer))
        return {rid: union_all(per_resource.get(rid, ())) for rid in ids}

    # --- rewrites ---------------------------------------------------------------------------------

    async def _rewrite(self, request: CheckRequest, rewrite: ir.Rewrite, ids: list[str]) -> Results:
        match rewrite:
            case ir.Nil():
                return dict.fromkeys(ids, _NO)
            case ir.SelfRef():
                subject = request.subject
                return {
                    rid: _YES
                    if subject.relation is None
                    and subject.type == request.resource_type
                    and subject.id == rid
                    else _NO
                    for rid in ids
                }
            case ir.ComputedUserset(relation=name):
                found = await self._dispatch(
                    request, request.resource_type, name, {rid: (rid,) for rid in ids}
                )
                return {rid: found[rid, rid] for rid in ids}
            case ir.TupleToUserset():
                return await self._arrow(request, rewrite, ids)
            case ir.Union(children=children):
                return await self._union(request, children, ids)
            case ir.Intersection(children=children):
                return await self._intersection(request, children, ids)
            case ir.Exclusion():
                return await self._exclusion(request, rewrite, ids)
        raise TypeError(f"unknown rewrite {rewrite!r}")  # pragma: no cover

    async def _union(self, request: CheckRequest, children: Sequence[ir.Rewrite], ids: list[str]) -> Results:
        collected: dict[str, list[CheckResult]] = {rid: [] for rid in ids}
        pending = list(ids)
        for child in children:
            if not pending:
                break
            answers = await self._rewrite(request, child, pending)
            for rid in pending:
                collected[rid].append(answers[rid])
            pending = [rid for rid in pending if not answers[rid].allowed]
        return {rid: union_all(found) for rid, found in collected.items()}

    async def _intersection(
        self, request: CheckRequest, children: Sequence[ir.Rewrite], ids: list[str]
    ) -> Results:
        collected: dict[str, list[CheckResult]] = {rid: [] for rid in ids}
        pending = list(ids)
        for child in children:
            if not pending:
                break
            answers = await self._rewrite(request, child, pending)
            for rid in pending:
                collected[rid].append(answers[rid])
            pending = [rid for rid in pending if not answers[rid].is_no]
        return {rid: intersect_all(found) for rid, found in collected.items()}

    async def _exclusion(self, request: CheckRequest, rewrite: ir.Exclusion, ids: list[str]) -> Results:
        base = await self._rewrite(request, rewrite.base, ids)
        pending = [rid for rid in ids if not base[rid].is_no]
        subtract: Results = {}
        if pending:
            # ``a - b`` is not monotone in ``b``: settle ``b`` exactly, in a scope of its own.
            outer = _scope(request)
            entered = {
                rid: {(request.resource_type, rid, request.relation): outer.level, **request.path_of(rid)}
                for rid in pending
            }
            nested = replace(request, scope=outer.nested(), paths={**request.paths, **entered})
            subtract = await self._settle(nested, lambda: self._rewrite(nested, rewrite.subtract, pending))
        return {rid: exclude(base[rid], subtract[rid]) if rid in subtract else base[rid] for rid in ids}

    async def _arrow(self, request: CheckRequest, arrow: ir.TupleToUserset, ids: list[str]) -> Results:
        ctx = request.ctx
        model = ctx.model
        flt = RelationshipFilter(resource_type=request.resource_type, relation=arrow.tupleset)
        rels = await read_relationships(self._reader, ctx, flt, ids)
        if arrow.mode == "any":
            # ``->``/``.any``: subject types without the target relation are skipped.
            rels = [rel for rel in rels if model.has_member(rel.subject.type, arrow.computed)]
        by_type: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for rel in rels:
            by_type[rel.subject.type][rel.subject.id].add(rel.resource.id)
        answers: dict[tuple[str, str, str], CheckResult] = {}
        for subject_type, parents in by_type.items():
            if not model.has_member(subject_type, arrow.computed):
                # ``.all``: a subject whose type lacks the target is a non-member (SpiceDB).
                for sid, rids in parents.items():
                    answers.update({(subject_type, sid, rid): _NO for rid in rids})
                continue
            found = await self._dispatch(request, subject_type, arrow.computed, parents)
            for (sid, rid), result in found.items():
                answers[subject_type, sid, rid] = result
        per_resource: dict[str, list[CheckResult]] = defaultdict(list)
        for rel in rels:
            answer = answers[rel.subject.type, rel.subject.id, rel.resource.id]
            term = both(tuple_existence(ctx, rel), answer)
            per_resource[rel.resource.id].append(term)
        combine = union_all if arrow.mode == "any" else intersect_all
        return {rid: combine(per_resource.get(rid, ())) for rid in ids}

"""What every evaluator reads: live relationships in chunks, and whether one exists for a request.

Reads are batched (:data:`rebac.limits.CHUNK_SIZE` ids per store query) and remembered for the
rest of the request (:attr:`rebac.engine.cycles.CheckMemo.reads`); a relationship's existence is
its caveat's outcome for the request context, with its expiration (see :mod:`rebac.engine.logic`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from rebac import limits
from rebac.engine.logic import from_caveat
from rebac.engine.requests import EvalContext
from rebac.engine.results import CheckResult, Permissionship
from rebac.refs import Relationship
from rebac.store.base import RelationshipFilter, TupleReader

__all__ = ["chunked", "read_relationships", "tuple_existence"]

_YES = CheckResult(Permissionship.HAS_PERMISSION)


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

"""``withTracing``: the path that decided a check, as SpiceDB-shaped ``CheckDebugTrace`` objects.

The trace re-asks the engine for each operand of the permission's rewrite (computed usersets,
arrows through stored relationships, subject sets on relations) at the same revision and with the
same context, and descends only into operands that granted (or were conditional), so the output
is the deciding path. It is bounded (depth and node budget) and costs nothing unless asked for.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from rebac.engine import Engine, Permissionship
from rebac.errors import RebacError
from rebac.refs import ObjectRef, SubjectRef
from rebac.schema import ir
from rebac.store.base import RelationshipFilter, TupleReader
from rebac.store.revision import Revision

__all__ = ["trace_check"]

_MAX_DEPTH: Final = 6
_MAX_NODES: Final = 64
_MAX_FANOUT: Final = 16


@dataclass
class _Budget:
    nodes: int = _MAX_NODES
    seen: set[tuple[ObjectRef, str]] = field(default_factory=set)


def _obj(ref: ObjectRef) -> dict[str, str]:
    return {"objectType": ref.type, "objectId": ref.id}


def _subj(ref: SubjectRef) -> dict[str, Any]:
    out: dict[str, Any] = {"object": {"objectType": ref.type, "objectId": ref.id}}
    if ref.relation:
        out["optionalRelation"] = ref.relation
    return out


def _operands(rewrite: ir.Rewrite) -> list[ir.ComputedUserset | ir.TupleToUserset]:
    if isinstance(rewrite, ir.ComputedUserset | ir.TupleToUserset):
        return [rewrite]
    if isinstance(rewrite, ir.Union | ir.Intersection):
        return [leaf for child in rewrite.children for leaf in _operands(child)]
    if isinstance(rewrite, ir.Exclusion):
        return _operands(rewrite.base) + _operands(rewrite.subtract)
    return []


class _Tracer:
    def __init__(
        self,
        engine: Engine,
        reader: TupleReader,
        subject: SubjectRef,
        revision: Revision,
        context: Mapping[str, Any] | None,
    ) -> None:
        self.engine = engine
        self.reader = reader
        self.subject = subject
        self.revision = revision
        self.context = context
        self.budget = _Budget()

    async def node(self, resource: ObjectRef, name: str, depth: int) -> dict[str, Any]:
        started = time.perf_counter()
        self.budget.nodes -= 1
        member = self.engine.model.member(resource.type, name)
        out: dict[str, Any] = {
            "resource": _obj(resource),
            "permission": name,
            "permissionType": (
                "PERMISSION_TYPE_PERMISSION"
                if isinstance(member, ir.Permission)
                else "PERMISSION_TYPE_RELATION"
            ),
            "subject": _subj(self.subject),
        }
        try:
            result = await self.engine.check(
                resource, name, self.subject, revision=self.revision, context=self.context
            )
            out["result"] = result.permissionship.value
            if result.missing:
                out["caveatEvaluationInfo"] = {
                    "partialCaveatInfo": {"missingRequiredContext": sorted(result.missing)}
                }
        except RebacError as exc:
            out["result"] = "PERMISSIONSHIP_UNSPECIFIED"
            out["error"] = exc.message
            result = None
        key = (resource, name)
        decisive = result is not None and result.permissionship is not Permissionship.NO_PERMISSION
        if (decisive or depth == 0) and depth < _MAX_DEPTH and key not in self.budget.seen:
            self.budget.seen.add(key)
            children = await self.children(resource, member, depth)
            if children:
                out["subProblems"] = {"traces": children}
        out["duration"] = f"{time.perf_counter() - started:.6f}s"
        return out

    async def children(
        self, resource: ObjectRef, member: ir.Relation | ir.Permission, depth: int
    ) -> list[dict[str, Any]]:
        targets: list[tuple[ObjectRef, str]] = []
        if isinstance(member, ir.Permission):
            for operand in _operands(member.rewrite):
                if isinstance(operand, ir.ComputedUserset):
                    targets.append((resource, operand.relation))
                    continue
                flt = RelationshipFilter(
                    resource_type=resource.type, resource_ids=(resource.id,), relation=operand.tupleset
                )
                targets.extend(
                    [
                        (rel.subject.object, operand.computed)
                        async for rel in self.reader.query(flt, revision=self.revision, limit=_MAX_FANOUT)
                        if self.engine.model.has_member(rel.subject.type, operand.computed)
                    ]
                )
        else:
            flt = RelationshipFilter(
                resource_type=resource.type, resource_ids=(resource.id,), relation=member.name
            )
            targets.extend(
                [
                    (rel.subject.object, rel.subject.relation)
                    async for rel in self.reader.query(flt, revision=self.revision, limit=_MAX_FANOUT)
                    if rel.subject.relation is not None
                ]
            )
        out: list[dict[str, Any]] = []
        for target, name in targets:
            if self.budget.nodes <= 0:
                break
            out.append(await self.node(target, name, depth + 1))
        return out


async def trace_check(  # noqa: PLR0917 - mirrors Engine.check's inputs plus the start time
    engine: Engine,
    reader: TupleReader,
    resource: ObjectRef,
    permission: str,
    subject: SubjectRef,
    revision: Revision,
    context: Mapping[str, Any] | None,
    started: float,
) -> dict[str, Any]:
    """The ``CheckDebugTrace`` of one check (bounded: depth 6, 64 nodes, 16 edges per relation)."""
    trace = await _Tracer(engine, reader, subject, revision, context).node(resource, permission, 0)
    trace["duration"] = f"{time.perf_counter() - started:.6f}s"
    return trace

"""The deciding path of a recorded decision: which relationships carry the permission, per hop.

A decision record keeps its verdict, its reason and the delegation hops, not the evaluator's
path. The decision page therefore asks the blast-radius service
(:meth:`rebac.services.reach.Reach.blast_radius`, narrowed to the resource's type and the
permission) for a path from each identity on the chain to the resource, **at the current
revision**, and says so: relationships written or deleted since the decision can make the
drawing differ from what the decision saw. A failure to compute the path is shown as such; the
recorded verdict is never re-derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rebac.errors import RebacError
from rebac.refs import parse_object, parse_subject
from rebac.services.core import Services
from rebac.services.types import Consistency, ConsistencyMode, Current, DecisionRecord

__all__ = ["PATH_BUDGET", "PathView", "StepView", "deciding_paths"]

PATH_BUDGET: Final = 5_000
"""Nodes each path search may visit (a decision page stays fast on a large store)."""
_MAX_HOPS: Final = 6
_HEAD: Final = Consistency(ConsistencyMode.FULLY_CONSISTENT)


@dataclass(frozen=True, slots=True)
class StepView:
    """One step: ``source`` to ``target`` through ``detail`` (a relationship or a rewrite)."""

    source: str
    target: str
    kind: str
    detail: str
    caveat: str


@dataclass(frozen=True, slots=True)
class PathView:
    """The path from one identity on the chain to the resource (empty ``steps``: none found)."""

    subject: str
    steps: tuple[StepView, ...]
    raw: str
    effective: str
    note: str


async def deciding_paths(
    services: Services, current: Current, record: DecisionRecord
) -> tuple[PathView, ...]:
    """A path per identity of the decision's chain (the checked subject alone when it has none)."""
    subjects = [str(hop.get("subject", "")) for hop in record.chain][:_MAX_HOPS] or [record.subject]
    try:
        resource = parse_object(record.resource)
        revision = await services.checks.revision(current, _HEAD)
    except RebacError as exc:
        return (PathView(record.subject, (), "", "", f"path unavailable: {exc.message}"),)
    views: list[PathView] = []
    for text in subjects:
        try:
            subject = parse_subject(text)
            reach = await services.reach.blast_radius(
                current,
                subject,
                revision=revision,
                budget=PATH_BUDGET,
                resource_types=[resource.type],
                permissions=[record.permission],
                raw_only=True,
            )
        except RebacError as exc:
            views.append(PathView(text, (), "", "", f"path unavailable: {exc.message}"))
            continue
        entry = next(
            (
                e
                for g in reach.groups
                for e in g.entries
                if e.resource == resource and e.permission == record.permission
            ),
            None,
        )
        if entry is None:
            note = (
                "search truncated before a path was found" if reach.truncated else "no relationship grants it"
            )
            views.append(PathView(text, (), "", "", note))
            continue
        steps = tuple(
            StepView(s.source, s.target, s.kind.value, s.detail, s.caveat or "") for s in entry.path
        )
        views.append(PathView(text, steps, entry.raw.value, "", ""))
    return tuple(views)

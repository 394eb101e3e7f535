"""The wire shape of ``POST /v1/blast-radius`` (JSON) and its friendly value."""

from __future__ import annotations

from typing import Literal

import msgspec

from rebac.client._admin_models import BlastRadius, ReachEntry, ReachGroup, ReachStep
from rebac.client._models import Permissionship
from rebac.client._wire import Obj, Subj, Token, W, obj_of, subj_of

__all__ = ["WireBlastRadius", "blast_radius_of"]


class _ReachEntry(W):
    resource: Obj
    permission: str
    subject: Subj
    raw: Permissionship
    conditional: bool
    capped: bool
    path: list[ReachStep]
    effective: Permissionship | None = None
    missing_required_context: list[str] = msgspec.field(default_factory=list)


class _ReachGroup(W):
    resource_type: str
    permission: str
    raw_count: int
    effective_count: int
    entries: list[_ReachEntry]


class WireBlastRadius(W):
    view: Literal["blast_radius", "who_can_reach"]
    read_at: Token
    raw_only: bool
    groups: list[_ReachGroup]
    nodes_visited: int
    budget: int
    truncated: bool
    subject: Subj | None = None
    delegated: bool | None = None
    resource: Obj | None = None
    truncated_at: int | None = None
    message: str | None = None


def blast_radius_of(wire: WireBlastRadius) -> BlastRadius:
    """``POST /v1/blast-radius`` (JSON) → :class:`BlastRadius`."""
    groups = tuple(
        ReachGroup(
            resource_type=g.resource_type,
            permission=g.permission,
            raw_count=g.raw_count,
            effective_count=g.effective_count,
            entries=tuple(
                ReachEntry(
                    resource=obj_of(e.resource),
                    permission=e.permission,
                    subject=subj_of(e.subject),
                    raw=e.raw,
                    conditional=e.conditional,
                    capped=e.capped,
                    path=tuple(e.path),
                    effective=e.effective,
                    missing_context=tuple(e.missing_required_context),
                )
                for e in g.entries
            ),
        )
        for g in wire.groups
    )
    return BlastRadius(
        view=wire.view,
        read_at=wire.read_at.token,
        raw_only=wire.raw_only,
        groups=groups,
        nodes_visited=wire.nodes_visited,
        budget=wire.budget,
        truncated=wire.truncated,
        subject=subj_of(wire.subject) if wire.subject is not None else None,
        delegated=wire.delegated,
        resource=obj_of(wire.resource) if wire.resource is not None else None,
        truncated_at=wire.truncated_at,
        message=wire.message,
    )

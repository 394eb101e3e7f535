"""DTOs of ``POST /v1/blast-radius`` (an addition): what a subject can reach, and who can reach a resource.

The response mirrors :class:`rebac.services.blast_radius.BlastRadius` and
:class:`~rebac.services.blast_radius.WhoCanReach`: per resource type and permission, every entry
with its raw and effective permissionship, its conditional marker and one path; the truncation
fields are always present so a truncated answer is never mistaken for a complete one.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from rebac.api.dto._core import (
    Consistency,
    ObjectReference,
    PermissionshipValue,
    SubjectReference,
    ZedToken,
    _In,
    _Out,
)

__all__ = [
    "BlastRadiusFormat",
    "BlastRadiusRequest",
    "BlastRadiusResponse",
    "ReachEntryInfo",
    "ReachGroupInfo",
    "ReachPathStep",
]

BlastRadiusFormat = Literal["json", "json-graph", "graphml"]
"""``json``: this module's response; ``json-graph``: networkx node-link JSON; ``graphml``: GraphML."""


class BlastRadiusRequest(_In):
    """``POST /v1/blast-radius``.

    Forward (default): everything ``subject`` can reach, optionally only ``resourceType`` and
    ``permission``. Reverse (``reverse: true``): everyone who can reach ``resource`` (optionally
    only ``permission``). ``budget`` bounds visited graph nodes and returned entries.
    """

    subject: SubjectReference | None = None
    resource: ObjectReference | None = None
    reverse: bool = False
    resource_type: str | None = None
    permission: str | None = None
    budget: int | None = None
    raw_only: bool = False
    consistency: Consistency | None = None
    format: BlastRadiusFormat = "json"


class ReachPathStep(_Out):
    """One step of a path, ``source`` to ``target`` (labels such as ``team:a#member``)."""

    source: str
    target: str
    kind: str
    detail: str
    caveat: str | None = None


class ReachEntryInfo(_Out):
    """One (resource, permission, subject) reached.

    ``effective`` is absent when only raw reach was asked for; ``capped`` is true when the
    delegation caps remove or weaken the raw reach; ``conditional`` when a result depends on
    missing caveat context (``missingRequiredContext``).
    """

    resource: ObjectReference
    permission: str
    subject: SubjectReference
    raw: PermissionshipValue
    conditional: bool
    capped: bool
    path: list[ReachPathStep]
    effective: PermissionshipValue | None = None
    missing_required_context: list[str] = msgspec.field(default_factory=list)


class ReachGroupInfo(_Out):
    """Every entry of one resource type and permission (or relation)."""

    resource_type: str
    permission: str
    raw_count: int
    effective_count: int
    entries: list[ReachEntryInfo]


class BlastRadiusResponse(_Out):
    """The result; ``truncated``, ``truncatedAt`` and ``message`` say when the budget was hit."""

    view: Literal["blast_radius", "who_can_reach"]
    read_at: ZedToken
    raw_only: bool
    groups: list[ReachGroupInfo]
    nodes_visited: int
    budget: int
    truncated: bool
    subject: SubjectReference | None = None
    delegated: bool | None = None
    resource: ObjectReference | None = None
    truncated_at: int | None = None
    message: str | None = None

"""The client's typed values of the admin endpoints: decisions, identities, reviews, blast radius, keys.

Identities, principals and relationships of the inventory are strings in the one text syntax
(``agent:a7``, ``document:1#viewer@agent:a7``), as the server shows them; times are aware
datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from rebac.client._models import Permissionship
from rebac.refs import ObjectRef, SubjectRef

__all__ = [
    "ApiKey",
    "BlastRadius",
    "BlastRadiusSize",
    "CreatedKey",
    "DecisionRecord",
    "DecisionStats",
    "Identity",
    "IdentityGrant",
    "PrincipalEdge",
    "ReachEntry",
    "ReachGroup",
    "ReachStep",
    "Review",
    "ReviewState",
    "RevokedKey",
]


class _Camel(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Decoded straight from the server's camelCase JSON."""


class DecisionRecord(_Camel, frozen=True):
    """One recorded decision of the decision log."""

    decision_id: str
    decided_at: datetime
    source: str
    subject: str
    permission: str
    resource: str
    result: str
    reason: str
    latency_ms: float
    caller: str | None = None
    chain: list[dict[str, Any]] = msgspec.field(default_factory=list)
    revision: int | None = None
    schema_version: int | None = None
    schema_hash: str | None = None
    context: dict[str, Any] | None = None
    decision_point: str | None = None


class DecisionStats(_Camel, frozen=True):
    """The decision recorder's counters (``recorded = written + queued + failed``)."""

    enabled: bool
    sample_rate: float
    recorded: int = 0
    written: int = 0
    queued: int = 0
    sampled_out: int = 0
    dropped: int = 0
    failed: int = 0
    batches: int = 0


class IdentityGrant(_Camel, frozen=True):
    """A relationship naming the identity, with the revision (and time) that created it."""

    relationship: str
    created_revision: int
    created_at: datetime | None = None


class PrincipalEdge(_Camel, frozen=True):
    """``identity`` acts for ``principal``."""

    identity: str
    principal: str


class BlastRadiusSize(_Camel, frozen=True):
    """Blast-radius entry counts; lower bounds when ``truncated``."""

    raw: int
    effective: int
    truncated: bool = False
    message: str | None = None
    error: str | None = None


class Review(_Camel, frozen=True):
    """A stored review: who approved which relationships (``grants``) at which revision."""

    review_id: int
    subject: str
    reviewer: str
    revision: int
    reviewed_at: datetime
    fingerprint: str
    grants: list[str]
    note: str = ""


class ReviewState(_Camel, frozen=True):
    """An identity against its newest review."""

    fingerprint: str
    last_review: Review | None = None
    added_since: list[IdentityGrant] = msgspec.field(default_factory=list)
    removed_since: list[str] = msgspec.field(default_factory=list)


class Identity(_Camel, frozen=True):
    """One non-human identity of the inventory."""

    subject: str
    delegates: bool
    chain: list[str]
    owners: list[str]
    principals: list[PrincipalEdge]
    grant_count: int
    grants_truncated: bool
    decisions_known: bool
    review: ReviewState
    flags: list[str]
    chain_error: str | None = None
    created_revision: int | None = None
    created_at: datetime | None = None
    grants_expire_first: datetime | None = None
    grants_expire_last: datetime | None = None
    last_decision_at: datetime | None = None
    blast_radius: BlastRadiusSize | None = None


class ReachStep(_Camel, frozen=True):
    """One step of a reach path, ``source`` to ``target`` (labels such as ``team:a#member``)."""

    source: str
    target: str
    kind: str
    detail: str
    caveat: str | None = None


class ReachEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One (resource, permission, subject) reached, raw beside effective (after delegation caps)."""

    resource: ObjectRef
    permission: str
    subject: SubjectRef
    raw: Permissionship
    conditional: bool
    capped: bool
    path: tuple[ReachStep, ...]
    effective: Permissionship | None = None
    missing_context: tuple[str, ...] = ()


class ReachGroup(msgspec.Struct, frozen=True, kw_only=True):
    """Every entry of one resource type and permission."""

    resource_type: str
    permission: str
    raw_count: int
    effective_count: int
    entries: tuple[ReachEntry, ...]


class BlastRadius(msgspec.Struct, frozen=True, kw_only=True):
    """What a subject can reach (``view="blast_radius"``) or who can reach a resource (``"who_can_reach"``).

    ``truncated``, ``truncated_at`` and ``message`` say when the budget cut the answer short.
    """

    view: Literal["blast_radius", "who_can_reach"]
    read_at: str
    raw_only: bool
    groups: tuple[ReachGroup, ...]
    nodes_visited: int
    budget: int
    truncated: bool
    subject: SubjectRef | None = None
    delegated: bool | None = None
    resource: ObjectRef | None = None
    truncated_at: int | None = None
    message: str | None = None


class CreatedKey(_Camel, frozen=True):
    """A new API key: ``key`` is its secret text (``rbk_<id>_<secret>``), shown only this once."""

    key: str
    key_id: str
    scopes: list[str]
    name: str
    created_at: datetime
    subject: str | None = None


class ApiKey(_Camel, frozen=True):
    """A stored API key (never its secret)."""

    key_id: str
    scopes: list[str]
    name: str
    created_at: datetime
    subject: str | None = None
    revoked_at: datetime | None = None


class RevokedKey(_Camel, frozen=True):
    """A revoked key."""

    key_id: str
    revoked_at: datetime

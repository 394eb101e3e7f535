"""The value types of the store contract: filters, consistency, updates, results, records, keys.

The protocols that exchange them are in :mod:`rebac.store.base`, which re-exports every name here.
Subject relations are ``None`` for a plain subject; in filters, :data:`ANY_RELATION` matches any
subject relation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from rebac.refs import Relationship, SubjectRef
from rebac.store.revision import Revision

__all__ = [
    "ANY_RELATION",
    "ApiKey",
    "Change",
    "Consistency",
    "ConsistencyMode",
    "DecisionFilter",
    "DecisionKey",
    "DecisionRecord",
    "DecisionResult",
    "ImportResult",
    "Operation",
    "Precondition",
    "PreconditionKind",
    "RelationshipFilter",
    "RelationshipUpdate",
    "RelationshipVersion",
    "Review",
    "SchemaVersion",
    "WriteResult",
]


class _AnyRelation:
    """Sentinel type: a subject-relation filter that matches every subject relation."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ANY_RELATION"


ANY_RELATION: Final = _AnyRelation()


@dataclass(frozen=True, slots=True)
class RelationshipFilter:
    """Selects relationships. Empty fields match everything.

    Attributes:
        resource_type: Resource type, or ``None`` for any (then ``resource_ids`` must be empty).
        resource_ids: Resource ids to match (any of them); empty matches all.
        relation: Relation name, or ``None`` for any.
        subject_type: Subject type, or ``None`` for any.
        subject_ids: Subject ids to match (any of them); empty matches all.
        subject_relation: ``ANY_RELATION`` (default), ``None`` for plain subjects only, or a name.
    """

    resource_type: str | None = None
    resource_ids: tuple[str, ...] = ()
    relation: str | None = None
    subject_type: str | None = None
    subject_ids: tuple[str, ...] = ()
    subject_relation: str | _AnyRelation | None = ANY_RELATION

    def matches(self, rel: Relationship) -> bool:
        """True when ``rel`` is selected by this filter (used by the memory engine and tests)."""
        if self.resource_type is not None and rel.resource.type != self.resource_type:
            return False
        if self.resource_ids and rel.resource.id not in self.resource_ids:
            return False
        if self.relation is not None and rel.relation != self.relation:
            return False
        if self.subject_type is not None and rel.subject.type != self.subject_type:
            return False
        if self.subject_ids and rel.subject.id not in self.subject_ids:
            return False
        return self.subject_relation is ANY_RELATION or rel.subject.relation == self.subject_relation


class ConsistencyMode(StrEnum):
    """SpiceDB's four consistency modes."""

    MINIMIZE_LATENCY = "minimize_latency"
    AT_LEAST_AS_FRESH = "at_least_as_fresh"
    AT_EXACT_SNAPSHOT = "at_exact_snapshot"
    FULLY_CONSISTENT = "fully_consistent"


@dataclass(frozen=True, slots=True)
class Consistency:
    """How fresh a read must be. ``token`` is required for the two token modes."""

    mode: ConsistencyMode = ConsistencyMode.MINIMIZE_LATENCY
    token: str | None = None


class Operation(StrEnum):
    """Write operations (SpiceDB's ``OPERATION_TOUCH/CREATE/DELETE``)."""

    TOUCH = "touch"
    CREATE = "create"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class RelationshipUpdate:
    """One update of a write call."""

    operation: Operation
    relationship: Relationship


class PreconditionKind(StrEnum):
    """Whether the filter must or must not match a live relationship."""

    MUST_MATCH = "must_match"
    MUST_NOT_MATCH = "must_not_match"


@dataclass(frozen=True, slots=True)
class Precondition:
    """A write precondition, checked inside the write transaction."""

    kind: PreconditionKind
    filter: RelationshipFilter


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write committed: the revision and the token that names it."""

    revision: Revision
    token: str
    count: int = 0


@dataclass(frozen=True, slots=True)
class ImportResult:
    """Outcome of a bulk import. ``position`` is the number of input lines durably committed."""

    revision: Revision
    token: str
    loaded: int
    position: int


@dataclass(frozen=True, slots=True)
class Change:
    """One changelog entry: at ``revision``, ``relationship`` was touched or deleted."""

    revision: Revision
    operation: Operation
    relationship: Relationship
    committed_at: datetime


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """An immutable schema version."""

    version: int
    text: str
    hash: str
    author: str
    created_at: datetime
    revision: Revision = field(default_factory=lambda: Revision(0))


# --- decision log ----------------------------------------------------------------------------------


class DecisionResult(StrEnum):
    """The outcome of one recorded decision."""

    ALLOWED = "allowed"
    DENIED = "denied"
    CONDITIONAL = "conditional"
    ERROR = "error"


DecisionKey = tuple[datetime, str]
"""``(decided_at, decision_id)``: the order of decision queries and their cursor."""


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One recorded decision (a check, one bulk-check item or one AuthZEN evaluation).

    Attributes:
        decision_id: Time-ordered id (UUIDv7 text), returned to the caller.
        decided_at: When the decision was made (aware UTC); the partition key.
        source: Which endpoint decided (``check``, ``checkbulk``, ``authzen``, ...).
        caller: The API key id, if any.
        subject: Canonical subject text (``agent:a7``, ``team:eng#member``).
        permission: The permission checked.
        resource: Canonical resource text (``doc:1``).
        result: Allowed, denied, conditional or error.
        reason: The deciding path, the failing delegation hop or the error type.
        chain: The delegation hops, nearest first (JSON objects).
        revision: The revision the decision read at, if known.
        schema_version: The schema version used, if known.
        schema_hash: That version's hash.
        context: The caveat context (size-capped by the recorder).
        latency_ms: Time the decision took.
        decision_point: The decision point that made it: the instance name
            (``REBAC_INSTANCE_NAME``, default ``host:pid``); a gateway's records name the gateway
            first (``gateway-name/instance``).
    """

    decision_id: str
    decided_at: datetime
    source: str
    caller: str | None
    subject: str
    permission: str
    resource: str
    result: DecisionResult
    reason: str
    chain: tuple[dict[str, Any], ...] = ()
    revision: int | None = None
    schema_version: int | None = None
    schema_hash: str | None = None
    context: dict[str, Any] | None = None
    latency_ms: float = 0.0
    decision_point: str | None = None

    @property
    def key(self) -> DecisionKey:
        """The sort key (newest first) and pagination cursor of this record."""
        return (self.decided_at, self.decision_id)


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    """Selects decision records; ``None`` fields match everything.

    ``since`` is inclusive and ``until`` exclusive. ``decision_id`` selects one record by its id
    (UUID text); give it a time range too, so that a partitioned log reads only the days the
    record can be in (:meth:`rebac.services.decisions.Decisions.get` derives the range from the
    UUIDv7's embedded time).
    """

    subject: str | None = None
    resource: str | None = None
    permission: str | None = None
    result: DecisionResult | None = None
    since: datetime | None = None
    until: datetime | None = None
    decision_id: str | None = None
    source: str | None = None
    decision_point: str | None = None

    def matches(self, record: DecisionRecord) -> bool:
        """True when ``record`` is selected (used by the memory engine and tests)."""
        return (
            (self.decision_id is None or record.decision_id == self.decision_id)
            and (self.subject is None or record.subject == self.subject)
            and (self.resource is None or record.resource == self.resource)
            and (self.permission is None or record.permission == self.permission)
            and (self.source is None or record.source == self.source)
            and (self.result is None or record.result is self.result)
            and (self.since is None or record.decided_at >= self.since)
            and (self.until is None or record.decided_at < self.until)
            and (self.decision_point is None or record.decision_point == self.decision_point)
        )


# --- identity inventory and reviews (DESIGN §7) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class RelationshipVersion:
    """A live relationship with the revision that created it and that revision's commit time.

    ``committed_at`` is ``None`` when the revision's row was garbage-collected.
    """

    relationship: Relationship
    created: Revision
    committed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Review:
    """An approval of an identity's grants as they were at ``revision``.

    Attributes:
        subject: The reviewed identity (a plain object).
        reviewer: Who approved.
        revision: The revision whose grants were approved.
        reviewed_at: When.
        note: Free text (may be empty).
        fingerprint: Hex sha256 of ``grants`` (one line each, sorted).
        grants: The approved relationships naming ``subject``, canonical text, sorted.
        review_id: Assigned by the store (``0`` before it is stored).
    """

    subject: SubjectRef
    reviewer: str
    revision: Revision
    reviewed_at: datetime
    note: str
    fingerprint: str
    grants: tuple[str, ...]
    review_id: int = 0


# --- API keys --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One stored key.

    Attributes:
        key_id: Public id (the ``<id>`` of ``rbk_<id>_<secret>``).
        secret_hash: Hex sha256 of the secret.
        scopes: Granted scopes (``check``, ``write``, ``schema``, ``admin``).
        name: A label for people.
        created_at: When it was created.
        revoked_at: When it was revoked, or ``None``.
        subject: Canonical text of the subject the key acts for (``user:alice``), or ``None``: a
            key acting for no one (it may still call what its scopes allow, but nothing that needs
            an acting subject, such as recording a review).
    """

    key_id: str
    secret_hash: str
    scopes: frozenset[str]
    name: str
    created_at: datetime
    revoked_at: datetime | None = None
    subject: str | None = None

    @property
    def revoked(self) -> bool:
        """True once revoked."""
        return self.revoked_at is not None

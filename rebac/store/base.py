"""The store contract: small role protocols, and the value types they exchange.

The engine depends only on these protocols; ``rebac.store.postgres`` and ``rebac.store.memory``
implement them and pass one shared test suite. Every store is a :class:`TupleStore`; the other
roles (decision log, identity reads, reviews, API keys) are optional, and a store declares the
ones it serves in :attr:`TupleStore.roles`. The value types live in :mod:`rebac.store.records`
and are re-exported here, so ``rebac.store.base`` names the whole contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from rebac.refs import Relationship, SubjectRef
from rebac.store.records import (
    ANY_RELATION,
    ApiKey,
    Change,
    Consistency,
    ConsistencyMode,
    DecisionFilter,
    DecisionKey,
    DecisionRecord,
    DecisionResult,
    ImportResult,
    Operation,
    Precondition,
    PreconditionKind,
    RelationshipFilter,
    RelationshipUpdate,
    RelationshipVersion,
    Review,
    SchemaVersion,
    WriteResult,
)
from rebac.store.revision import Revision

__all__ = [
    "ANY_RELATION",
    "AccessRequest",
    "AccessRequestStore",
    "ApiKey",
    "Change",
    "Changelog",
    "Consistency",
    "ConsistencyMode",
    "DecisionFilter",
    "DecisionKey",
    "DecisionLog",
    "DecisionRecord",
    "DecisionResult",
    "IdentityReader",
    "ImportResult",
    "KeyStore",
    "Operation",
    "Precondition",
    "PreconditionKind",
    "RelationshipFilter",
    "RelationshipUpdate",
    "RelationshipVersion",
    "Review",
    "ReviewStore",
    "SchemaStore",
    "SchemaVersion",
    "StoreRoles",
    "TupleReader",
    "TupleStore",
    "TupleWriter",
    "WriteResult",
]


class TupleReader(Protocol):
    """Reads relationships at a revision. Expired relationships are never returned."""

    async def resolve(self, consistency: Consistency) -> Revision:
        """The revision a read with ``consistency`` must use (waits or raises as needed)."""
        ...

    async def head_revision(self) -> Revision:
        """The newest committed revision."""
        ...

    def query(
        self,
        flt: RelationshipFilter,
        *,
        revision: Revision,
        limit: int | None = None,
        after: Relationship | None = None,
    ) -> AsyncIterator[Relationship]:
        """Live relationships matching ``flt`` at ``revision``, ordered by ``Relationship.key()``.

        ``after`` resumes strictly after that relationship's key (cursor pagination).
        """
        ...


class TupleWriter(Protocol):
    """Writes relationships atomically."""

    async def write(
        self,
        updates: Sequence[RelationshipUpdate],
        preconditions: Sequence[Precondition] = (),
        *,
        schema_version: int | None = None,
    ) -> WriteResult:
        """Apply all updates in one transaction after checking every precondition, or nothing.

        With ``schema_version`` (``0``: no schema yet) the write is refused with
        ``SchemaVersionConflictError`` unless that version is still current when it commits (the
        comparison runs under the writer lock), so relationships validated against one schema
        never land under another.
        """
        ...

    async def delete_matching(
        self,
        flt: RelationshipFilter,
        preconditions: Sequence[Precondition] = (),
        *,
        limit: int | None = None,
    ) -> WriteResult:
        """Delete every live relationship matching ``flt`` in one transaction."""
        ...

    async def bulk_import(
        self, relationships: Iterable[Relationship], *, schema_version: int | None = None
    ) -> ImportResult:
        """Load many relationships (create semantics) atomically.

        With ``schema_version`` (``0``: no schema yet), the import is refused with
        ``SchemaVersionConflictError`` unless that version is still current when it commits, so
        relationships validated against it never land under another schema. The store itself does
        not validate them against any schema.
        """
        ...

    async def gc(self, *, older_than_seconds: float) -> int:
        """Remove relationships deleted or expired longer ago than the window; return the count."""
        ...


class Changelog(Protocol):
    """Reads the change log; followers are woken when new revisions commit."""

    async def changes_since(self, revision: Revision, *, limit: int = 1000) -> list[Change]:
        """Changes with revision strictly greater than ``revision``, in revision order."""
        ...

    async def wait_for_revision(self, revision: Revision, *, timeout: float) -> bool:
        """Wait until the head revision is at least ``revision``; False on timeout."""
        ...


class SchemaStore(Protocol):
    """Stores immutable schema versions and the current pointer."""

    async def write_schema(
        self,
        text: str,
        *,
        author: str,
        expected_version: int | None = None,
        verify: Callable[[], Awaitable[None]] | None = None,
    ) -> SchemaVersion:
        """Store ``text`` as a new version and make it current, atomically.

        ``expected_version`` is a compare-and-set: the write happens only if that version is still
        current (``0``: no schema written yet), else ``SchemaVersionConflictError`` and nothing is
        written. ``None`` (default) writes unconditionally. ``verify`` runs under the writer lock,
        before the version is stored: no relationship write commits while it runs, and when it
        raises nothing is written (the schema service checks for orphans there).
        """
        ...

    async def current_schema(self) -> SchemaVersion | None:
        """The current version, or ``None`` before the first write."""
        ...

    async def schema_version(self, version: int) -> SchemaVersion:
        """One version; raises ``SchemaVersionNotFoundError``."""
        ...

    async def schema_history(self) -> list[SchemaVersion]:
        """Every version, oldest first."""
        ...


class TupleStore(TupleReader, TupleWriter, Changelog, SchemaStore, Protocol):
    """Everything a store engine provides."""

    @property
    def store_id(self) -> str:
        """Stable id of this store, embedded in its tokens."""
        ...

    def token_for(self, revision: Revision) -> str:
        """The opaque token for ``revision`` of this store."""
        ...

    @property
    def roles(self) -> StoreRoles:
        """The optional roles this store serves, each as the object serving it."""
        ...

    async def ready(self) -> bool:
        """True when the store can serve reads.

        That is: reachable, migrated to head, and, with the index on, the index loaded.

        Raises:
            StoreError: the store could not be asked (``StoreUnavailableError``: unreachable).
        """
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


# --- decision log ----------------------------------------------------------------------------------


class DecisionLog(Protocol):
    """Appends and queries decision records, kept in whole UTC days so retention is cheap."""

    async def append_decisions(self, batch: Sequence[DecisionRecord]) -> None:
        """Store every record of ``batch`` in one transaction; a repeated key stores nothing.

        The key is ``(decided_at, decision_id)`` (a partitioned table's key must contain its
        partition key); ids are UUIDv7, so they are unique anyway.
        """
        ...

    async def query_decisions(
        self, flt: DecisionFilter, *, limit: int, after: DecisionKey | None = None
    ) -> list[DecisionRecord]:
        """Records matching ``flt``, newest first, at most ``limit``, strictly after ``after``."""
        ...

    async def drop_decisions_before(self, before: datetime) -> int:
        """Drop every whole UTC day of records that ends at or before ``before``; return the days dropped."""
        ...


# --- identity inventory and reviews (DESIGN §7) ----------------------------------------------------


class IdentityReader(Protocol):
    """Reads for the identity inventory: which objects of a type exist, and relationship provenance."""

    async def object_ids(
        self, object_type: str, *, revision: Revision, after: str | None = None, limit: int
    ) -> list[str]:
        """Ids of ``object_type`` named by a live relationship (as resource or plain subject).

        Sorted, strictly after ``after``, at most ``limit``; the wildcard ``*`` is never an id.
        """
        ...

    async def query_versions(
        self, flt: RelationshipFilter, *, revision: Revision, limit: int | None = None
    ) -> list[RelationshipVersion]:
        """Live relationships matching ``flt`` at ``revision`` (key order), with their provenance."""
        ...


class ReviewStore(Protocol):
    """Stores identity reviews (append-only)."""

    async def add_review(self, review: Review) -> Review:
        """Store ``review``; return it with its assigned ``review_id``."""
        ...

    async def latest_reviews(self, subject_type: str, subject_ids: Sequence[str]) -> dict[str, Review]:
        """The newest review of each listed identity that has one, by id."""
        ...

    async def list_reviews(
        self, *, subject: SubjectRef | None = None, before_id: int | None = None, limit: int
    ) -> list[Review]:
        """Reviews, newest first (of ``subject`` only, when given), with ``review_id < before_id``."""
        ...


# --- API keys --------------------------------------------------------------------------------------


class KeyStore(Protocol):
    """Stores scoped API keys, hashed: only ``sha256(secret)`` is kept, never the key text."""

    async def create_key(
        self,
        key_id: str,
        secret_hash: str,
        scopes: frozenset[str],
        name: str = "",
        subject: str | None = None,
    ) -> ApiKey:
        """Store a new key (its hash only), acting for ``subject`` (canonical text) when given.

        Raises:
            ConflictError: the id exists.
        """
        ...

    async def find_key(self, key_id: str) -> ApiKey | None:
        """The key with ``key_id``, or ``None``."""
        ...

    async def list_keys(self) -> list[ApiKey]:
        """Every key, oldest first (hashes included; never print them)."""
        ...

    async def revoke_key(self, key_id: str) -> bool:
        """Revoke a key; False when no live key has that id."""
        ...


# --- access requests (AuthZEN ARAP) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """A request for access that a human approves or denies (the AuthZEN ARAP draft).

    Attributes:
        request_id: Public id.
        status: ``pending``, then ``approved``, ``denied``, ``cancelled`` or ``expired``.
        subject: Canonical text of the identity that wants access (the checked subject).
        chain: Its claimed principals, nearest first (canonical texts).
        resource: Canonical ``type:id`` of the resource.
        action: The permission asked for.
        relation: The relation the grant writes (``resource#relation@subject``).
        justification: Why (free text).
        requested_until: When the wanted access should end.
        requester: Canonical text of the key subject that asked (``None``: unknown).
        evaluation_id: The decision id of the deny that prompted the request, if given.
        created_at: When it was made.
        expires_at: When a request nobody acted on expires.
        decided_by: The approver (or the canceller) once decided.
        decided_at: When.
        reason: The decider's note.
        grant_revision: The revision of the grant's write (approved only).
        grant_expires_at: When the grant expires (approved only).
    """

    request_id: str
    status: str
    subject: str
    chain: tuple[str, ...]
    resource: str
    action: str
    relation: str
    justification: str
    requested_until: datetime
    requester: str | None
    evaluation_id: str | None
    created_at: datetime
    expires_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str = ""
    grant_revision: int | None = None
    grant_expires_at: datetime | None = None


class AccessRequestStore(Protocol):
    """Stores access requests; a decision and its grant are written in one transaction."""

    async def add_access_request(self, request: AccessRequest) -> AccessRequest:
        """Store a new (pending) request.

        Raises:
            ConflictError: the id exists.
        """
        ...

    async def get_access_request(self, request_id: str) -> AccessRequest | None:
        """The request with ``request_id``, or ``None``."""
        ...

    async def list_access_requests(
        self, *, status: str | None = None, before: tuple[datetime, str] | None = None, limit: int
    ) -> list[AccessRequest]:
        """Requests newest first (of ``status`` only, when given), after ``before`` in that order.

        ``before`` is the ``(created_at, request_id)`` of the last request of the previous page: two
        requests made in the same microsecond are both listed, each once.
        """
        ...

    async def decide_access_request(
        self,
        request_id: str,
        *,
        status: str,
        decided_by: str | None,
        now: datetime,
        reason: str = "",
        grant: Relationship | None = None,
    ) -> AccessRequest:
        """Move a pending, unexpired request to ``status``; with ``grant``, write it (TOUCH) atomically.

        ``status`` ``expired`` is accepted for a pending request past its ``expires_at`` only.

        Raises:
            NotFoundError: no such request.
            ConflictError: the request is no longer pending, or expired (for any other status).
        """
        ...


# --- optional roles --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreRoles:
    """The optional roles a store serves, each as the object serving it (``None``: not served).

    Attributes:
        decisions: The decision log: appends decision records, queries them, drops old days.
        identities: Identity-inventory reads: the ids of a type, relationships with provenance.
        reviews: Identity reviews: append-only approvals of an identity's grants.
        keys: The API key table the HTTP API authenticates scoped keys against.
        requests: Access requests and their approvals (AuthZEN ARAP).
    """

    decisions: DecisionLog | None = None
    identities: IdentityReader | None = None
    reviews: ReviewStore | None = None
    keys: KeyStore | None = None
    requests: AccessRequestStore | None = None

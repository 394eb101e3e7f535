"""The client's typed values of the v1 API and AuthZEN: requests and answers, as msgspec Structs.

Objects, subjects and relationships are :mod:`rebac.refs` values; wherever the client takes one it
also takes its text in the one syntax (``"document:1"``, ``"team:eng#member"``,
``"document:1#viewer@user:tom"``). Consistency tokens are opaque strings.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import msgspec

from rebac.client._errors import Problem, RebacClientError
from rebac.refs import ObjectRef, Relationship, SubjectRef

__all__ = [
    "BulkCheck",
    "BulkCheckResult",
    "CheckResult",
    "Consistency",
    "Decision",
    "DelegationHop",
    "DeleteResult",
    "Entity",
    "Evaluation",
    "EvaluationItem",
    "ExpandResult",
    "ExpandTree",
    "ImportResult",
    "LookupResource",
    "LookupSubject",
    "Operation",
    "Permissionship",
    "Precondition",
    "Reason",
    "RelationshipFilter",
    "SchemaDiff",
    "SchemaInfo",
    "SchemaVersion",
    "SchemaWriteResult",
    "Semantic",
    "Update",
    "WatchEvent",
    "WatchUpdate",
]

Semantic = Literal["execute_all", "deny_on_first_deny", "permit_on_first_permit"]
"""AuthZEN's ``options.evaluations_semantic``."""


class Permissionship(StrEnum):
    """A decision, as SpiceDB spells it."""

    NO_PERMISSION = "PERMISSIONSHIP_NO_PERMISSION"
    HAS_PERMISSION = "PERMISSIONSHIP_HAS_PERMISSION"
    CONDITIONAL_PERMISSION = "PERMISSIONSHIP_CONDITIONAL_PERMISSION"


class Operation(StrEnum):
    """A relationship update."""

    TOUCH = "OPERATION_TOUCH"
    CREATE = "OPERATION_CREATE"
    DELETE = "OPERATION_DELETE"


class Reason(StrEnum):
    """Why :meth:`~rebac.client.Client.decide` allowed or denied (only ``GRANTED`` allows)."""

    GRANTED = "granted"
    """The server answered ``PERMISSIONSHIP_HAS_PERMISSION``."""
    DENIED = "denied"
    """The server answered ``PERMISSIONSHIP_NO_PERMISSION``."""
    CONDITIONAL = "conditional"
    """A caveat lacks context (``missing_context`` names it): a deny."""
    DELEGATION = "delegation"
    """A link of the subject's principal chain failed (``failed_hop`` says which and why)."""
    TIMEOUT = "timeout"
    """The client's timeout or the server's evaluation deadline passed."""
    OUTAGE = "outage"
    """The server could not be reached, broke the connection, or was unavailable (503)."""
    ERROR = "error"
    """Any other error (a bad request, a missing scope, an evaluation error ...)."""


class Consistency(msgspec.Struct, frozen=True):
    """How fresh a read must be; build one with the class methods.

    ``None`` where a method takes ``consistency`` means: the client's read-your-writes token when
    it has one (``at_least_as_fresh``), else the server's default (``minimize_latency``).
    """

    mode: Literal["minimize_latency", "at_least_as_fresh", "at_exact_snapshot", "fully_consistent"]
    token: str | None = None

    @classmethod
    def minimize_latency(cls) -> Consistency:
        """A recent snapshot (the server's default; may miss writes of the last seconds)."""
        return cls("minimize_latency")

    @classmethod
    def at_least_as_fresh(cls, token: str) -> Consistency:
        """At least as fresh as the write (or read) that returned ``token``."""
        return cls("at_least_as_fresh", token)

    @classmethod
    def at_exact_snapshot(cls, token: str) -> Consistency:
        """Exactly the snapshot of ``token``."""
        return cls("at_exact_snapshot", token)

    @classmethod
    def fully_consistent(cls) -> Consistency:
        """The newest data (the most expensive read)."""
        return cls("fully_consistent")


class DelegationHop(msgspec.Struct, frozen=True, kw_only=True):
    """One identity on the checked subject's principal chain, with its own verdict.

    ``reason`` is ``granted``, ``denied``, ``conditional``, ``orphan``, ``principal_cycle`` or
    ``chain_mismatch``.
    """

    subject: SubjectRef
    depth: int
    permissionship: Permissionship
    reason: str
    missing_context: tuple[str, ...] = ()
    principal_of: tuple[SubjectRef, ...] = ()


def _failed_hop(hops: tuple[DelegationHop, ...]) -> DelegationHop | None:
    return next((h for h in hops if h.permissionship is not Permissionship.HAS_PERMISSION), None)


class CheckResult(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of ``check``. ``allowed`` is true only for ``HAS_PERMISSION``."""

    permissionship: Permissionship
    checked_at: str
    decision_id: str | None = None
    missing_context: tuple[str, ...] = ()
    delegation: tuple[DelegationHop, ...] = ()
    expires_at: datetime | None = None
    trace: dict[str, Any] | None = None

    @property
    def allowed(self) -> bool:
        """True only for an explicit ``PERMISSIONSHIP_HAS_PERMISSION``."""
        return self.permissionship is Permissionship.HAS_PERMISSION

    @property
    def failed_hop(self) -> DelegationHop | None:
        """The first hop of the principal chain without permission, if any."""
        return _failed_hop(self.delegation)


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """A fail-closed decision (:meth:`~rebac.client.Client.decide`).

    ``allowed`` is true only when the server explicitly answered ``HAS_PERMISSION``; a conditional
    answer, an error, a timeout or an outage is a deny, and ``reason``, ``detail`` and ``error``
    say which.
    """

    allowed: bool
    reason: Reason
    detail: str = ""
    permissionship: Permissionship | None = None
    decision_id: str | None = None
    missing_context: tuple[str, ...] = ()
    delegation: tuple[DelegationHop, ...] = ()
    checked_at: str | None = None
    error: RebacClientError | Exception | None = None

    @property
    def failed_hop(self) -> DelegationHop | None:
        """The first hop of the principal chain without permission, if any."""
        return _failed_hop(self.delegation)

    def __bool__(self) -> bool:
        return self.allowed


class BulkCheck(msgspec.Struct, frozen=True, kw_only=True):
    """One item of ``check_bulk`` (text is parsed with the one syntax when the request is built)."""

    resource: ObjectRef | str
    permission: str
    subject: SubjectRef | ObjectRef | str
    context: dict[str, Any] | None = None
    via: tuple[SubjectRef | ObjectRef | str, ...] = ()


class BulkCheckResult(msgspec.Struct, frozen=True, kw_only=True):
    """One item's answer: a permissionship, or the item's own error (a deny)."""

    checked_at: str
    permissionship: Permissionship | None = None
    error: Problem | None = None
    decision_id: str | None = None
    missing_context: tuple[str, ...] = ()
    delegation: tuple[DelegationHop, ...] = ()
    trace: dict[str, Any] | None = None

    @property
    def allowed(self) -> bool:
        """True only for an explicit ``HAS_PERMISSION`` without an error."""
        return self.error is None and self.permissionship is Permissionship.HAS_PERMISSION


class ExpandTree(msgspec.Struct, frozen=True, kw_only=True):
    """A node of the userset tree: a set operation over ``children``, or a leaf of ``subjects``."""

    resource: ObjectRef
    relation: str
    operation: Literal["union", "intersection", "exclusion"] | None = None
    children: tuple[ExpandTree, ...] = ()
    subjects: tuple[SubjectRef, ...] = ()


class ExpandResult(msgspec.Struct, frozen=True, kw_only=True):
    """The tree of ``resource#permission`` and the token of the snapshot it was read at."""

    tree: ExpandTree
    expanded_at: str


class LookupResource(msgspec.Struct, frozen=True, kw_only=True):
    """A resource the subject has the permission on (maybe only conditionally)."""

    resource: ObjectRef
    permissionship: Permissionship
    looked_up_at: str
    missing_context: tuple[str, ...] = ()


class LookupSubject(msgspec.Struct, frozen=True, kw_only=True):
    """A subject with the permission; a wildcard lists the subjects it excludes."""

    subject: SubjectRef
    permissionship: Permissionship
    looked_up_at: str
    missing_context: tuple[str, ...] = ()
    excluded: tuple[SubjectRef, ...] = ()


class Update(msgspec.Struct, frozen=True):
    """One relationship update; build one with :meth:`touch`, :meth:`create` or :meth:`delete`."""

    operation: Operation
    relationship: Relationship | str

    @classmethod
    def touch(cls, relationship: Relationship | str) -> Update:
        """Create or replace (caveat and expiration included)."""
        return cls(Operation.TOUCH, relationship)

    @classmethod
    def create(cls, relationship: Relationship | str) -> Update:
        """Create; the write fails (409) if it exists."""
        return cls(Operation.CREATE, relationship)

    @classmethod
    def delete(cls, relationship: Relationship | str) -> Update:
        """Delete if it exists."""
        return cls(Operation.DELETE, relationship)


class RelationshipFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Matches relationships; empty members match anything.

    ``subject_relation=None`` matches any subject relation; ``""`` only plain subjects.
    """

    resource_type: str = ""
    resource_id: str = ""
    relation: str = ""
    subject_type: str = ""
    subject_id: str = ""
    subject_relation: str | None = None


class Precondition(msgspec.Struct, frozen=True):
    """Must (not) match inside the write transaction."""

    operation: Literal["OPERATION_MUST_MATCH", "OPERATION_MUST_NOT_MATCH"]
    filter: RelationshipFilter

    @classmethod
    def must_match(cls, flt: RelationshipFilter) -> Precondition:
        """The write happens only if some relationship matches ``flt``."""
        return cls("OPERATION_MUST_MATCH", flt)

    @classmethod
    def must_not_match(cls, flt: RelationshipFilter) -> Precondition:
        """The write happens only if no relationship matches ``flt``."""
        return cls("OPERATION_MUST_NOT_MATCH", flt)


class DeleteResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a delete by filter removed; ``partial`` when a limit stopped it."""

    deleted_at: str
    deleted_count: int
    partial: bool


class ImportResult(msgspec.Struct, frozen=True, kw_only=True):
    """How many relationships a bulk import loaded, and its token."""

    loaded: int
    written_at: str


class SchemaWriteResult(msgspec.Struct, frozen=True, kw_only=True):
    """The new schema version."""

    written_at: str
    version: int
    hash: str


class SchemaInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The current schema."""

    text: str
    version: int
    hash: str
    read_at: str


class SchemaDiff(msgspec.Struct, frozen=True, kw_only=True):
    """A unified diff between two schemas."""

    from_version: str
    to_version: str
    diff: str
    changed: bool
    read_at: str


class SchemaVersion(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One stored schema version."""

    version: int
    hash: str
    author: str
    created_at: datetime
    current: bool


class WatchUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """One change."""

    operation: Operation
    relationship: Relationship


class WatchEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One revision's changes; the last event of a stream is a checkpoint (no changes)."""

    updates: tuple[WatchUpdate, ...]
    changes_through: str
    is_checkpoint: bool = False


class Entity(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An AuthZEN subject or resource: ``{type, id, properties?}`` (ids are free strings)."""

    type: str
    id: str
    properties: dict[str, Any] | None = None


class EvaluationItem(msgspec.Struct, frozen=True, kw_only=True):
    """One item of ``evaluate_many``; missing members default to the call's own."""

    subject: Entity | SubjectRef | ObjectRef | str | None = None
    action: str | None = None
    resource: Entity | ObjectRef | str | None = None
    context: dict[str, Any] | None = None


class Evaluation(msgspec.Struct, frozen=True, kw_only=True):
    """An AuthZEN decision: ``decision`` and its ``context`` (reason, failed hop, error ...)."""

    decision: bool
    context: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def decision_id(self) -> str | None:
        """The decision's id in the decision log, when recorded."""
        value = self.context.get("decision_id")
        return value if isinstance(value, str) else None

    @property
    def error(self) -> Problem | None:
        """The item's own error (a deny), if it failed."""
        raw = self.context.get("error")
        if not isinstance(raw, dict):
            return None
        status = raw.get("status")
        return Problem(
            type=str(raw.get("type", "about:blank")),
            title=str(raw.get("message", "")),
            status=status if isinstance(status, int) else 0,
            detail=str(raw.get("message", "")),
        )

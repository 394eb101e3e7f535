"""Result values of the engine: three-valued check results, expand trees and lookup items."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from rebac.refs import ObjectRef, SubjectRef

__all__ = [
    "NO",
    "YES",
    "CheckResult",
    "ExpandKind",
    "ExpandNode",
    "ExpandSubject",
    "Hop",
    "HopReason",
    "LookupPage",
    "LookupResourceItem",
    "LookupSubjectItem",
    "Permissionship",
    "earliest",
]

T = TypeVar("T")


class Permissionship(StrEnum):
    """SpiceDB's three outcomes of a check."""

    NO_PERMISSION = "PERMISSIONSHIP_NO_PERMISSION"
    CONDITIONAL = "PERMISSIONSHIP_CONDITIONAL_PERMISSION"
    HAS_PERMISSION = "PERMISSIONSHIP_HAS_PERMISSION"


def earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    """The earlier of two optional instants (``None`` means "never")."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


class HopReason(StrEnum):
    """Why one hop of a delegation chain holds or fails (see :mod:`rebac.engine.delegation`)."""

    GRANTED = "granted"
    DENIED = "denied"
    CONDITIONAL = "conditional"
    ORPHAN = "orphan"
    PRINCIPAL_CYCLE = "principal_cycle"
    CHAIN_MISMATCH = "chain_mismatch"


@dataclass(frozen=True, slots=True)
class Hop:
    """One identity on the delegation chain of a checked subject, with its own result.

    Attributes:
        subject: The identity (the checked subject at depth 0, then its principals, ...).
        depth: Fewest principal edges from the checked subject to this identity.
        permissionship: This hop's own verdict: its raw check, combined with the principal edges
            leading to it (a caveated edge makes it conditional), forced to no permission for an
            orphan, a principal cycle or a ``via`` entry that matches no recorded edge.
        reason: Why (``granted``, ``denied``, ``conditional``, ``orphan``, ``principal_cycle``,
            ``chain_mismatch``).
        raw: The identity's own (undelegated) check result; ``None`` when not evaluated (a
            ``via`` entry that matches no edge).
        missing: Caveat parameters whose absence made this hop conditional.
        principal_of: The identities one hop closer to the checked subject that act for this one.
        expires_at: Earliest expiration among the relationships this hop used.
    """

    subject: SubjectRef
    depth: int
    permissionship: Permissionship
    reason: HopReason
    raw: Permissionship | None = None
    missing: frozenset[str] = frozenset()
    principal_of: tuple[SubjectRef, ...] = ()
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The answer for one resource.

    Attributes:
        permissionship: Has, conditional or no permission.
        missing: Caveat parameter names whose absence made the result conditional.
        depth_required: Dispatch depth this answer needed (the cache serves it only to requests
            with at least this much depth left).
        cycle_detected: A branch was cut because it re-entered itself; never cached.
        expires_at: Earliest expiration among the relationships this answer used.
        provisional: Engine-internal: the value read a cycle's not yet settled value and may
            still grow (see :mod:`rebac.engine.cycles`); answers leaving the engine never are.
        delegation: For a subject whose type declares ``acts_for`` (or a check given ``via``):
            every hop of its principal chain, nearest first, each with its own result; empty for
            other subjects and for raw (undelegated) checks.
    """

    permissionship: Permissionship
    missing: frozenset[str] = frozenset()
    depth_required: int = 0
    cycle_detected: bool = False
    expires_at: datetime | None = None
    provisional: bool = False
    delegation: tuple[Hop, ...] = ()

    @property
    def failed_hop(self) -> Hop | None:
        """The first delegation hop with no permission (nearest the subject), if any."""
        return next((h for h in self.delegation if h.permissionship is Permissionship.NO_PERMISSION), None)

    @property
    def allowed(self) -> bool:
        """True only for an unconditional grant."""
        return self.permissionship is Permissionship.HAS_PERMISSION

    @property
    def is_no(self) -> bool:
        """True for NO_PERMISSION."""
        return self.permissionship is Permissionship.NO_PERMISSION


NO = CheckResult(Permissionship.NO_PERMISSION)
YES = CheckResult(Permissionship.HAS_PERMISSION)


class ExpandKind(StrEnum):
    """Kinds of expand tree nodes."""

    LEAF = "leaf"
    UNION = "union"
    INTERSECTION = "intersection"
    EXCLUSION = "exclusion"


@dataclass(frozen=True, slots=True)
class ExpandSubject:
    """One subject on an expand leaf, with its caveat name and expiration if any."""

    subject: SubjectRef
    caveat: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ExpandNode:
    """A node of SpiceDB's userset tree.

    Attributes:
        kind: Leaf or set operation.
        resource: The object whose ``relation`` this node expands.
        relation: The relation or permission expanded.
        children: Operands of a set operation (exclusion: base first).
        subjects: Direct subjects of a leaf.
    """

    kind: ExpandKind
    resource: ObjectRef
    relation: str
    children: tuple[ExpandNode, ...] = ()
    subjects: tuple[ExpandSubject, ...] = ()


@dataclass(frozen=True, slots=True)
class LookupResourceItem:
    """One resource found by lookup_resources."""

    resource_id: str
    permissionship: Permissionship
    missing: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class LookupSubjectItem:
    """One subject found by lookup_subjects; a wildcard lists the subjects it excludes."""

    subject: SubjectRef
    permissionship: Permissionship
    missing: frozenset[str] = frozenset()
    excluded: tuple[SubjectRef, ...] = ()


@dataclass(frozen=True, slots=True)
class LookupPage(Generic[T]):
    """One page of a lookup and the cursor for the next one (``None`` when done)."""

    items: tuple[T, ...] = field(default=())
    cursor: str | None = None

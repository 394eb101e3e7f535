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
    """

    permissionship: Permissionship
    missing: frozenset[str] = frozenset()
    depth_required: int = 0
    cycle_detected: bool = False
    expires_at: datetime | None = None

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

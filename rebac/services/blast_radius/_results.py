"""The result types of both blast-radius views: entries, paths, groups and the truncation fields."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from rebac.engine.results import Permissionship
from rebac.refs import ObjectRef, SubjectRef

__all__ = ["BlastRadius", "PathStep", "PermissionReach", "ReachEntry", "StepKind", "WhoCanReach"]


class StepKind(StrEnum):
    """What one step of a path stands for."""

    RELATIONSHIP = "relationship"
    """A stored relationship ``resource#relation@subject``."""
    WILDCARD = "wildcard"
    """The subject matches a ``type:*`` grant."""
    COMPUTED = "computed"
    """A permission includes another relation or permission of the same object."""
    ARROW = "arrow"
    """A permission ``x->p``: through the relationship ``resource#x@object``, ``p`` on that object."""
    SELF = "self"
    """A permission ``self``: the object itself."""


@dataclass(frozen=True, slots=True)
class PathStep:
    """One step of a path, from ``source`` to ``target`` (node labels such as ``team:a#member``).

    Attributes:
        source: Where the step starts.
        target: Where it leads.
        kind: What the step stands for.
        detail: The relationship or rewrite behind it, readable (``doc:1#viewer@team:a#member``).
        caveat: The caveat on the relationship, if any (the step is then conditional).
    """

    source: str
    target: str
    kind: StepKind
    detail: str
    caveat: str | None = None

    def __str__(self) -> str:
        caveat = f" [caveat {self.caveat}]" if self.caveat else ""
        return f"{self.source} -> {self.target} ({self.kind.value}: {self.detail}){caveat}"


@dataclass(frozen=True, slots=True)
class ReachEntry:
    """One (resource, permission, subject) the subject can reach.

    Attributes:
        resource: The resource.
        permission: The permission or relation reached.
        subject: Who reaches it.
        raw: The subject's own reach (no delegation caps).
        effective: The reach after delegation caps (``NO_PERMISSION``: raw reach its principals
            deny); ``None`` when not computed (raw-only).
        missing: Caveat parameters whose absence made a result conditional.
        path: One path from the subject to ``resource#permission``; empty only when the result
            is truncated before the path was found.
    """

    resource: ObjectRef
    permission: str
    subject: SubjectRef
    raw: Permissionship
    effective: Permissionship | None
    missing: frozenset[str] = frozenset()
    path: tuple[PathStep, ...] = ()

    @property
    def conditional(self) -> bool:
        """True when the raw or effective result depends on missing caveat context."""
        return Permissionship.CONDITIONAL in (self.raw, self.effective)

    @property
    def capped(self) -> bool:
        """True when delegation removes or weakens this raw reach."""
        return self.effective is not None and self.effective is not self.raw


@dataclass(frozen=True, slots=True)
class PermissionReach:
    """Every entry of one resource type and permission (or relation)."""

    resource_type: str
    permission: str
    entries: tuple[ReachEntry, ...]

    @property
    def raw_count(self) -> int:
        """Entries in the raw reach."""
        return sum(1 for e in self.entries if e.raw is not Permissionship.NO_PERMISSION)

    @property
    def effective_count(self) -> int:
        """Entries in the effective reach."""
        return sum(1 for e in self.entries if e.effective not in (None, Permissionship.NO_PERMISSION))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Bounded:
    """Fields shared by both views."""

    revision: str
    raw_only: bool
    groups: tuple[PermissionReach, ...]
    nodes_visited: int
    budget: int
    truncated: bool = False
    truncated_at: int | None = None
    truncated_reason: str | None = None

    @property
    def entries(self) -> Iterator[ReachEntry]:
        """Every entry, group by group."""
        for group in self.groups:
            yield from group.entries

    @property
    def message(self) -> str | None:
        """``truncated at N: ...`` when the budget was hit, else ``None``."""
        if not self.truncated:
            return None
        return f"truncated at {self.truncated_at}: {self.truncated_reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class BlastRadius(_Bounded):
    """Everything ``subject`` can reach.

    Attributes:
        subject: The subject.
        delegated: Its type declares ``acts_for`` (effective reach is capped by its principals).
        revision: The store revision every read used.
        raw_only: Effective reach was not computed.
        groups: Per resource type and permission, sorted; only non-empty groups.
        nodes_visited: Graph nodes the path search visited.
        budget: The bound on visited nodes and on returned entries.
        truncated: The budget was hit; ``truncated_at`` is the budget and ``message`` says so.
    """

    subject: SubjectRef
    delegated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class WhoCanReach(_Bounded):
    """Every subject who can reach ``resource`` (per permission); fields as :class:`BlastRadius`."""

    resource: ObjectRef

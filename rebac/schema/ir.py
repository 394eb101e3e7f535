"""The compiled schema model (IR): what the engine evaluates and the formatter prints.

The compiler (``rebac.schema.compiler``) builds these frozen values from the AST after name
resolution; ``rebac.schema.typesystem`` adds derived views. Nothing here parses text.

Rewrite nodes mirror SpiceDB's userset rewrites::

    Rewrite = Nil | Self | ComputedUserset | TupleToUserset | Union | Intersection | Exclusion
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

__all__ = [
    "AllowedSubject",
    "CaveatDefinition",
    "CaveatType",
    "ComputedUserset",
    "Definition",
    "Exclusion",
    "Intersection",
    "Nil",
    "Permission",
    "Relation",
    "Rewrite",
    "Schema",
    "SelfRef",
    "SourcePosition",
    "TupleToUserset",
    "Union",
]


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """Where a schema element was declared (1-based line and column)."""

    source: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class AllowedSubject:
    """One entry of a relation's type annotation.

    ``user`` → ``AllowedSubject("user")``; ``group#member`` → relation ``"member"``;
    ``user:*`` → ``wildcard=True``; ``user with ip_ok and expiration`` → caveat ``"ip_ok"``,
    ``expiration=True``.
    """

    type: str
    relation: str | None = None
    wildcard: bool = False
    caveat: str | None = None
    expiration: bool = False

    def __str__(self) -> str:
        text = self.type
        if self.wildcard:
            text += ":*"
        elif self.relation is not None:
            text += f"#{self.relation}"
        traits = [t for t in (self.caveat, "expiration" if self.expiration else None) if t]
        if traits:
            text += " with " + " and ".join(traits)
        return text


# --- rewrites ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Nil:
    """``nil``: the empty set."""


@dataclass(frozen=True, slots=True)
class SelfRef:
    """``self`` (needs ``use self``): the resource itself, as a subject of its own type."""


@dataclass(frozen=True, slots=True)
class ComputedUserset:
    """A reference to another relation or permission on the same object."""

    relation: str


@dataclass(frozen=True, slots=True)
class TupleToUserset:
    """``tupleset->computed`` (``mode="any"``, also ``.any(...)``) or ``tupleset.all(computed)``.

    For each subject ``y`` of ``tupleset`` on the object, evaluate ``computed`` on ``y``; subject
    types that do not define ``computed`` are skipped. ``all`` requires every such ``y``.
    """

    tupleset: str
    computed: str
    mode: Literal["any", "all"] = "any"


@dataclass(frozen=True, slots=True)
class Union:
    """``a + b + ...``."""

    children: tuple[Rewrite, ...]


@dataclass(frozen=True, slots=True)
class Intersection:
    """``a & b & ...``."""

    children: tuple[Rewrite, ...]


@dataclass(frozen=True, slots=True)
class Exclusion:
    """``base - subtract``."""

    base: Rewrite
    subtract: Rewrite


Rewrite: TypeAlias = "Nil | SelfRef | ComputedUserset | TupleToUserset | Union | Intersection | Exclusion"


# --- definitions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Relation:
    """``relation name: allowed | allowed ...``."""

    name: str
    allowed: tuple[AllowedSubject, ...]
    doc: str | None = None
    position: SourcePosition | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Permission:
    """``permission name = rewrite``."""

    name: str
    rewrite: Rewrite
    doc: str | None = None
    position: SourcePosition | None = field(default=None, compare=False)
    annotations: tuple[str, ...] = ()
    """Optional subject-type annotation (``permission view: user | agent = ...``); informational."""


@dataclass(frozen=True, slots=True)
class Definition:
    """``definition name { ... }``.

    Attributes:
        acts_for: The relation named by the ``acts_for`` extension (delegation), if any.
        order: Relation and permission names in declaration order (for the formatter).
    """

    name: str
    relations: Mapping[str, Relation]
    permissions: Mapping[str, Permission]
    acts_for: str | None = None
    doc: str | None = None
    order: tuple[str, ...] = ()
    position: SourcePosition | None = field(default=None, compare=False)

    def member(self, name: str) -> Relation | Permission | None:
        """The relation or permission called ``name``, or ``None``."""
        return self.relations.get(name) or self.permissions.get(name)


@dataclass(frozen=True, slots=True)
class CaveatType:
    """A caveat parameter type: ``int``, ``list<string>``, ``map<ipaddress>`` ..."""

    name: str
    args: tuple[CaveatType, ...] = ()

    def __str__(self) -> str:
        if not self.args:
            return self.name
        return f"{self.name}<{', '.join(str(a) for a in self.args)}>"


@dataclass(frozen=True, slots=True)
class CaveatDefinition:
    """``caveat name(param type, ...) { expression }``; ``expression`` is the CEL source text."""

    name: str
    parameters: Mapping[str, CaveatType]
    expression: str
    doc: str | None = None
    position: SourcePosition | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Schema:
    """A whole compiled schema.

    Attributes:
        definitions: Object definitions by (possibly prefixed) type name.
        caveats: Caveat definitions by name.
        use_flags: Language features enabled with ``use`` (``"expiration"``, ``"self"``).
        order: Top-level names in declaration order (for the formatter).
    """

    definitions: Mapping[str, Definition]
    caveats: Mapping[str, CaveatDefinition]
    use_flags: frozenset[str] = frozenset()
    order: tuple[str, ...] = ()

    def definition(self, name: str) -> Definition | None:
        """The definition called ``name``, or ``None``."""
        return self.definitions.get(name)

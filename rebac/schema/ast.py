"""Syntax tree of a schema file (SpiceDB's ``dslshape`` analogue), before name resolution.

Every node carries the :class:`~rebac.schema.source.Span` it was parsed from, so the compiler and
the validator can point at it. Expression nodes also carry ``depth`` (the height of the subtree),
which the parser bounds so later recursive walks can never exhaust the stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from rebac.schema.source import Span

__all__ = [
    "ActsForDecl",
    "Arrow",
    "CaveatDecl",
    "CaveatParam",
    "CaveatTypeRef",
    "DefinitionDecl",
    "Exclusion",
    "Expr",
    "Ident",
    "ImportDecl",
    "Intersection",
    "Member",
    "NilExpr",
    "PartialRef",
    "PermissionDecl",
    "RelationDecl",
    "SchemaFile",
    "SelfExpr",
    "TopLevel",
    "TypeRef",
    "Union",
    "UseDecl",
]


@dataclass(frozen=True, slots=True)
class Ident:
    """A bare relation or permission name in an expression."""

    name: str
    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class NilExpr:
    """``nil``."""

    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class SelfExpr:
    """``self`` (only a keyword after ``use self``)."""

    span: Span
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Arrow:
    """``left->right``, ``left.any(right)`` or ``left.all(right)``.

    ``left`` is an :class:`Ident` unless arrows were chained (``a->b->c``), which the compiler
    rejects as SpiceDB does.
    """

    left: Ident | Arrow
    right: Ident
    mode: Literal["any", "all"]
    span: Span
    depth: int = 2


@dataclass(frozen=True, slots=True)
class Union:
    """``a + b + ...`` (n-ary)."""

    children: tuple[Expr, ...]
    span: Span
    depth: int = 2


@dataclass(frozen=True, slots=True)
class Intersection:
    """``a & b & ...`` (n-ary)."""

    children: tuple[Expr, ...]
    span: Span
    depth: int = 2


@dataclass(frozen=True, slots=True)
class Exclusion:
    """``left - right``."""

    left: Expr
    right: Expr
    span: Span
    depth: int = 2


Expr: TypeAlias = Ident | NilExpr | SelfExpr | Arrow | Union | Intersection | Exclusion


@dataclass(frozen=True, slots=True)
class TypeRef:
    """One allowed subject type of a relation: ``user``, ``user:*``, ``group#member with c``.

    Attributes:
        caveat_span: Where the caveat name was written (for unknown-caveat errors).
        expiration_span: Where ``expiration`` was written.
    """

    type: str
    span: Span
    relation: str | None = None
    relation_span: Span | None = None
    wildcard: bool = False
    caveat: str | None = None
    caveat_span: Span | None = None
    expiration: bool = False
    expiration_span: Span | None = None


@dataclass(frozen=True, slots=True)
class RelationDecl:
    """``relation name: types``."""

    name: str
    types: tuple[TypeRef, ...]
    span: Span
    name_span: Span
    doc: str | None = None


@dataclass(frozen=True, slots=True)
class PermissionDecl:
    """``permission name[: annotations] = expr``."""

    name: str
    expr: Expr
    span: Span
    name_span: Span
    annotations: tuple[tuple[str, Span], ...] = ()
    doc: str | None = None


@dataclass(frozen=True, slots=True)
class ActsForDecl:
    """``acts_for relation`` (rebac's delegation extension)."""

    relation: str
    span: Span
    relation_span: Span


@dataclass(frozen=True, slots=True)
class PartialRef:
    """``...partial_name`` inside a definition or partial."""

    name: str
    span: Span


Member: TypeAlias = RelationDecl | PermissionDecl | ActsForDecl | PartialRef


@dataclass(frozen=True, slots=True)
class DefinitionDecl:
    """``definition name { ... }`` or, with ``kind="partial"``, ``partial name { ... }``."""

    name: str
    members: tuple[Member, ...]
    span: Span
    name_span: Span
    kind: Literal["definition", "partial"] = "definition"
    doc: str | None = None


@dataclass(frozen=True, slots=True)
class CaveatTypeRef:
    """A caveat parameter type: ``int``, ``list<string>`` ..."""

    name: str
    span: Span
    args: tuple[CaveatTypeRef, ...] = ()


@dataclass(frozen=True, slots=True)
class CaveatParam:
    """``name type`` in a caveat's parameter list."""

    name: str
    type: CaveatTypeRef
    span: Span


@dataclass(frozen=True, slots=True)
class CaveatDecl:
    """``caveat name(params) { expression }``; ``expression`` is the CEL source between braces."""

    name: str
    params: tuple[CaveatParam, ...]
    expression: str
    expression_span: Span
    span: Span
    name_span: Span
    doc: str | None = None


@dataclass(frozen=True, slots=True)
class UseDecl:
    """``use flag``."""

    flag: str
    span: Span


@dataclass(frozen=True, slots=True)
class ImportDecl:
    """``import "path"`` (composable schemas; parsed, rejected by the compiler)."""

    path: str
    span: Span


TopLevel: TypeAlias = DefinitionDecl | CaveatDecl | UseDecl | ImportDecl


@dataclass(frozen=True, slots=True)
class SchemaFile:
    """A parsed schema file: its top-level items in order."""

    items: tuple[TopLevel, ...] = field(default=())

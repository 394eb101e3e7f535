"""The one error tree of rebac.

Every error rebac raises on purpose is a :class:`RebacError`. Modules below the API raise these
typed errors; ``rebac.api.problems`` is the single place that maps them to HTTP problem details,
and the CLI prints them with their position. Driver errors (SQLAlchemy, psycopg) are wrapped into
:class:`StoreError` subclasses at the store boundary.

Where it helps callers, an error also subclasses the nearest builtin (``ValueError``,
``LookupError``, ``TimeoutError``), so it can be caught either way::

    RebacError
    ├── InvalidInputError (ValueError) ............ the request itself is malformed
    │   ├── RefSyntaxError ......................... bad tuple/object/subject text, names the part
    │   ├── InvalidTokenError ...................... unknown or corrupt consistency token / cursor
    │   ├── LimitExceededError ..................... too many updates, page too large, body too big
    │   ├── SchemaError ............................ schema text does not compile (positioned)
    │   └── ValidationFileError .................... a zed-validate YAML file is malformed
    ├── NotFoundError (LookupError) ............... a named thing does not exist
    │   ├── UnknownTypeError
    │   ├── UnknownRelationError
    │   ├── UnknownCaveatError
    │   └── SchemaVersionNotFoundError
    ├── ConflictError ............................. the request conflicts with stored state
    │   ├── PreconditionFailedError ................ a write precondition did not hold
    │   ├── DuplicateRelationshipError ............. CREATE of a relationship that exists
    │   ├── UnsafeSchemaChangeError ................ schema write would orphan stored tuples
    │   └── SchemaVersionConflictError ............. a concurrent schema write won (compare-and-set)
    ├── StoreError ................................ the datastore failed
    │   ├── StoreUnavailableError .................. cannot reach the database
    │   ├── RevisionUnavailableError ............... revision garbage-collected or from the future
    │   └── SerializationFailureError .............. transaction could not commit; safe to retry
    ├── EvaluationError ........................... a decision could not be made: fail closed
    │   ├── MaxDepthExceededError
    │   ├── DeadlineExceededError (TimeoutError)
    │   ├── BudgetExceededError .................... node / fan-out / hop budget exhausted
    │   ├── CaveatEvaluationError .................. CEL evaluation failed (type error, bad context)
    │   └── DelegationError ........................ principal chain longer than the hop limit
    └── AuthError
        ├── UnauthenticatedError ................... no or unknown key
        ├── ForbiddenError ......................... key lacks the scope
        ├── SubjectRequiredError ................... the key acts for no subject, and one is needed
        └── NotPermittedError ...................... the key's subject may not do this (e.g. review)
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BudgetExceededError",
    "CaveatEvaluationError",
    "ConflictError",
    "DeadlineExceededError",
    "DelegationError",
    "Diagnostic",
    "DuplicateRelationshipError",
    "EvaluationError",
    "ForbiddenError",
    "InvalidInputError",
    "InvalidTokenError",
    "LimitExceededError",
    "MaxDepthExceededError",
    "NotFoundError",
    "NotPermittedError",
    "PreconditionFailedError",
    "RebacError",
    "RefSyntaxError",
    "RevisionUnavailableError",
    "SchemaError",
    "SchemaVersionConflictError",
    "SchemaVersionNotFoundError",
    "SerializationFailureError",
    "StoreError",
    "StoreUnavailableError",
    "SubjectRequiredError",
    "UnauthenticatedError",
    "UnknownCaveatError",
    "UnknownRelationError",
    "UnknownTypeError",
    "UnsafeSchemaChangeError",
    "ValidationFileError",
]

from dataclasses import dataclass
from typing import Any


class RebacError(Exception):
    """Root of every error rebac raises on purpose.

    Attributes:
        message: A human-readable, public message. It never contains secrets or DSNs.
        details: Extra structured, public data (shown in problem details ``extensions``).
    """

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return self.message


# --- bad input -----------------------------------------------------------------------------------


class InvalidInputError(RebacError, ValueError):
    """The request is malformed; nothing was read or written."""


class RefSyntaxError(InvalidInputError):
    """Object, subject or relationship text does not parse.

    Attributes:
        text: The whole input.
        part: Which part is bad (``"resource type"``, ``"subject id"``, ``"caveat context"`` ...).
        position: 0-based character offset of the bad part in ``text``.
    """

    def __init__(self, message: str, *, text: str, part: str, position: int = 0) -> None:
        super().__init__(message, details={"text": text, "part": part, "position": position})
        self.text = text
        self.part = part
        self.position = position


class InvalidTokenError(InvalidInputError):
    """A consistency token or pagination cursor is unknown, corrupt or from another store."""


class LimitExceededError(InvalidInputError):
    """A named limit was exceeded (updates per write, page size, batch size, body size).

    Attributes:
        limit: The limit's name (as in ``rebac.limits``).
        maximum: The configured maximum.
        actual: What the request asked for.
    """

    def __init__(self, message: str, *, limit: str, maximum: int, actual: int) -> None:
        super().__init__(message, details={"limit": limit, "maximum": maximum, "actual": actual})
        self.limit = limit
        self.maximum = maximum
        self.actual = actual


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One positioned schema problem.

    Attributes:
        message: What is wrong, for a person.
        source: The file name or source label.
        line: 1-based line.
        column: 1-based column.
        source_line: The offending line of source text (without newline).
    """

    message: str
    source: str
    line: int
    column: int
    source_line: str = ""

    def render(self) -> str:
        """Return ``file:line:col: message`` followed by the source line and a caret."""
        head = f"{self.source}:{self.line}:{self.column}: {self.message}"
        if not self.source_line:
            return head
        caret = " " * (max(self.column, 1) - 1) + "^"
        return f"{head}\n    {self.source_line}\n    {caret}"


class SchemaError(InvalidInputError):
    """Schema text does not compile. Carries every diagnostic found, each positioned."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        first = diagnostics[0].render().splitlines()[0] if diagnostics else "invalid schema"
        extra = f" (and {len(diagnostics) - 1} more)" if len(diagnostics) > 1 else ""
        super().__init__(
            first + extra,
            details={
                "errors": [
                    {"message": d.message, "source": d.source, "line": d.line, "column": d.column}
                    for d in diagnostics
                ]
            },
        )
        self.diagnostics = diagnostics


class ValidationFileError(InvalidInputError):
    """A ``zed validate`` YAML file is malformed (positioned like a schema error)."""

    def __init__(self, message: str, *, source: str, line: int = 0, column: int = 0) -> None:
        super().__init__(
            f"{source}:{line}:{column}: {message}",
            details={"source": source, "line": line, "column": column},
        )
        self.source = source
        self.line = line
        self.column = column


# --- not found -----------------------------------------------------------------------------------


class NotFoundError(RebacError, LookupError):
    """A named thing does not exist."""


class UnknownTypeError(NotFoundError):
    """An object type is not defined in the schema."""


class UnknownRelationError(NotFoundError):
    """A relation or permission is not defined on the type."""


class UnknownCaveatError(NotFoundError):
    """A caveat is not defined in the schema."""


class SchemaVersionNotFoundError(NotFoundError):
    """No schema has been written yet, or the requested version does not exist."""


# --- conflicts -----------------------------------------------------------------------------------


class ConflictError(RebacError):
    """The request conflicts with stored state; nothing was written."""


class PreconditionFailedError(ConflictError):
    """A write precondition (must match / must not match) did not hold."""


class DuplicateRelationshipError(ConflictError):
    """A CREATE update names a relationship that already exists."""


class UnsafeSchemaChangeError(ConflictError):
    """A schema write would orphan stored relationships (pass ``force`` to override)."""


class SchemaVersionConflictError(ConflictError):
    """A schema write expected another current version: a concurrent schema write won.

    Attributes:
        expected: The version the writer expected to be current (``0``: no schema yet).
        actual: The version that is current (``0``: no schema yet).
    """

    def __init__(self, message: str, *, expected: int, actual: int) -> None:
        super().__init__(message, details={"expected_version": expected, "current_version": actual})
        self.expected = expected
        self.actual = actual


# --- store ---------------------------------------------------------------------------------------


class StoreError(RebacError):
    """The datastore failed. The public message never includes DSNs or SQL."""


class StoreUnavailableError(StoreError):
    """The database cannot be reached."""


class RevisionUnavailableError(StoreError):
    """The requested revision was garbage-collected or is not yet known to this store."""


class SerializationFailureError(StoreError):
    """The transaction could not be committed because of a concurrent one; safe to retry."""


# --- evaluation (always fail closed) ---------------------------------------------------------------


class EvaluationError(RebacError):
    """A decision could not be made. Callers must treat this as *deny*."""


class MaxDepthExceededError(EvaluationError):
    """The recursion depth budget ran out before a decision was reached."""


class DeadlineExceededError(EvaluationError, TimeoutError):
    """The per-request deadline passed before a decision was reached."""


class BudgetExceededError(EvaluationError):
    """A work budget (nodes, fan-out, delegation hops) ran out."""


class CaveatEvaluationError(EvaluationError):
    """A caveat expression failed to evaluate (wrong context type, runtime error)."""


class DelegationError(EvaluationError):
    """A delegation chain could not be evaluated (too long).

    A principal cycle, an orphan agent or a ``via`` chain that matches no recorded edge are not
    errors: they are decisions (denied), with the failing hop named in the result.
    """


# --- auth ----------------------------------------------------------------------------------------


class AuthError(RebacError):
    """Authentication or authorization of the API caller failed."""


class UnauthenticatedError(AuthError):
    """No API key, or an unknown or revoked one."""


class ForbiddenError(AuthError):
    """The API key lacks the scope the endpoint needs."""


class SubjectRequiredError(AuthError):
    """The operation acts in the name of the key's subject, and the key acts for none."""


class NotPermittedError(AuthError):
    """The key's subject may not take this action (a rule or a schema permission refuses it)."""

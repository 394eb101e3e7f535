"""Schema conformance of relationship writes: the one check every write path runs.

A relationship may be stored only when the current schema allows it (its types, its relation, its
subject shape and traits, its caveat and the types of the caveat context; see
:func:`rebac.schema.conformity.nonconformity`). The API's writes and imports, ``rebac import``
and the validation-file loader all refuse a nonconforming relationship through this module, with
the most specific error (unknown type, unknown relation, unknown caveat, else invalid input) and
the position of the offending item (its index in a write, its line in a file).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from rebac import errors, limits
from rebac.refs import Relationship, external
from rebac.schema import ir
from rebac.schema.conformity import nonconformity
from rebac.store.base import Operation, RelationshipUpdate

__all__ = ["NonconformingImportError", "check_relationship", "check_updates", "conforming"]


def check_relationship(schema: ir.Schema, rel: Relationship, *, index: int | None = None) -> None:
    """Raise the most specific error when ``rel`` may not be stored under ``schema``.

    Raises:
        UnknownTypeError: the resource or subject type is not defined.
        UnknownRelationError: the relation is not defined (or is a permission).
        UnknownCaveatError: the caveat is not defined.
        LimitExceededError: the caveat context is too large.
        InvalidInputError: the subject (or its caveat/expiration trait, or a context value) is not
            allowed.
    """
    if rel.caveat is not None and len(rel.caveat.context_json()) > limits.MAX_CAVEAT_CONTEXT_BYTES:
        raise errors.LimitExceededError(
            "the relationship's caveat context is too large",
            limit="MAX_CAVEAT_CONTEXT_BYTES",
            maximum=limits.MAX_CAVEAT_CONTEXT_BYTES,
            actual=len(rel.caveat.context_json()),
        )
    # Messages name the ids as the caller wrote them; conformity depends on types, not ids.
    shown = external(rel)
    why = nonconformity(schema, shown)
    if why is None:
        return
    details: dict[str, object] = {"relationship": str(shown)}
    if index is not None:
        details["index"] = index
    definition = schema.definition(rel.resource.type)
    if definition is None or schema.definition(rel.subject.type) is None:
        raise errors.UnknownTypeError(why, details=details)
    if rel.relation not in definition.relations:
        raise errors.UnknownRelationError(why, details=details)
    if rel.caveat is not None and rel.caveat.name not in schema.caveats:
        raise errors.UnknownCaveatError(why, details=details)
    raise errors.InvalidInputError(why, details=details)


def check_updates(schema: ir.Schema, updates: Sequence[RelationshipUpdate]) -> None:
    """Check every TOUCH/CREATE of a write (DELETEs may remove nonconforming leftovers)."""
    for index, update in enumerate(updates):
        if update.operation is not Operation.DELETE:
            check_relationship(schema, update.relationship, index=index)


class NonconformingImportError(errors.InvalidInputError):
    """An imported relationship does not conform to the current schema (``FILE:LINE: reason``)."""

    def __init__(self, source: str, line: int, rel: Relationship, reason: str) -> None:
        super().__init__(
            f"{source}:{line}: {reason}",
            details={"file": source, "line": line, "relationship": str(external(rel)), "reason": reason},
        )
        self.line = line


def conforming(
    numbered: Iterable[tuple[int, Relationship]], schema: ir.Schema | None, source: str
) -> Iterator[Relationship]:
    """The relationships of ``numbered``, each checked against ``schema`` (unchecked when ``None``).

    Raises:
        NonconformingImportError: at the first relationship ``schema`` does not allow.
    """
    for line, rel in numbered:
        if schema is not None:
            reason = nonconformity(schema, rel)
            if reason is not None:
                raise NonconformingImportError(source, line, rel, reason)
        yield rel

"""Refuse relationship writes the current schema does not allow (unknown type, relation, subject)."""

from __future__ import annotations

from collections.abc import Sequence

from rebac import errors, limits
from rebac.refs import Relationship
from rebac.schema import ir
from rebac.schema.conformity import nonconformity
from rebac.store.base import Operation, RelationshipUpdate

__all__ = ["check_relationship", "check_updates"]


def check_relationship(schema: ir.Schema, rel: Relationship, *, index: int | None = None) -> None:
    """Raise the most specific error when ``rel`` may not be stored under ``schema``.

    Raises:
        UnknownTypeError: the resource or subject type is not defined.
        UnknownRelationError: the relation is not defined (or is a permission).
        UnknownCaveatError: the caveat is not defined.
        LimitExceededError: the caveat context is too large.
        InvalidInputError: the subject (or its caveat/expiration trait) is not allowed.
    """
    if rel.caveat is not None and len(rel.caveat.context_json()) > limits.MAX_CAVEAT_CONTEXT_BYTES:
        raise errors.LimitExceededError(
            "the relationship's caveat context is too large",
            limit="MAX_CAVEAT_CONTEXT_BYTES",
            maximum=limits.MAX_CAVEAT_CONTEXT_BYTES,
            actual=len(rel.caveat.context_json()),
        )
    why = nonconformity(schema, rel)
    if why is None:
        return
    details: dict[str, object] = {"relationship": str(rel)}
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
    """Check every TOUCH/CREATE of a write (DELETEs may remove non-conforming leftovers)."""
    for index, update in enumerate(updates):
        if update.operation is not Operation.DELETE:
            check_relationship(schema, update.relationship, index=index)

"""Rules shared by every store engine, so memory and Postgres agree by construction.

Validation of write calls and filters, the consistency-mode resolution rule, quantization and the
schema hash live here. Nothing here touches I/O.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from rebac import limits
from rebac.errors import (
    InvalidInputError,
    InvalidTokenError,
    LimitExceededError,
    RevisionUnavailableError,
    SchemaVersionConflictError,
)
from rebac.refs import Relationship
from rebac.store.base import (
    Consistency,
    ConsistencyMode,
    Operation,
    Precondition,
    RelationshipFilter,
    RelationshipUpdate,
)
from rebac.store.revision import Revision, decode_token

__all__ = [
    "LIVE",
    "check_context_size",
    "check_schema_version",
    "quantize",
    "resolve_revision",
    "schema_hash",
    "validate_filter",
    "validate_write",
]

LIVE: Final = 9_223_372_036_854_775_807
"""``deleted_rev`` of a live relationship (max bigint), so ``deleted_rev > :rev`` is a range scan."""


def check_context_size(rel: Relationship) -> None:
    """Refuse a caveat context larger than ``limits.MAX_CAVEAT_CONTEXT_BYTES``.

    Raises:
        LimitExceededError: when the canonical JSON of the context is too large.
    """
    if rel.caveat is None:
        return
    size = len(rel.caveat.context_json().encode())
    if size > limits.MAX_CAVEAT_CONTEXT_BYTES:
        raise LimitExceededError(
            f"the caveat context of {rel.resource}#{rel.relation} is {size} bytes",
            limit="MAX_CAVEAT_CONTEXT_BYTES",
            maximum=limits.MAX_CAVEAT_CONTEXT_BYTES,
            actual=size,
        )


def check_schema_version(expected: int | None, current: int) -> None:
    """Refuse a write made against schema version ``expected`` when ``current`` is another one.

    Raises:
        SchemaVersionConflictError: ``expected`` is given (``0``: no schema) and is not ``current``.
    """
    if expected is not None and expected != current:
        raise SchemaVersionConflictError(
            f"the schema changed concurrently: expected version {expected}, current is {current}",
            expected=expected,
            actual=current,
        )


def validate_filter(flt: RelationshipFilter, *, for_delete: bool = False) -> None:
    """Refuse filters that cannot be answered by an index or would delete everything.

    Raises:
        InvalidInputError: ids without their type, or an empty filter for a delete.
    """
    if flt.resource_ids and flt.resource_type is None:
        raise InvalidInputError("a filter with resource ids needs a resource type")
    if flt.subject_ids and flt.subject_type is None:
        raise InvalidInputError("a filter with subject ids needs a subject type")
    if for_delete and flt.resource_type is None and flt.subject_type is None:
        raise InvalidInputError("a delete filter needs at least a resource type or a subject type")


def validate_write(
    updates: Sequence[RelationshipUpdate],
    preconditions: Sequence[Precondition],
    *,
    max_updates: int,
) -> None:
    """Check a write call before anything is read or written.

    Raises:
        LimitExceededError: too many updates or preconditions, or a caveat context too large.
        InvalidInputError: the same relationship twice in one call, or a bad precondition filter.
    """
    if len(updates) > max_updates:
        raise LimitExceededError(
            f"a write may carry at most {max_updates} updates, got {len(updates)}",
            limit="MAX_UPDATES_PER_WRITE",
            maximum=max_updates,
            actual=len(updates),
        )
    if len(preconditions) > limits.MAX_PRECONDITIONS:
        raise LimitExceededError(
            f"a write may carry at most {limits.MAX_PRECONDITIONS} preconditions, got {len(preconditions)}",
            limit="MAX_PRECONDITIONS",
            maximum=limits.MAX_PRECONDITIONS,
            actual=len(preconditions),
        )
    seen: set[tuple[str, ...]] = set()
    for update in updates:
        key = update.relationship.key()
        if key in seen:
            raise InvalidInputError(f"the relationship {update.relationship} is updated twice in one write")
        seen.add(key)
        if update.operation is not Operation.DELETE:
            check_context_size(update.relationship)
    for precondition in preconditions:
        validate_filter(precondition.filter)


def quantize(now: datetime, seconds: float) -> datetime | None:
    """Start of the quantization bucket holding ``now``; ``None`` when quantization is off."""
    if seconds <= 0:
        return None
    stamp = now.timestamp()
    return datetime.fromtimestamp(math.floor(stamp / seconds) * seconds, tz=UTC)


def resolve_revision(
    consistency: Consistency,
    *,
    store_id: str,
    head: Revision,
    oldest: Revision,
    quantized: Revision,
) -> Revision:
    """Apply the consistency rule, given the store's current revision facts.

    Args:
        consistency: The requested mode (and token for the token modes).
        store_id: The store's id; tokens of other stores are refused.
        head: The newest committed revision.
        oldest: The oldest revision still readable (the GC horizon).
        quantized: The ``minimize_latency`` revision (newest one committed before the bucket start).

    Raises:
        InvalidTokenError: a token mode without a token, or a malformed or foreign token.
        RevisionUnavailableError: the token names a collected revision (exact snapshot) or one this
            store has not committed.
    """
    mode = consistency.mode
    if mode is ConsistencyMode.FULLY_CONSISTENT:
        return head
    if mode is ConsistencyMode.MINIMIZE_LATENCY:
        return max(quantized, oldest)
    if consistency.token is None:
        raise InvalidTokenError(f"consistency mode {mode.value} needs a token")
    wanted = decode_token(consistency.token, store_id)
    if wanted > head:
        raise RevisionUnavailableError(f"revision {wanted} is not known to this store yet")
    if mode is ConsistencyMode.AT_LEAST_AS_FRESH:
        return max(wanted, quantized, oldest)
    if wanted < oldest:
        raise RevisionUnavailableError(f"revision {wanted} was garbage-collected")
    return wanted


def schema_hash(text: str) -> str:
    """Hex sha256 of the schema text."""
    return hashlib.sha256(text.encode()).hexdigest()

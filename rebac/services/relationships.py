"""Relationships: writes that conform to the current schema, reads, deletes, bulk moves and watch.

Every write path checks each relationship against the current schema first
(:mod:`rebac.services.conformance`) and is atomic: a refused item writes nothing. A write commits
only while the schema version it was checked against is current (compared under the store's
writer lock); when the schema changed in between it is checked again against the new version. Bulk imports are
pinned to the schema version they were checked against, so they are refused (409) when the schema
changes before they commit. Reads page with an opaque cursor bound to the filter and pinned to the
first page's revision.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from rebac import errors, limits, opaque
from rebac.config import Settings
from rebac.errors import RefSyntaxError
from rebac.refs import Relationship, parse_relationship
from rebac.schema import ir
from rebac.services.bounds import check_batch
from rebac.services.conformance import check_relationship, check_updates
from rebac.services.engines import Current, Engines, compile_version
from rebac.store.base import (
    Change,
    Consistency,
    ConsistencyMode,
    ImportResult,
    Precondition,
    RelationshipFilter,
    RelationshipUpdate,
    TupleStore,
    WriteResult,
)
from rebac.store.revision import Revision

__all__ = ["Conformance", "DeleteOutcome", "ImportTarget", "ReadPage", "Relationships", "WatchItem"]

Conformance = Callable[[Relationship, int], None]
"""Checks one relationship (with its position: an index or a line) against a schema; raises if refused."""

_CURSOR: Final = "the cursor"
_WRITE_ATTEMPTS: Final = 3
"""A write is checked against the current schema and committed only while that version is current."""
_FULL: Final = Consistency(ConsistencyMode.FULLY_CONSISTENT)


def _filter_digest(flt: RelationshipFilter) -> str:
    """A short digest of a filter (a cursor may only resume the same query)."""
    return hashlib.sha256(repr(flt).encode()).hexdigest()[:16]


def _encode_cursor(revision: Revision, digest: str, after: Relationship) -> str:
    return opaque.Cursor(revision.value, digest, (str(after),)).encode()


def _decode_cursor(text: str, digest: str) -> tuple[Revision, Relationship]:
    cursor = opaque.Cursor.decode(text, digest, what=_CURSOR)
    if cursor.revision is None:
        raise errors.InvalidTokenError(f"{_CURSOR} is malformed")
    try:
        return Revision(cursor.revision), parse_relationship(cursor.after[0])
    except RefSyntaxError:
        raise errors.InvalidTokenError(f"{_CURSOR} is malformed") from None


@dataclass(frozen=True, slots=True)
class ReadPage:
    """One page of a read: its revision, the relationships, and the cursor for the next page."""

    revision: Revision
    relationships: tuple[Relationship, ...]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class DeleteOutcome:
    """A delete by filter: the write, and whether matching relationships are left (a partial delete)."""

    result: WriteResult
    partial: bool


@dataclass(frozen=True, slots=True)
class ImportTarget:
    """What an import is checked against: the current version (``0``: none) and its schema."""

    version: int
    schema: ir.Schema | None


@dataclass(frozen=True, slots=True)
class WatchItem:
    """The changes of one revision (the resource types asked for), or the final checkpoint."""

    revision: Revision
    changes: tuple[Change, ...] = ()
    checkpoint: bool = False


class Relationships:
    """Relationship writes and reads over one store.

    Args:
        store: The open store.
        settings: Write and page limits.
        engines: The current schema (conformance of writes).
    """

    __slots__ = ("_engines", "_settings", "_store")

    def __init__(self, store: TupleStore, settings: Settings, engines: Engines) -> None:
        self._store = store
        self._settings = settings
        self._engines = engines

    async def write(
        self,
        current: Current,
        updates: Sequence[RelationshipUpdate],
        preconditions: Sequence[Precondition] = (),
    ) -> WriteResult:
        """Apply every update atomically after the preconditions, or nothing.

        Raises:
            LimitExceededError: too many updates or preconditions.
            UnknownTypeError: (and the other conformance errors) an update the schema refuses.
            PreconditionFailedError: a precondition does not hold.
            SchemaVersionConflictError: the schema kept changing between the check and the
                write (it is checked again against each new version, a few times).
        """
        check_batch(
            len(updates),
            self._settings.database.max_updates_per_write,
            limit="MAX_UPDATES_PER_WRITE",
            what="updates",
        )
        check_batch(
            len(preconditions), limits.MAX_PRECONDITIONS, limit="MAX_PRECONDITIONS", what="preconditions"
        )
        for _ in range(_WRITE_ATTEMPTS - 1):
            check_updates(current.engine.model.schema, updates)
            try:
                return await self._store.write(updates, preconditions, schema_version=current.version.version)
            except errors.SchemaVersionConflictError:
                # The schema changed after the check: check again against the new one.
                self._engines.invalidate()
                current = await self._engines.current()
        check_updates(current.engine.model.schema, updates)
        return await self._store.write(updates, preconditions, schema_version=current.version.version)

    def conformance(self, current: Current) -> Conformance:
        """The conformance check of one relationship against the current schema.

        For writes that arrive in parts (a streamed import): see
        :func:`rebac.services.conformance.check_relationship`.
        """
        schema = current.engine.model.schema

        def check(rel: Relationship, position: int) -> None:
            check_relationship(schema, rel, index=position)

        return check

    async def read(
        self, flt: RelationshipFilter, *, consistency: Consistency, limit: int, cursor: str | None = None
    ) -> ReadPage:
        """One page of relationships matching ``flt``, with a cursor when more follow.

        A cursor resumes the same filter at the revision of its first page.

        Raises:
            InvalidTokenError: a cursor of another filter, or not a cursor.
        """
        digest = _filter_digest(flt)
        after: Relationship | None = None
        if cursor is not None:
            revision, after = _decode_cursor(cursor, digest)
        else:
            revision = await self._store.resolve(consistency)
        found = [rel async for rel in self._store.query(flt, revision=revision, limit=limit + 1, after=after)]
        more = len(found) > limit
        page = tuple(found[:limit])
        next_cursor = _encode_cursor(revision, digest, page[-1]) if more and page else None
        return ReadPage(revision, page, next_cursor)

    async def delete(
        self,
        flt: RelationshipFilter,
        preconditions: Sequence[Precondition] = (),
        *,
        limit: int | None = None,
        allow_partial: bool = False,
    ) -> DeleteOutcome:
        """Delete every relationship matching ``flt`` atomically (at most ``limit``).

        Without ``allow_partial``, a delete that would leave matches beyond ``limit`` is refused.

        Raises:
            InvalidInputError: a negative limit.
            LimitExceededError: too many preconditions, or more matches than ``limit``.
        """
        check_batch(
            len(preconditions), limits.MAX_PRECONDITIONS, limit="MAX_PRECONDITIONS", what="preconditions"
        )
        store = self._store
        if limit is not None and limit < 0:
            raise errors.InvalidInputError("optionalLimit must not be negative")
        if limit is not None and not allow_partial:
            head = await store.resolve(_FULL)
            matching = [rel async for rel in store.query(flt, revision=head, limit=limit + 1)]
            if len(matching) > limit:
                raise errors.LimitExceededError(
                    "more relationships match than optionalLimit; set optionalAllowPartialDeletions",
                    limit="optionalLimit",
                    maximum=limit,
                    actual=len(matching),
                )
        result = await store.delete_matching(flt, preconditions, limit=limit)
        partial = False
        if limit is not None and result.count >= limit:
            partial = any([True async for _ in store.query(flt, revision=result.revision, limit=1)])
        return DeleteOutcome(result, partial)

    async def import_target(self) -> ImportTarget:
        """The schema an import is checked against (``version`` 0 and no schema before the first).

        Raises:
            SchemaError: the current schema does not compile, so nothing can be checked against it.
        """
        current = await self._store.current_schema()
        if current is None:
            return ImportTarget(0, None)
        return ImportTarget(current.version, compile_version(current))

    async def bulk_import(
        self, relationships: Iterable[Relationship], *, schema_version: int
    ) -> ImportResult:
        """Load checked relationships atomically, refused if ``schema_version`` is no longer current.

        Raises:
            SchemaVersionConflictError: the schema changed after the relationships were checked.
            ConflictError: a relationship is already stored.
        """
        return await self._store.bulk_import(relationships, schema_version=schema_version)

    async def gc(self, *, older_than_seconds: float) -> int:
        """Remove relationships deleted or expired longer ago than the window; return the count."""
        return await self._store.gc(older_than_seconds=older_than_seconds)

    async def export(
        self, flt: RelationshipFilter, *, consistency: Consistency
    ) -> tuple[Revision, AsyncIterator[Relationship]]:
        """Every relationship matching ``flt`` at one revision (the revision, then the stream)."""
        revision = await self._store.resolve(consistency)
        return revision, self._store.query(flt, revision=revision)

    async def watch(
        self, *, start: str | None, limit: int, timeout: float, types: frozenset[str] = frozenset()
    ) -> AsyncIterator[WatchItem]:
        """Changes after the token ``start`` (from now when ``None``), one item per revision.

        The start is resolved before this returns (a bad token raises here, not mid-stream). The
        feed ends after ``timeout`` seconds or ``limit`` changes with a checkpoint item saying how
        far it got; a revision cut short by ``limit`` is left for the next call. ``types`` (when
        given) keeps the changes of those resource types only.

        Raises:
            InvalidTokenError: ``start`` is not a token of this store.
        """
        store = self._store
        if start is not None:
            position = await store.resolve(Consistency(ConsistencyMode.AT_EXACT_SNAPSHOT, start))
        else:
            position = await store.head_revision()
        return self._feed(position, limit, time.monotonic() + timeout, types)

    async def _feed(
        self, position: Revision, limit: int, deadline: float, types: frozenset[str]
    ) -> AsyncIterator[WatchItem]:
        store = self._store
        sent = 0
        while sent < limit:
            wanted = limit - sent
            changes = await store.changes_since(position, limit=wanted)
            groups = _group(changes)
            if len(changes) >= wanted and len(groups) > 1:
                groups = groups[:-1]  # the last revision may be cut short: send it next time
            for revision, group in groups:
                kept = tuple(c for c in group if not types or c.relationship.resource.type in types)
                position = revision
                sent += len(group)
                if kept:
                    yield WatchItem(revision, kept)
            remaining = deadline - time.monotonic()
            if changes or sent >= limit:
                continue
            if remaining <= 0 or not await store.wait_for_revision(
                Revision(position.value + 1), timeout=remaining
            ):
                break
        yield WatchItem(position, checkpoint=True)


def _group(changes: list[Change]) -> list[tuple[Revision, list[Change]]]:
    groups: list[tuple[Revision, list[Change]]] = []
    for change in changes:
        if groups and groups[-1][0] == change.revision:
            groups[-1][1].append(change)
        else:
            groups.append((change.revision, [change]))
    return groups

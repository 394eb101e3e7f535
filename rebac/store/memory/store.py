"""MemoryTupleStore: the in-process engine, with the same semantics as the Postgres one.

Used by unit tests, the check-engine tests and as the reference the Postgres engine is compared
with. Rows are soft-deleted (``created``/``deleted`` revisions), so every read is answered *at* a
revision; expired rows are invisible on every read; writes are all-or-nothing.

Note on ``minimize_latency``: as in Postgres, it answers at the newest revision committed before
the start of the current quantization bucket (``quantization_seconds``, default
``limits.QUANTIZATION_SECONDS``), so a read right after a write may not see it. Tests that write and
then read should pass the write's token (``at_least_as_fresh``), use ``fully_consistent``, or build
the store with ``quantization_seconds=0``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from rebac import limits
from rebac.errors import (
    DuplicateRelationshipError,
    PreconditionFailedError,
    RevisionUnavailableError,
    SchemaVersionConflictError,
    SchemaVersionNotFoundError,
)
from rebac.refs import Relationship
from rebac.store._common import (
    LIVE,
    check_context_size,
    check_schema_version,
    quantize,
    resolve_revision,
    schema_hash,
    validate_filter,
    validate_write,
)
from rebac.store.base import (
    Change,
    Consistency,
    DecisionFilter,
    DecisionKey,
    DecisionRecord,
    ImportResult,
    Operation,
    Precondition,
    PreconditionKind,
    RelationshipFilter,
    RelationshipUpdate,
    Review,
    SchemaVersion,
    StoreRoles,
    WriteResult,
)
from rebac.store.memory._decisions import MemoryDecisionLog
from rebac.store.memory._identities import MemoryIdentityMixin
from rebac.store.memory._keys import MemoryKeyStore
from rebac.store.memory._requests import MemoryAccessRequestStore
from rebac.store.memory._rows import Key, Row
from rebac.store.revision import Revision, encode_token

__all__ = ["MemoryTupleStore"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MemoryTupleStore(MemoryIdentityMixin):
    """An in-memory :class:`rebac.store.base.TupleStore`.

    Args:
        max_updates_per_write: Largest write call accepted (``LimitExceededError`` above it).
        quantization_seconds: Bucket size of ``minimize_latency`` reads; ``0`` reads the head.
        clock: Returns the current aware UTC time; injectable so tests can move time without sleeping.
        store_id: The id embedded in tokens; a fresh UUID by default.
    """

    def __init__(
        self,
        *,
        max_updates_per_write: int = limits.MAX_UPDATES_PER_WRITE,
        quantization_seconds: float = limits.QUANTIZATION_SECONDS,
        clock: Callable[[], datetime] = _utcnow,
        store_id: str | None = None,
    ) -> None:
        self._max_updates = max_updates_per_write
        self._quantization = quantization_seconds
        self._clock = clock
        self._store_id = store_id or str(uuid.uuid4())
        self._rows: list[Row] = []
        self._live: dict[Key, Row] = {}
        self._by_resource: dict[tuple[str, str], list[Row]] = {}
        self._by_subject: dict[tuple[str, str], list[Row]] = {}
        self._changes: list[Change] = []
        self._revisions: dict[int, datetime] = {0: clock()}
        self._head = 0
        self._oldest = 0
        self._schemas: list[SchemaVersion] = []
        self._cond = asyncio.Condition()
        self._writer = asyncio.Lock()  # a schema write's verify holds it (see write_schema)
        self._quantized_cache: tuple[datetime, int] | None = None
        self._decisions = MemoryDecisionLog()
        self._reviews: list[Review] = []
        requests = MemoryAccessRequestStore(self._write_grant)
        self._roles = StoreRoles(
            decisions=self, identities=self, reviews=self, keys=MemoryKeyStore(), requests=requests
        )

    async def _write_grant(self, grant: Relationship) -> int:
        """An approval's grant: one TOUCH, atomically; its revision."""
        written = await self.write([RelationshipUpdate(Operation.TOUCH, grant)])
        return written.revision.value

    # --- identity ---------------------------------------------------------------------------------

    @property
    def store_id(self) -> str:
        """Stable id of this store, embedded in its tokens."""
        return self._store_id

    def token_for(self, revision: Revision) -> str:
        """The opaque token for ``revision`` of this store."""
        return encode_token(revision, self._store_id)

    @property
    def roles(self) -> StoreRoles:
        """Every optional role: this store itself, an in-memory key table and access requests."""
        return self._roles

    async def ready(self) -> bool:
        """Always True: there is nothing to reach, migrate or load."""
        return True

    async def close(self) -> None:
        """Nothing to release; present for the protocol."""

    # --- decision log ------------------------------------------------------------------------------

    async def append_decisions(self, batch: Sequence[DecisionRecord]) -> None:
        """Store ``batch`` atomically (see :class:`~rebac.store.base.DecisionLog`)."""
        await self._decisions.append(batch)

    async def query_decisions(
        self, flt: DecisionFilter, *, limit: int, after: DecisionKey | None = None
    ) -> list[DecisionRecord]:
        """Records matching ``flt``, newest first, at most ``limit``, strictly after ``after``."""
        return await self._decisions.query(flt, limit=limit, after=after)

    async def drop_decisions_before(self, before: datetime) -> int:
        """Drop every whole UTC day that ends at or before ``before``; return how many."""
        return await self._decisions.drop_before(before)

    # --- reads -------------------------------------------------------------------------------------

    async def head_revision(self) -> Revision:
        """The newest committed revision."""
        return Revision(self._head)

    def _quantized(self) -> Revision:
        start = quantize(self._clock(), self._quantization)
        if start is None:
            return Revision(self._head)
        cached = self._quantized_cache
        if cached is not None and cached[0] == start:
            return Revision(cached[1])
        best = self._oldest
        for value, committed_at in self._revisions.items():
            if committed_at <= start and value > best:
                best = value
        self._quantized_cache = (start, best)
        return Revision(best)

    async def resolve(self, consistency: Consistency) -> Revision:
        """The revision a read with ``consistency`` must use."""
        return resolve_revision(
            consistency,
            store_id=self._store_id,
            head=Revision(self._head),
            oldest=Revision(self._oldest),
            quantized=self._quantized(),
        )

    def _candidates(self, flt: RelationshipFilter) -> Iterable[Row]:
        if flt.resource_type is not None and flt.resource_ids:
            return [
                r for rid in flt.resource_ids for r in self._by_resource.get((flt.resource_type, rid), ())
            ]
        if flt.subject_type is not None and flt.subject_ids:
            stype = flt.subject_type
            return [r for sid in flt.subject_ids for r in self._by_subject.get((stype, sid), ())]
        return self._rows

    def _select(self, flt: RelationshipFilter, revision: int, now: datetime) -> list[Relationship]:
        found = {
            row.rel.key(): row.rel
            for row in self._candidates(flt)
            if row.visible(revision, now) and flt.matches(row.rel)
        }
        return [found[key] for key in sorted(found)]

    async def query(
        self,
        flt: RelationshipFilter,
        *,
        revision: Revision,
        limit: int | None = None,
        after: Relationship | None = None,
    ) -> AsyncIterator[Relationship]:
        """Live relationships matching ``flt`` at ``revision``, ordered by key."""
        validate_filter(flt)
        selected = self._select(flt, revision.value, self._clock())
        if after is not None:
            cursor = after.key()
            selected = [rel for rel in selected if rel.key() > cursor]
        if limit is not None:
            selected = selected[:limit]
        for rel in selected:
            yield rel

    # --- writes ------------------------------------------------------------------------------------

    def _check_preconditions(self, preconditions: Sequence[Precondition], now: datetime) -> None:
        for precondition in preconditions:
            exists = any(
                row.visible(self._head, now) and precondition.filter.matches(row.rel)
                for row in self._candidates(precondition.filter)
            )
            if exists != (precondition.kind is PreconditionKind.MUST_MATCH):
                raise PreconditionFailedError(
                    f"precondition {precondition.kind.value} failed",
                    details={"precondition": precondition.kind.value},
                )

    def _live_visible(self, key: Key, now: datetime) -> Row | None:
        row = self._live.get(key)
        if row is None or row.rel.is_expired(now):
            return None
        return row

    def _add_row(self, rel: Relationship, revision: int) -> None:
        row = Row(rel, revision)
        self._rows.append(row)
        self._live[rel.key()] = row
        self._by_resource.setdefault((rel.resource.type, rel.resource.id), []).append(row)
        self._by_subject.setdefault((rel.subject.type, rel.subject.id), []).append(row)

    def _kill(self, key: Key, revision: int) -> Relationship | None:
        """Soft-delete the live row of ``key``; return what it held."""
        row = self._live.pop(key, None)
        if row is None:
            return None
        row.deleted = revision
        return row.rel

    def _commit(self, now: datetime) -> int:
        self._quantized_cache = None
        self._head += 1
        self._revisions[self._head] = now
        return self._head

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    def _result(self, revision: int, count: int) -> WriteResult:
        rev = Revision(revision)
        return WriteResult(revision=rev, token=self.token_for(rev), count=count)

    async def write(
        self,
        updates: Sequence[RelationshipUpdate],
        preconditions: Sequence[Precondition] = (),
        *,
        schema_version: int | None = None,
    ) -> WriteResult:
        """Apply all updates atomically after checking every precondition, or nothing.

        ``schema_version`` is compared before anything changes (see ``TupleWriter.write``); a
        schema write's ``verify`` holds the writer lock, which this waits for.
        """
        async with self._writer:
            return await self._write_locked(updates, preconditions, schema_version)

    async def _write_locked(
        self,
        updates: Sequence[RelationshipUpdate],
        preconditions: Sequence[Precondition],
        schema_version: int | None,
    ) -> WriteResult:
        validate_write(updates, preconditions, max_updates=self._max_updates)
        check_schema_version(schema_version, len(self._schemas))
        now = self._clock()
        self._check_preconditions(preconditions, now)
        for update in updates:
            if update.operation is Operation.CREATE and self._live_visible(update.relationship.key(), now):
                raise DuplicateRelationshipError(
                    f"the relationship {update.relationship} already exists",
                    details={"relationship": str(update.relationship)},
                )
        # Everything is validated: from here on nothing can fail, so the write is all-or-nothing.
        revision = self._commit(now)
        changes: list[Change] = []
        for update in updates:
            rel = update.relationship
            killed = self._kill(rel.key(), revision)
            if update.operation is Operation.DELETE:
                if killed is not None:
                    changes.append(Change(Revision(revision), Operation.DELETE, killed, now))
                continue
            self._add_row(rel, revision)
            changes.append(Change(Revision(revision), Operation.TOUCH, rel, now))
        self._changes.extend(sorted(changes, key=lambda change: change.relationship.key()))
        count = len(changes)
        await self._notify()
        return self._result(revision, count)

    async def delete_matching(
        self,
        flt: RelationshipFilter,
        preconditions: Sequence[Precondition] = (),
        *,
        limit: int | None = None,
    ) -> WriteResult:
        """Delete live relationships matching ``flt`` (at most ``limit``, in key order) atomically."""
        validate_filter(flt, for_delete=True)
        validate_write((), preconditions, max_updates=self._max_updates)
        now = self._clock()
        self._check_preconditions(preconditions, now)
        doomed = self._select(flt, self._head, now)
        if limit is not None:
            doomed = doomed[:limit]
        revision = self._commit(now)
        for rel in doomed:
            self._kill(rel.key(), revision)
            self._changes.append(Change(Revision(revision), Operation.DELETE, rel, now))
        await self._notify()
        return self._result(revision, len(doomed))

    async def bulk_import(
        self, relationships: Iterable[Relationship], *, schema_version: int | None = None
    ) -> ImportResult:
        """Load relationships with create semantics; all or nothing (see ``TupleWriter.bulk_import``)."""
        async with self._writer:
            return await self._import_locked(relationships, schema_version)

    async def _import_locked(
        self, relationships: Iterable[Relationship], schema_version: int | None
    ) -> ImportResult:
        check_schema_version(schema_version, len(self._schemas))
        now = self._clock()
        batch: dict[Key, Relationship] = {}
        for rel in relationships:
            key = rel.key()
            check_context_size(rel)
            if key in batch or self._live_visible(key, now):
                raise DuplicateRelationshipError(
                    f"the relationship {rel} already exists", details={"relationship": str(rel)}
                )
            batch[key] = rel
        revision = self._commit(now)
        for key, rel in sorted(batch.items()):
            self._kill(key, revision)
            self._add_row(rel, revision)
            self._changes.append(Change(Revision(revision), Operation.TOUCH, rel, now))
        await self._notify()
        rev = Revision(revision)
        return ImportResult(revision=rev, token=self.token_for(rev), loaded=len(batch), position=len(batch))

    async def gc(self, *, older_than_seconds: float) -> int:
        """Drop rows deleted or expired before the window; older revisions become unreadable."""
        now = self._clock()
        cutoff = now - timedelta(seconds=older_than_seconds)
        horizon = max(
            (value for value, committed_at in self._revisions.items() if committed_at <= cutoff),
            default=self._oldest,
        )
        horizon = max(horizon, self._oldest)

        def doomed(row: Row) -> bool:
            expired = row.rel.expires_at is not None and row.rel.expires_at <= cutoff
            return row.deleted <= horizon or expired

        kept = [row for row in self._rows if not doomed(row)]
        removed = len(self._rows) - len(kept)
        self._rows = kept
        self._live = {row.rel.key(): row for row in kept if row.deleted == LIVE}
        self._by_resource = {}
        self._by_subject = {}
        for row in kept:
            self._by_resource.setdefault((row.rel.resource.type, row.rel.resource.id), []).append(row)
            self._by_subject.setdefault((row.rel.subject.type, row.rel.subject.id), []).append(row)
        self._changes = [change for change in self._changes if change.revision.value > horizon]
        self._revisions = {v: t for v, t in self._revisions.items() if v >= horizon}
        self._oldest = horizon
        self._quantized_cache = None
        return removed

    # --- changelog ---------------------------------------------------------------------------------

    async def changes_since(self, revision: Revision, *, limit: int = 1000) -> list[Change]:
        """Changes after ``revision`` in revision order; whole revisions only (one may exceed ``limit``)."""
        if revision.value < self._oldest:
            raise RevisionUnavailableError(f"changes since revision {revision} were garbage-collected")
        pending = [change for change in self._changes if change.revision > revision]
        if len(pending) <= limit:
            return pending
        last = pending[limit].revision
        whole = [change for change in pending[:limit] if change.revision < last]
        if whole:
            return whole
        return [change for change in pending if change.revision == last]

    async def wait_for_revision(self, revision: Revision, *, timeout: float) -> bool:
        """Wait until the head is at least ``revision``; False on timeout."""
        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(lambda: self._head >= revision.value), timeout)
            except TimeoutError:
                return False
        return True

    # --- schema ------------------------------------------------------------------------------------

    async def write_schema(
        self,
        text: str,
        *,
        author: str,
        expected_version: int | None = None,
        verify: Callable[[], Awaitable[None]] | None = None,
    ) -> SchemaVersion:
        """Store ``text`` as a new immutable version and make it current.

        ``verify`` runs under the writer lock first (no relationship write lands meanwhile).

        Raises:
            SchemaVersionConflictError: ``expected_version`` is given and is not current.
        """
        async with self._writer:
            if verify is not None:
                await verify()
            return await self._write_schema_locked(text, author, expected_version)

    async def _write_schema_locked(
        self, text: str, author: str, expected_version: int | None
    ) -> SchemaVersion:
        if expected_version is not None and expected_version != len(self._schemas):
            raise SchemaVersionConflictError(
                f"the schema changed concurrently: expected version {expected_version}, "
                f"current is {len(self._schemas)}",
                expected=expected_version,
                actual=len(self._schemas),
            )
        now = self._clock()
        revision = self._commit(now)
        version = SchemaVersion(
            version=len(self._schemas) + 1,
            text=text,
            hash=schema_hash(text),
            author=author,
            created_at=now,
            revision=Revision(revision),
        )
        self._schemas.append(version)
        await self._notify()
        return version

    async def current_schema(self) -> SchemaVersion | None:
        """The current version, or ``None`` before the first write."""
        return self._schemas[-1] if self._schemas else None

    async def schema_version(self, version: int) -> SchemaVersion:
        """One version; raises ``SchemaVersionNotFoundError``."""
        if 1 <= version <= len(self._schemas):
            return self._schemas[version - 1]
        raise SchemaVersionNotFoundError(f"schema version {version} does not exist")

    async def schema_history(self) -> list[SchemaVersion]:
        """Every version, oldest first."""
        return list(self._schemas)

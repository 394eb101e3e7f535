"""PostgresTupleStore: the store over PostgreSQL (SQLAlchemy Core, async psycopg 3).

**Revision order equals commit order.** Every write transaction first takes the row lock on the
single ``store_meta`` row (``SELECT ... FOR UPDATE``) and only then assigns its revision
(``max(revision.value) + 1``); the lock is held until commit. So revision *N+1* can only be
assigned after *N* has committed, and a reader that sees *N+1* (a ``revision`` row, or tuples with
``created_rev = N+1``) necessarily sees *N* and all of its tuples. The price is that writers are
serialised; preconditions and CREATE duplicate checks need that anyway, and one write holds the lock
for a few milliseconds. We chose this over SpiceDB's xid8 snapshots because revisions stay small
dense integers (cheap tokens, range scans, quantization by commit time) and the rule is checkable
with one concurrency test. Reads are plain READ COMMITTED statements filtered by revision, so they
never take locks.

Deletes are soft (``deleted_rev``); the change log is derived from ``created_rev``/``deleted_rev``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from rebac import limits
from rebac.errors import (
    DuplicateRelationshipError,
    PreconditionFailedError,
    RevisionUnavailableError,
    SchemaVersionConflictError,
    SchemaVersionNotFoundError,
    StoreError,
)
from rebac.refs import Relationship
from rebac.store import _pg_bulk
from rebac.store._common import (
    quantize,
    resolve_revision,
    schema_hash,
    validate_filter,
    validate_write,
)
from rebac.store._pg_changes import changes_stmt, collapse, schema_from_row
from rebac.store._pg_listen import CHANNEL, RevisionListener
from rebac.store._pg_read import ReadStatements
from rebac.store._pg_sql import (
    KEY_COLUMNS,
    filter_conditions,
    live_now,
    relationship_from_row,
    translate_errors,
)
from rebac.store._pg_write import DUPLICATES, KILL, insert_params, key_arrays
from rebac.store.base import (
    Change,
    Consistency,
    ConsistencyMode,
    ImportResult,
    Operation,
    Precondition,
    PreconditionKind,
    RelationshipFilter,
    RelationshipUpdate,
    SchemaVersion,
    WriteResult,
)
from rebac.store.migrate import async_url
from rebac.store.models import LIVE_REVISION, relation_tuple, revision, schema_version, store_meta
from rebac.store.revision import Revision, decode_token, encode_token

__all__ = ["PostgresTupleStore"]

_T: Final = relation_tuple.c
_PAGE: Final = 1000


class PostgresTupleStore:
    """A :class:`rebac.store.base.TupleStore` over PostgreSQL. Build it with :meth:`connect`.

    Args:
        engine: An async SQLAlchemy engine on a migrated database.
        store_id: The store's id (from ``store_meta``).
        conninfo: libpq connection string, for the LISTEN connection.
        max_updates_per_write: Largest write call accepted.
        quantization_seconds: Bucket size of ``minimize_latency`` reads; ``0`` reads the head.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        store_id: str,
        conninfo: str,
        max_updates_per_write: int = limits.MAX_UPDATES_PER_WRITE,
        quantization_seconds: float = limits.QUANTIZATION_SECONDS,
    ) -> None:
        self._engine = engine
        # Reads are single statements: autocommit saves the BEGIN/ROLLBACK round trips per checkout.
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._store_id = store_id
        self._max_updates = max_updates_per_write
        self._quantization = quantization_seconds
        self._listener = RevisionListener(conninfo)
        self._quantized: tuple[float, Revision] | None = None
        self._statements = ReadStatements(engine.dialect)

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        max_updates_per_write: int = limits.MAX_UPDATES_PER_WRITE,
        quantization_seconds: float = limits.QUANTIZATION_SECONDS,
        pool_size: int = 10,
    ) -> PostgresTupleStore:
        """Open a store on the migrated database at ``url`` (``postgresql[+psycopg]://``).

        Raises:
            StoreUnavailableError: the database cannot be reached.
            StoreError: the database is not migrated.
        """
        engine = create_async_engine(
            async_url(url),
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"connect_timeout": 5, "prepare_threshold": 2},
        )
        try:
            with translate_errors():
                async with engine.connect() as conn:
                    store_id = (await conn.execute(sa.select(store_meta.c.store_id))).scalar_one()
        except BaseException:
            await engine.dispose()
            raise
        conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        return cls(
            engine,
            store_id=str(store_id),
            conninfo=conninfo,
            max_updates_per_write=max_updates_per_write,
            quantization_seconds=quantization_seconds,
        )

    # --- identity ---------------------------------------------------------------------------------

    @property
    def store_id(self) -> str:
        """Stable id of this store, embedded in its tokens."""
        return self._store_id

    def token_for(self, revision: Revision) -> str:
        """The opaque token for ``revision`` of this store."""
        return encode_token(revision, self._store_id)

    async def close(self) -> None:
        """Stop listening and close every pooled connection."""
        await self._listener.close()
        await self._engine.dispose()

    # --- revisions ---------------------------------------------------------------------------------

    async def head_revision(self) -> Revision:
        """The newest committed revision."""
        with translate_errors():
            async with self._reads.connect() as conn:
                value = (await conn.execute(sa.select(sa.func.max(revision.c.value)))).scalar_one()
        return Revision(int(value))

    async def _quantized_revision(self) -> Revision:
        start = quantize(datetime.now(UTC), self._quantization)
        if start is None:
            return await self.head_revision()
        cached = self._quantized
        if cached is not None and cached[0] == start.timestamp():
            return cached[1]
        stmt = sa.select(
            sa.func.coalesce(
                sa.select(sa.func.max(revision.c.value))
                .where(revision.c.committed_at <= start)
                .scalar_subquery(),
                sa.select(sa.func.min(revision.c.value)).scalar_subquery(),
            )
        )
        with translate_errors():
            async with self._reads.connect() as conn:
                value = (await conn.execute(stmt)).scalar_one()
        result = Revision(int(value))
        self._quantized = (start.timestamp(), result)
        return result

    async def resolve(self, consistency: Consistency) -> Revision:
        """The revision a read with ``consistency`` must use."""
        quantized = await self._quantized_revision()
        if consistency.mode is ConsistencyMode.MINIMIZE_LATENCY:
            return quantized
        if consistency.mode is ConsistencyMode.AT_LEAST_AS_FRESH and consistency.token is not None:
            wanted = decode_token(consistency.token, self._store_id)
            if wanted <= quantized:  # the cached recent revision is fresh enough: no round trip
                return quantized
        stmt = sa.select(
            sa.select(sa.func.max(revision.c.value)).scalar_subquery(),
            sa.select(store_meta.c.gc_revision).scalar_subquery(),
        )
        with translate_errors():
            async with self._reads.connect() as conn:
                head, oldest = (await conn.execute(stmt)).one()
        return resolve_revision(
            consistency,
            store_id=self._store_id,
            head=Revision(int(head)),
            oldest=Revision(int(oldest)),
            quantized=quantized,
        )

    # --- reads -------------------------------------------------------------------------------------

    async def query(
        self,
        flt: RelationshipFilter,
        *,
        revision: Revision,
        limit: int | None = None,
        after: Relationship | None = None,
    ) -> AsyncIterator[Relationship]:
        """Live relationships matching ``flt`` at ``revision``, ordered by key.

        Reads in pages of at most 1,000 rows, one pooled connection per page (keyset pagination on
        the key), so an abandoned iteration never pins a connection.
        """
        validate_filter(flt)
        remaining = limit
        cursor = after.key() if after is not None else None
        while remaining is None or remaining > 0:
            page = _PAGE if remaining is None else min(_PAGE, remaining)
            sql = self._statements.sql(flt, with_cursor=cursor is not None)
            params = self._statements.params(flt, revision=revision.value, page_size=page, cursor=cursor)
            with translate_errors():
                async with self._reads.connect() as conn:
                    raw = await conn.get_raw_connection()
                    driver = raw.driver_connection
                    if driver is None:  # pragma: no cover - a pooled connection has its driver connection
                        raise StoreError("the database connection is closed")
                    cur = await driver.execute(sql, params, prepare=True)
                    rows = await cur.fetchall()
            for row in rows:
                yield relationship_from_row(row)
            if len(rows) < page:
                return
            cursor = tuple(rows[-1][:6])
            if remaining is not None:
                remaining -= len(rows)

    # --- writes ------------------------------------------------------------------------------------

    async def _begin_revision(self, conn: AsyncConnection) -> int:
        """Take the writer lock and assign the next revision (see the module docstring)."""
        await conn.execute(sa.select(store_meta.c.id).where(store_meta.c.id == 1).with_for_update())
        stmt = sa.text(
            "INSERT INTO revision (value, committed_at) "
            "SELECT max(value) + 1, clock_timestamp() FROM revision RETURNING value"
        )
        value = int((await conn.execute(stmt)).scalar_one())
        await conn.execute(sa.select(sa.func.pg_notify(CHANNEL, str(value))))
        return value

    async def _check_preconditions(
        self, conn: AsyncConnection, preconditions: Sequence[Precondition]
    ) -> None:
        for precondition in preconditions:
            probe = (
                sa.select(sa.literal(1)).where(*filter_conditions(precondition.filter), *live_now()).limit(1)
            )
            exists = (await conn.execute(probe)).first() is not None
            if exists != (precondition.kind is PreconditionKind.MUST_MATCH):
                raise PreconditionFailedError(
                    f"precondition {precondition.kind.value} failed",
                    details={"precondition": precondition.kind.value},
                )

    def _result(self, value: int, count: int) -> WriteResult:
        rev = Revision(value)
        return WriteResult(revision=rev, token=self.token_for(rev), count=count)

    async def write(
        self,
        updates: Sequence[RelationshipUpdate],
        preconditions: Sequence[Precondition] = (),
    ) -> WriteResult:
        """Apply all updates in one transaction after checking every precondition, or nothing."""
        validate_write(updates, preconditions, max_updates=self._max_updates)
        creates = [u.relationship for u in updates if u.operation is Operation.CREATE]
        writes = [u.relationship for u in updates if u.operation is not Operation.DELETE]
        deletes = {u.relationship.key() for u in updates if u.operation is Operation.DELETE}
        with translate_errors():
            async with self._engine.begin() as conn:
                value = await self._begin_revision(conn)
                await self._check_preconditions(conn, preconditions)
                if creates:
                    dup = (await conn.execute(DUPLICATES, key_arrays(creates))).first()
                    if dup is not None:
                        text = next(str(rel) for rel in creates if rel.key() == tuple(dup))
                        raise DuplicateRelationshipError(
                            f"the relationship {text} already exists", details={"relationship": text}
                        )
                killed = (
                    (
                        await conn.execute(
                            KILL, {"rev": value, **key_arrays([u.relationship for u in updates])}
                        )
                    ).all()
                    if updates
                    else []
                )
                if writes:
                    await conn.execute(
                        relation_tuple.insert(),
                        [insert_params(rel, value) for rel in writes],
                    )
        count = len(writes) + sum(1 for key in killed if tuple(key) in deletes)
        return self._result(value, count)

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
        with translate_errors():
            async with self._engine.begin() as conn:
                value = await self._begin_revision(conn)
                await self._check_preconditions(conn, preconditions)
                doomed = sa.select(*KEY_COLUMNS).where(*filter_conditions(flt), *live_now())
                if limit is not None:
                    doomed = doomed.order_by(*KEY_COLUMNS).limit(limit)
                stmt = (
                    relation_tuple.update()
                    .where(_T.deleted_rev == LIVE_REVISION, sa.tuple_(*KEY_COLUMNS).in_(doomed))
                    .values(deleted_rev=value)
                )
                count = (await conn.execute(stmt)).rowcount
        return self._result(value, count)

    async def bulk_import(self, relationships: Iterable[Relationship]) -> ImportResult:
        """Load relationships with create semantics, atomically, via COPY into a staging table."""
        with translate_errors():
            async with self._engine.begin() as conn:
                value = await self._begin_revision(conn)
                loaded = await _pg_bulk.copy_in(conn, relationships, value)
            # Fresh statistics right away (not whenever autovacuum gets to it): without them the
            # planner misjudges the forward/reverse shapes after a large load.
            async with self._reads.connect() as conn:
                await conn.execute(sa.text("ANALYZE relation_tuple"))
        rev = Revision(value)
        return ImportResult(revision=rev, token=self.token_for(rev), loaded=loaded, position=loaded)

    async def gc(self, *, older_than_seconds: float) -> int:
        """Drop rows deleted or expired before the window; older revisions become unreadable."""
        cutoff = sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, older_than_seconds)
        with translate_errors():
            async with self._engine.begin() as conn:
                lock = sa.select(store_meta.c.gc_revision).where(store_meta.c.id == 1).with_for_update()
                oldest = int((await conn.execute(lock)).scalar_one())
                newest_old = sa.select(sa.func.max(revision.c.value)).where(revision.c.committed_at <= cutoff)
                found = (await conn.execute(newest_old)).scalar_one()
                horizon = max(oldest, int(found) if found is not None else 0)
                removed = (
                    await conn.execute(
                        relation_tuple.delete().where(
                            sa.or_(
                                sa.and_(_T.deleted_rev < LIVE_REVISION, _T.deleted_rev <= horizon),
                                sa.and_(_T.expires_at.is_not(None), _T.expires_at <= cutoff),
                            )
                        )
                    )
                ).rowcount
                await conn.execute(revision.delete().where(revision.c.value < horizon))
                await conn.execute(store_meta.update().values(gc_revision=horizon))
        return int(removed)

    # --- changelog ---------------------------------------------------------------------------------

    async def changes_since(self, revision_: Revision, *, limit: int = 1000) -> list[Change]:
        """Changes after ``revision_`` in revision order; whole revisions only (one may exceed ``limit``)."""
        since = revision_.value
        with translate_errors():
            async with self._reads.connect() as conn:
                oldest = int((await conn.execute(sa.select(store_meta.c.gc_revision))).scalar_one())
                if since < oldest:
                    raise RevisionUnavailableError(
                        f"changes since revision {revision_} were garbage-collected"
                    )
                rows = (await conn.execute(changes_stmt(since, None, limit + 1))).all()
                if len(rows) > limit:
                    last = rows[limit][0]
                    rows = [row for row in rows[:limit] if row[0] < last]
                    if not rows:
                        rows = list((await conn.execute(changes_stmt(since, last, None))).all())
        return collapse(rows)

    async def wait_for_revision(self, revision_: Revision, *, timeout: float) -> bool:
        """Wait until the head is at least ``revision_``; woken by NOTIFY, re-checking every second."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with translate_errors():
            await self._listener.start()
        while True:
            if await self.head_revision() >= revision_:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await self._listener.wait(min(remaining, 1.0))

    # --- schema ------------------------------------------------------------------------------------

    async def write_schema(
        self, text: str, *, author: str, expected_version: int | None = None
    ) -> SchemaVersion:
        """Store ``text`` as a new immutable version and make it current, in one transaction.

        The compare-and-set on ``expected_version`` runs under the writer lock, so two concurrent
        schema writes expecting the same version cannot both commit.

        Raises:
            SchemaVersionConflictError: ``expected_version`` is given and is not current.
        """
        with translate_errors():
            async with self._engine.begin() as conn:
                value = await self._begin_revision(conn)
                if expected_version is not None:
                    current = (await conn.execute(sa.select(store_meta.c.current_schema))).scalar_one()
                    if (current or 0) != expected_version:
                        raise SchemaVersionConflictError(
                            f"the schema changed concurrently: expected version {expected_version}, "
                            f"current is {current or 0}",
                            expected=expected_version,
                            actual=int(current or 0),
                        )
                number = (
                    await conn.execute(
                        sa.select(sa.func.coalesce(sa.func.max(schema_version.c.version), 0) + 1)
                    )
                ).scalar_one()
                row = (
                    await conn.execute(
                        schema_version.insert()
                        .values(
                            version=number,
                            text=text,
                            hash=schema_hash(text),
                            author=author,
                            created_at=sa.func.clock_timestamp(),
                            revision=value,
                        )
                        .returning(*schema_version.c)
                    )
                ).one()
                await conn.execute(store_meta.update().values(current_schema=number))
        return schema_from_row(row)

    async def current_schema(self) -> SchemaVersion | None:
        """The current version, or ``None`` before the first write."""
        stmt = sa.select(*schema_version.c).join(
            store_meta, store_meta.c.current_schema == schema_version.c.version
        )
        with translate_errors():
            async with self._reads.connect() as conn:
                row = (await conn.execute(stmt)).first()
        return None if row is None else schema_from_row(row)

    async def schema_version(self, version: int) -> SchemaVersion:
        """One version; raises ``SchemaVersionNotFoundError``."""
        stmt = sa.select(*schema_version.c).where(schema_version.c.version == version)
        with translate_errors():
            async with self._reads.connect() as conn:
                row = (await conn.execute(stmt)).first()
        if row is None:
            raise SchemaVersionNotFoundError(f"schema version {version} does not exist")
        return schema_from_row(row)

    async def schema_history(self) -> list[SchemaVersion]:
        """Every version, oldest first."""
        stmt = sa.select(*schema_version.c).order_by(schema_version.c.version)
        with translate_errors():
            async with self._reads.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return [schema_from_row(row) for row in rows]

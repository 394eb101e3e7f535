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

With ``index`` settings, the store also keeps an in-memory copy of the relationships, fed from
the change log (:mod:`rebac.store.postgres._mirror`): ``query`` answers from it whenever it has
applied the revision asked for, and reads the database otherwise, so results are the same either way.
With ``replicas``, those database reads (and the index's snapshot load) go to streaming replicas
that have replayed the revision asked for (:mod:`rebac.store.postgres._replicas`); everything else
uses the primary.

The writes live in :mod:`rebac.store.postgres._write`, the schema versions in
:mod:`rebac.store.postgres._schemas` and the identity reads and reviews in
:mod:`rebac.store.postgres._identities` (mixins of this class).

Every statement runs through :meth:`PostgresTupleStore._read` or :meth:`PostgresTupleStore._write`,
which hold a pooled connection only for one unit of work and return it even when the caller is
cancelled (see :mod:`rebac.store.postgres._cancel`); ``query`` never holds one across a ``yield``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from rebac import limits
from rebac.refs import Relationship
from rebac.store._common import quantize, resolve_revision, validate_filter
from rebac.store.base import (
    Change,
    Consistency,
    ConsistencyMode,
    DecisionFilter,
    DecisionKey,
    DecisionRecord,
    RelationshipFilter,
    StoreRoles,
)
from rebac.store.postgres._cancel import run_on_connection
from rebac.store.postgres._changes import (
    collapse,
    read_changes,
    read_changes_through,
)
from rebac.store.postgres._decisions import PgDecisionLog, PgDecisionWriter
from rebac.store.postgres._fast import FastReads, SharedRead
from rebac.store.postgres._identities import PostgresIdentityMixin
from rebac.store.postgres._index import ChangeRow, RelationshipIndex
from rebac.store.postgres._listen import RevisionListener
from rebac.store.postgres._mirror import IndexFollower, IndexSettings, IndexStatus
from rebac.store.postgres._read import ReadStatements
from rebac.store.postgres._replicas import ReplicaRouter, ReplicaSettings
from rebac.store.postgres._requests import PostgresAccessRequestMixin
from rebac.store.postgres._schemas import PostgresSchemaMixin
from rebac.store.postgres._shipper import PgDecisionSpool
from rebac.store.postgres._snapshot import load_in_thread
from rebac.store.postgres._sql import relationship_from_row, translate_errors
from rebac.store.postgres._write import PostgresWriteMixin
from rebac.store.postgres.keys import PostgresKeyStore
from rebac.store.postgres.migrate import async_url, is_at_head
from rebac.store.postgres.models import store_meta
from rebac.store.revision import Revision, decode_token, encode_token

__all__ = ["PostgresTupleStore"]

_PAGE: Final = 1000
_HEAD_SQL: Final = "SELECT max(value) FROM revision"
_HEAD_AND_GC_SQL: Final = (
    "SELECT (SELECT max(value) FROM revision), (SELECT gc_revision FROM store_meta WHERE id = 1)"
)
_QUANTIZED_SQL: Final = (
    "SELECT coalesce((SELECT max(value) FROM revision WHERE committed_at <= %(start)s), "
    "(SELECT min(value) FROM revision))"
)
R = TypeVar("R")


_LAG: Final = (
    "SELECT (SELECT max(value) FROM revision), "
    "(SELECT extract(epoch FROM now() - committed_at)::float8 FROM revision "
    "WHERE value > %(applied)s ORDER BY value LIMIT 1)"
)
"""The head, and the age of the oldest revision past ``applied`` (``/metrics``' index lag)."""


class PostgresTupleStore(
    PostgresWriteMixin, PostgresSchemaMixin, PostgresIdentityMixin, PostgresAccessRequestMixin
):
    """A :class:`rebac.store.base.TupleStore` over PostgreSQL. Build it with :meth:`connect`.

    Args:
        engine: An async SQLAlchemy engine on a migrated database.
        store_id: The store's id (from ``store_meta``).
        conninfo: libpq connection string, for the LISTEN connection.
        max_updates_per_write: Largest write call accepted.
        quantization_seconds: Bucket size of ``minimize_latency`` reads; ``0`` reads the head.
        index: Keep an in-memory relationship index with these settings (``None``: no index).
        read_pool_size: Connections of the hot read path (see :mod:`rebac.store.postgres._fast`).
        keys: The API key table this store serves as ``roles.keys`` and closes with itself
            (``None``: the store serves no key role).
        replicas: Read replicas of the database (``None``: every read uses the primary).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        store_id: str,
        conninfo: str,
        max_updates_per_write: int = limits.MAX_UPDATES_PER_WRITE,
        quantization_seconds: float = limits.QUANTIZATION_SECONDS,
        index: IndexSettings | None = None,
        read_pool_size: int = 10,
        keys: PostgresKeyStore | None = None,
        replicas: ReplicaSettings | None = None,
    ) -> None:
        self._engine = engine
        self._url = engine.url.render_as_string(hide_password=False)
        # Reads are single statements: autocommit saves the BEGIN/ROLLBACK round trips per checkout.
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._store_id = store_id
        self._max_updates = max_updates_per_write
        self._quantization = quantization_seconds
        self._conninfo = conninfo
        self._listener = RevisionListener(conninfo)
        self._head_and_oldest = SharedRead(self._read_head_and_oldest)
        self._quantized: tuple[float, float, Revision] | None = None
        """The current bucket's bounds (epoch seconds) and its revision."""
        self._statements = ReadStatements(engine.dialect)
        self._fast = FastReads(conninfo, max_size=read_pool_size)
        self._decisions = PgDecisionLog(self._read, self._write, self._fast.copy_in)
        self._follower: IndexFollower | None = None
        if index is not None:
            self._follower = IndexFollower(
                load_snapshot=self._load_snapshot,
                read_changes=self._changes_through,
                listener=self._listener,
                settings=index,
            )
        self._keys = keys
        self._replicas: ReplicaRouter | None = None
        if replicas is not None and replicas.urls:
            self._replicas = ReplicaRouter(replicas, store_id=store_id, pool_size=read_pool_size)
        self._roles = StoreRoles(decisions=self, identities=self, reviews=self, keys=keys, requests=self)

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        max_updates_per_write: int = limits.MAX_UPDATES_PER_WRITE,
        quantization_seconds: float = limits.QUANTIZATION_SECONDS,
        pool_size: int = 10,
        index: IndexSettings | None = None,
        with_keys: bool = False,
        replicas: ReplicaSettings | None = None,
    ) -> PostgresTupleStore:
        """Open a store on the migrated database at ``url`` (``postgresql[+psycopg]://``).

        With ``index``, the in-memory relationship index starts loading in the background; reads go
        to the database until it has loaded (:meth:`wait_index_loaded`). With ``with_keys``, the
        store also serves the database's API key table as ``roles.keys`` (a
        :class:`PostgresKeyStore` with its own small pool, closed with the store). With
        ``replicas``, reads at a revision go to the replicas that have replayed it.

        Raises:
            InvalidInputError: a replica URL is not a PostgreSQL URL.
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
        store = cls(
            engine,
            store_id=str(store_id),
            conninfo=conninfo,
            max_updates_per_write=max_updates_per_write,
            quantization_seconds=quantization_seconds,
            index=index,
            read_pool_size=pool_size,
            keys=PostgresKeyStore.connect(url) if with_keys else None,
            replicas=replicas,
        )
        try:
            await store._fast.open(wait=True)
            if store._replicas is not None:
                await store._replicas.open()
        except BaseException:
            await store._fast.close()
            await engine.dispose()
            if store._keys is not None:
                await store._keys.close()
            raise
        if store._follower is not None:
            store._follower.start()
        return store

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
        """Every optional role, served by this store; ``keys`` only when opened with a key table."""
        return self._roles

    async def ready(self) -> bool:
        """True once migrated to head, reachable and (with the index on) the index has loaded.

        Before the index has loaded its snapshot every read still works, from the database, just
        slower.

        Raises:
            StoreUnavailableError: the database cannot be reached.
        """
        index = self.index_status()
        if index is not None and not index.loaded:
            return False
        return await asyncio.to_thread(is_at_head, self._url) and (await self.head_revision()) is not None

    async def close(self) -> None:
        """Stop the index, stop listening and close every pooled connection (the key table's too)."""
        if self._keys is not None:
            await self._keys.close()
        if self._follower is not None:
            await self._follower.close()
        await self._listener.close()
        if self._replicas is not None:
            await self._replicas.close()
        await self._fast.close()
        await self._engine.dispose()

    async def _read(self, body: Callable[[AsyncConnection], Awaitable[R]]) -> R:
        """Run ``body`` on an autocommit connection; cancellation-safe (see :mod:`._cancel`)."""
        with translate_errors():
            return await run_on_connection(self._reads.connect, body)

    async def _write(self, body: Callable[[AsyncConnection], Awaitable[R]]) -> R:
        """Run ``body`` in one transaction, committed when it returns; cancellation-safe."""
        with translate_errors():
            return await run_on_connection(self._engine.begin, body)

    # --- revisions ---------------------------------------------------------------------------------

    async def head_revision(self) -> Revision:
        """The newest committed revision."""
        rows = await self._fast.fetch(_HEAD_SQL)
        return Revision(int(rows[0][0]))

    async def _quantized_revision(self) -> Revision:
        """The newest revision committed before the current quantization bucket began.

        Read once per bucket; within it a float comparison serves every request.
        """
        cached = self._quantized
        if cached is not None and cached[0] <= time.time() < cached[1]:
            return cached[2]
        start = quantize(datetime.now(UTC), self._quantization)
        if start is None:
            return await self.head_revision()
        rows = await self._fast.fetch(_QUANTIZED_SQL, {"start": start})
        result = Revision(int(rows[0][0]))
        begins = start.timestamp()
        self._quantized = (begins, begins + self._quantization, result)
        return result

    async def _read_head_and_oldest(self) -> tuple[int, int]:
        rows = await self._fast.fetch(_HEAD_AND_GC_SQL)
        return int(rows[0][0]), int(rows[0][1])

    async def resolve(self, consistency: Consistency) -> Revision:
        """The revision a read with ``consistency`` must use."""
        quantized = await self._quantized_revision()
        if consistency.mode is ConsistencyMode.MINIMIZE_LATENCY:
            return quantized
        if consistency.mode is ConsistencyMode.AT_LEAST_AS_FRESH and consistency.token is not None:
            wanted = decode_token(consistency.token, self._store_id)
            if wanted <= quantized:  # the cached recent revision is fresh enough: no round trip
                return quantized
        head, oldest = await self._head_and_oldest()
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

        Reads in pages of at most 1,000 rows (keyset pagination on the key). Each page is fetched
        whole on a pooled connection that is back in the pool before its first row is yielded, so
        a consumer that stops early, fails or is cancelled between rows holds no connection; a
        cancellation during a fetch returns the connection before it propagates (see
        :mod:`rebac.store.postgres._cancel`).
        """
        validate_filter(flt)
        if self._follower is not None:
            found = await self._follower.select(flt, revision.value)
            if found is not None:
                if after is not None:
                    key = after.key()
                    found = [rel for rel in found if rel.key() > key]
                for rel in found if limit is None else found[:limit]:
                    yield rel
                return
        remaining = limit
        cursor = after.key() if after is not None else None
        while remaining is None or remaining > 0:
            page = _PAGE if remaining is None else min(_PAGE, remaining)
            sql = self._statements.sql(flt, with_cursor=cursor is not None)
            params = self._statements.params(flt, revision=revision.value, page_size=page, cursor=cursor)
            rows = None if self._replicas is None else await self._replicas.fetch(sql, params, revision.value)
            if rows is None:
                rows = await self._fast.fetch(sql, params)
            for row in rows:
                yield relationship_from_row(row)
            if len(rows) < page:
                return
            cursor = tuple(rows[-1][:6])
            if remaining is not None:
                remaining -= len(rows)

    # --- in-memory index ---------------------------------------------------------------------------

    @property
    def replicas(self) -> ReplicaRouter | None:
        """The read-replica router (its states and counters), or ``None`` without replicas."""
        return self._replicas

    def index_status(self) -> IndexStatus | None:
        """The in-memory index's state, or ``None`` when this store keeps none."""
        return None if self._follower is None else self._follower.status()

    def index_report(self) -> dict[str, object] | None:
        """The index's state as JSON members for ``/readyz``, or ``None`` when this store keeps none."""
        status = self.index_status()
        if status is None:
            return None
        return {
            "state": status.state.value,
            "reason": status.reason,
            "since": None if status.since is None else status.since.isoformat(),
            "floor": status.floor,
            "applied": status.applied,
            "rows": status.rows,
        }

    async def index_lag(self) -> tuple[int, float, int] | None:
        """``(revisions, seconds, rows)``: how far the index is behind the head, and its size.

        ``seconds`` is the age of the oldest committed revision the index has not applied (0 when
        it is at the head); ``None`` without an index or before it has loaded.
        """
        status = self.index_status()
        if status is None or not status.loaded:
            return None
        rows = await self._fast.fetch(_LAG, {"applied": status.applied})
        head, oldest_age = rows[0]
        return max(0, int(head or 0) - status.applied), float(oldest_age or 0.0), status.rows

    def pool_stats(self) -> dict[tuple[str, str], int]:
        """Connections by ``(pool, state)``: the hot read pool and SQLAlchemy's (for ``/metrics``)."""
        out = {("reads", state): count for state, count in self._fast.pool_stats().items()}
        if self._replicas is not None:
            out.update(self._replicas.pool_stats())
        pool: Any = self._engine.pool
        if hasattr(pool, "checkedout"):
            out["engine", "in_use"] = int(pool.checkedout())
            out["engine", "idle"] = int(pool.checkedin())
        return out

    async def wait_index_loaded(self, timeout: float) -> bool:
        """Wait until the index has loaded its snapshot; False on timeout or without an index."""
        return self._follower is not None and await self._follower.wait_loaded(timeout)

    async def _load_snapshot(self, index: RelationshipIndex) -> None:
        """Load every row live at one revision into ``index``: from a replica when one can serve it.

        ``COPY`` straight into the index's packed arrays, in a worker thread on a connection of its
        own (see :mod:`rebac.store.postgres._snapshot`); ten million rows load in under a minute.
        A replica that fails (or is not this store's, or is behind the change log's reach) is
        skipped, and the primary loads it.
        """
        if self._replicas is not None:
            _, oldest = await self._head_and_oldest()
            for conninfo in await self._replicas.snapshot_sources(oldest):
                try:
                    await load_in_thread(index, conninfo, replica_of=self._store_id, oldest=oldest)
                except Exception as exc:  # noqa: BLE001 - any replica failure: the primary loads it
                    self._replicas.snapshot_failed(conninfo, exc)
                    index.clear()
                else:
                    return
        await load_in_thread(index, self._conninfo)

    async def _changes_through(
        self, since: int, limit: int, max_revision_rows: int
    ) -> tuple[Sequence[ChangeRow], int, bool, bool]:
        """Change-log rows after ``since``, read from one snapshot (see ``read_changes_through``)."""
        snapshot = self._engine.execution_options(isolation_level="REPEATABLE READ")

        async def body(conn: AsyncConnection) -> tuple[Sequence[Any], int, bool, bool]:
            return await read_changes_through(conn, since, limit, max_revision_rows=max_revision_rows)

        with translate_errors():
            return await run_on_connection(snapshot.begin, body)

    # --- changelog ---------------------------------------------------------------------------------

    async def changes_since(self, revision_: Revision, *, limit: int = 1000) -> list[Change]:
        """Changes after ``revision_`` in revision order; whole revisions only (one may exceed ``limit``)."""
        return collapse(await self._read(lambda conn: read_changes(conn, revision_.value, limit)))

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

    # --- decision log ------------------------------------------------------------------------------

    async def append_decisions(self, batch: Sequence[DecisionRecord]) -> None:
        """Store ``batch`` in one transaction (into daily partitions, see :mod:`._decisions`)."""
        await self._decisions.append(batch)

    def decision_spool(self) -> PgDecisionSpool:
        """The spool format and shipper of the spooling recorder (see :mod:`._shipper`)."""
        return PgDecisionSpool(self._conninfo)

    def decision_writer(self) -> PgDecisionWriter:
        """A blocking COPY writer on its own connection, for the decision recorder's thread."""
        return PgDecisionWriter(self._conninfo)

    async def query_decisions(
        self, flt: DecisionFilter, *, limit: int, after: DecisionKey | None = None
    ) -> list[DecisionRecord]:
        """Records matching ``flt``, newest first, at most ``limit``, strictly after ``after``."""
        return await self._decisions.query(flt, limit=limit, after=after)

    async def drop_decisions_before(self, before: datetime) -> int:
        """Drop the daily partitions that end at or before ``before``; return how many."""
        return await self._decisions.drop_before(before)

"""The write path of the Postgres store: the writer lock, relationship writes, bulk import, gc.

:class:`PostgresWriteMixin` is the ``TupleWriter`` half of
:class:`rebac.store.postgres.PostgresTupleStore`; every write transaction starts with
:meth:`~PostgresWriteMixin._begin_revision` (revision order equals commit order, see
:mod:`rebac.store.postgres.store`). The key statements are batched over ``unnest`` arrays: one
statement per shape whatever the batch size (the keys travel as six text arrays), so psycopg
prepares each of them once per connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from rebac.errors import DuplicateRelationshipError, PreconditionFailedError
from rebac.refs import Relationship
from rebac.store._common import check_schema_version, validate_filter, validate_write
from rebac.store.base import (
    ImportResult,
    Operation,
    Precondition,
    PreconditionKind,
    RelationshipFilter,
    RelationshipUpdate,
    WriteResult,
)
from rebac.store.postgres import _bulk
from rebac.store.postgres._listen import CHANNEL
from rebac.store.postgres._sql import KEY_COLUMNS, filter_conditions, live_now
from rebac.store.postgres.models import LIVE_REVISION, relation_tuple, revision, store_meta
from rebac.store.revision import Revision

__all__ = ["DUPLICATES", "KILL", "PostgresWriteMixin", "insert_params", "key_arrays"]

_T: Final = relation_tuple.c
R = TypeVar("R")

KILL: Final = sa.text(
    """
    UPDATE relation_tuple AS t SET deleted_rev = :rev
    FROM unnest(CAST(:rt AS text[]), CAST(:rid AS text[]), CAST(:rel AS text[]),
                CAST(:st AS text[]), CAST(:sid AS text[]), CAST(:sr AS text[]))
         AS k(rt, rid, rel, st, sid, sr)
    WHERE t.deleted_rev = 9223372036854775807
      AND t.resource_type = k.rt AND t.resource_id = k.rid AND t.relation = k.rel
      AND t.subject_type = k.st AND t.subject_id = k.sid AND t.subject_relation = k.sr
    RETURNING t.resource_type, t.resource_id, t.relation, t.subject_type, t.subject_id, t.subject_relation
    """
)
DUPLICATES: Final = sa.text(
    """
    SELECT t.resource_type, t.resource_id, t.relation, t.subject_type, t.subject_id, t.subject_relation
    FROM relation_tuple AS t
    JOIN unnest(CAST(:rt AS text[]), CAST(:rid AS text[]), CAST(:rel AS text[]),
                CAST(:st AS text[]), CAST(:sid AS text[]), CAST(:sr AS text[]))
         AS k(rt, rid, rel, st, sid, sr)
      ON t.resource_type = k.rt AND t.resource_id = k.rid AND t.relation = k.rel
     AND t.subject_type = k.st AND t.subject_id = k.sid AND t.subject_relation = k.sr
    WHERE t.deleted_rev = 9223372036854775807 AND (t.expires_at IS NULL OR t.expires_at > now())
    LIMIT 1
    """
)


async def _scalar(conn: AsyncConnection, stmt: sa.Executable) -> Any:
    return (await conn.execute(stmt)).scalar_one()


def key_arrays(rels: Sequence[Relationship]) -> dict[str, list[str]]:
    """The keys of ``rels`` as the six parallel arrays the statements above take."""
    keys = [rel.key() for rel in rels]
    return {name: [key[i] for key in keys] for i, name in enumerate(("rt", "rid", "rel", "st", "sid", "sr"))}


def insert_params(rel: Relationship, value: int) -> dict[str, Any]:
    """Column values inserting ``rel`` as live at revision ``value``."""
    caveat = rel.caveat
    return {
        "resource_type": rel.resource.type,
        "resource_id": rel.resource.id,
        "relation": rel.relation,
        "subject_type": rel.subject.type,
        "subject_id": rel.subject.id,
        "subject_relation": rel.subject.relation or "",
        "caveat_name": caveat.name if caveat else None,
        "caveat_context": caveat.context if caveat else None,
        "expires_at": rel.expires_at,
        "created_rev": value,
        "deleted_rev": LIVE_REVISION,
    }


class PostgresWriteMixin:
    """``TupleWriter`` for :class:`rebac.store.postgres.PostgresTupleStore`."""

    _max_updates: int

    async def _read(self, body: Callable[[AsyncConnection], Awaitable[R]]) -> R:  # pragma: no cover
        raise NotImplementedError  # provided by the store class

    async def _write(self, body: Callable[[AsyncConnection], Awaitable[R]]) -> R:  # pragma: no cover
        raise NotImplementedError  # provided by the store class

    def token_for(self, revision: Revision) -> str:  # pragma: no cover
        """The opaque token for ``revision`` (provided by the store class)."""
        raise NotImplementedError

    async def _begin_revision(self, conn: AsyncConnection) -> int:
        """Take the writer lock and assign the next revision (see :mod:`rebac.store.postgres.store`)."""
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
        *,
        schema_version: int | None = None,
    ) -> WriteResult:
        """Apply all updates in one transaction after checking every precondition, or nothing.

        ``schema_version`` is compared under the writer lock (see ``TupleWriter.write``).
        """
        validate_write(updates, preconditions, max_updates=self._max_updates)
        creates = [u.relationship for u in updates if u.operation is Operation.CREATE]
        writes = [u.relationship for u in updates if u.operation is not Operation.DELETE]
        deletes = {u.relationship.key() for u in updates if u.operation is Operation.DELETE}

        async def txn(conn: AsyncConnection) -> tuple[int, Sequence[Any]]:
            value = await self._begin_revision(conn)
            if schema_version is not None:
                current = await _scalar(conn, sa.select(store_meta.c.current_schema))
                check_schema_version(schema_version, int(current or 0))
            await self._check_preconditions(conn, preconditions)
            if creates:
                dup = (await conn.execute(DUPLICATES, key_arrays(creates))).first()
                if dup is not None:
                    text = next(str(rel) for rel in creates if rel.key() == tuple(dup))
                    raise DuplicateRelationshipError(
                        f"the relationship {text} already exists", details={"relationship": text}
                    )
            keys = key_arrays([u.relationship for u in updates])
            killed = (await conn.execute(KILL, {"rev": value, **keys})).all() if updates else []
            if writes:
                await conn.execute(relation_tuple.insert(), [insert_params(rel, value) for rel in writes])
            return value, killed

        value, killed = await self._write(txn)
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
        doomed = sa.select(*KEY_COLUMNS).where(*filter_conditions(flt), *live_now())
        if limit is not None:
            doomed = doomed.order_by(*KEY_COLUMNS).limit(limit)

        async def txn(conn: AsyncConnection) -> tuple[int, int]:
            value = await self._begin_revision(conn)
            await self._check_preconditions(conn, preconditions)
            stmt = (
                relation_tuple.update()
                .where(_T.deleted_rev == LIVE_REVISION, sa.tuple_(*KEY_COLUMNS).in_(doomed))
                .values(deleted_rev=value)
            )
            return value, (await conn.execute(stmt)).rowcount

        return self._result(*await self._write(txn))

    async def bulk_import(
        self, relationships: Iterable[Relationship], *, schema_version: int | None = None
    ) -> ImportResult:
        """Load relationships with create semantics, atomically, via COPY into a staging table.

        ``schema_version`` is compared under the writer lock (see ``TupleWriter.bulk_import``).
        """

        async def txn(conn: AsyncConnection) -> tuple[int, int]:
            value = await self._begin_revision(conn)
            if schema_version is not None:
                current = await _scalar(conn, sa.select(store_meta.c.current_schema))
                check_schema_version(schema_version, int(current or 0))
            return value, await _bulk.copy_in(conn, relationships, value)

        value, loaded = await self._write(txn)
        # Fresh statistics right away (not whenever autovacuum gets to it): without them the
        # planner misjudges the forward/reverse shapes after a large load.
        await self._read(lambda conn: conn.execute(sa.text("ANALYZE relation_tuple")))
        rev = Revision(value)
        return ImportResult(revision=rev, token=self.token_for(rev), loaded=loaded, position=loaded)

    async def gc(self, *, older_than_seconds: float) -> int:
        """Drop rows deleted or expired before the window; older revisions become unreadable."""
        cutoff = sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, older_than_seconds)

        async def txn(conn: AsyncConnection) -> int:
            lock = sa.select(store_meta.c.gc_revision).where(store_meta.c.id == 1).with_for_update()
            oldest = int((await conn.execute(lock)).scalar_one())
            newest_old = sa.select(sa.func.max(revision.c.value)).where(revision.c.committed_at <= cutoff)
            found = (await conn.execute(newest_old)).scalar_one()
            horizon = max(oldest, int(found) if found is not None else 0)
            dead = sa.or_(
                sa.and_(_T.deleted_rev < LIVE_REVISION, _T.deleted_rev <= horizon),
                sa.and_(_T.expires_at.is_not(None), _T.expires_at <= cutoff),
            )
            removed = (await conn.execute(relation_tuple.delete().where(dead))).rowcount
            await conn.execute(revision.delete().where(revision.c.value < horizon))
            await conn.execute(store_meta.update().values(gc_revision=horizon))
            return int(removed)

        return await self._write(txn)

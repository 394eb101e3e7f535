"""The in-memory index's snapshot load: every live row at one revision, from one snapshot.

The load runs on a connection of its own (a server-side cursor inside one REPEATABLE READ,
read-only transaction), fetching raw rows in batches: a million rows load in seconds this way.
It may read a streaming replica (:mod:`rebac.store.postgres._replicas`): a replica's snapshot is
the primary's at the replica's head, and the index then follows the primary's change log from
there, so the replica's head must be one the change log still reaches (``oldest``).
"""

from __future__ import annotations

from typing import Final

import psycopg

from rebac.errors import StoreError
from rebac.store.postgres._index import RelationshipIndex
from rebac.store.postgres._replicas import STORE_HEAD_SQL
from rebac.store.postgres._sql import translate_errors

__all__ = ["load_snapshot"]

_BATCH: Final = 5_000
"""Rows per snapshot fetch: each batch is indexed without yielding, so it bounds the loop stall."""
_HEAD_SQL: Final = "SELECT max(value) FROM revision"
_SNAPSHOT_SQL: Final = (
    "SELECT resource_type, resource_id, relation, subject_type, subject_id, subject_relation, "
    "caveat_name, caveat_context, expires_at, created_rev FROM relation_tuple "
    "WHERE created_rev <= %(head)s AND deleted_rev > %(head)s "
    "AND (expires_at IS NULL OR expires_at > now())"
)


async def load_snapshot(
    index: RelationshipIndex, conninfo: str, *, replica_of: str | None = None, oldest: int = 0
) -> None:
    """Stream every row live (and unexpired) at the head of ``conninfo`` into ``index``.

    Args:
        index: An empty index; finished at the snapshot's revision.
        conninfo: libpq connection string of the primary or of a replica.
        replica_of: For a replica, the store id its database must hold.
        oldest: For a replica, the lowest head accepted (the primary's GC horizon).

    Raises:
        StoreUnavailableError: the database cannot be reached.
        StoreError: any other failure, or a replica that is not this store's or is too far
            behind (``index`` may then hold some rows: clear it before loading again).
    """
    with translate_errors():
        conn = await psycopg.AsyncConnection.connect(conninfo, connect_timeout=5)
        try:
            await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
            await conn.set_read_only(True)
            async with conn.transaction():
                if replica_of is None:
                    head_row = await (await conn.execute(_HEAD_SQL)).fetchone()
                else:
                    cur = await conn.execute(STORE_HEAD_SQL, {"rebac_store": replica_of})
                    head_row = await cur.fetchone()
                    if head_row is None or head_row[0] is None or int(head_row[0]) < oldest:
                        raise StoreError("the read replica does not hold this store at a recent revision")
                head = int(head_row[0]) if head_row is not None and head_row[0] is not None else 0
                async with conn.cursor(name="rebac_index_snapshot") as cur:
                    await cur.execute(_SNAPSHOT_SQL, {"head": head})
                    while rows := await cur.fetchmany(_BATCH):
                        index.add_snapshot_rows(rows)
        finally:
            await conn.close()
    index.finish_load(head)

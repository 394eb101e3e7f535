"""Loading the relationship index's snapshot: ``COPY ... TO STDOUT`` straight into packed arrays.

One REPEATABLE READ, read-only transaction on a connection of its own gives one snapshot for both
statements: the head revision, then every row live (and unexpired) at it. The plain rows (no
caveat, no expiration: nearly all of them) come as ``COPY`` text of the six key columns, handed
to the builder in blocks of whole lines; the few rows with a caveat or an expiration are read
with a normal query, so their JSON and timestamps are parsed by the driver.

:func:`load_snapshot` is blocking: the store runs it in a worker thread, so the event loop keeps
serving while ten million rows load (it shares the interpreter, so requests slow down a little
meanwhile, instead of stalling for whole batches). ``stop`` ends it early (the store is closing).

It may read a streaming replica (:mod:`rebac.store.postgres._replicas`): a replica's snapshot is
the primary's at the replica's head, and the index then follows the primary's change log from
there, so the replica's head must be one the change log still reaches (``oldest``).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Final

import psycopg
from psycopg import sql

from rebac.errors import StoreError
from rebac.refs import CaveatRef
from rebac.store.postgres._index import RelationshipIndex
from rebac.store.postgres._replicas import STORE_HEAD_SQL
from rebac.store.postgres._sql import translate_errors

__all__ = ["SnapshotCancelledError", "load_in_thread", "load_snapshot"]

_HEAD: Final = "SELECT max(value) FROM revision"
_PLAIN: Final = (
    "COPY (SELECT resource_type, resource_id, relation, subject_type, subject_id, subject_relation "
    "FROM relation_tuple WHERE created_rev <= {head} AND deleted_rev > {head} "
    "AND caveat_name IS NULL AND expires_at IS NULL) TO STDOUT"
)
_SPARSE: Final = (
    "SELECT resource_type, resource_id, relation, subject_type, subject_id, subject_relation, "
    "caveat_name, caveat_context, expires_at FROM relation_tuple "
    "WHERE created_rev <= {head} AND deleted_rev > {head} "
    "AND (caveat_name IS NOT NULL OR expires_at IS NOT NULL) AND (expires_at IS NULL OR expires_at > now())"
)
_BLOCK_BYTES: Final = 1 << 20
"""COPY data handed to the builder at a time (whole lines)."""


class SnapshotCancelledError(Exception):
    """The load was stopped before it finished (the index is left unloaded)."""


def load_snapshot(
    conninfo: str,
    index: RelationshipIndex,
    stop: threading.Event,
    *,
    replica_of: str | None = None,
    oldest: int = 0,
) -> int:
    """Load every row live at the head into the empty ``index`` and finish it; returns the head.

    Args:
        conninfo: libpq connection string of the primary or of a replica.
        index: An empty index; finished at the snapshot's revision.
        stop: Set to end the load early.
        replica_of: For a replica, the store id its database must hold.
        oldest: For a replica, the lowest head accepted (the primary's GC horizon).

    Raises:
        psycopg.Error: the database failed (the caller translates it).
        StoreError: a replica that is not this store's or is too far behind (``index`` may then
            hold some rows: clear it before loading again).
        SnapshotCancelledError: ``stop`` was set.
    """
    builder = index.builder()
    with psycopg.connect(conninfo, connect_timeout=5) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction(), conn.cursor() as cur:
            if replica_of is None:
                row = cur.execute(_HEAD).fetchone()
            else:
                row = cur.execute(STORE_HEAD_SQL, {"rebac_store": replica_of}).fetchone()
                if row is None or row[0] is None or int(row[0]) < oldest:
                    raise StoreError("the read replica does not hold this store at a recent revision")
            head = int(row[0]) if row is not None and row[0] is not None else 0
            literal = sql.Literal(head)
            pending: list[bytes] = []
            size = 0
            with cur.copy(sql.SQL(_PLAIN).format(head=literal)) as copy:
                for data in copy:
                    pending.append(bytes(data))
                    size += len(data)
                    if size >= _BLOCK_BYTES:
                        if stop.is_set():
                            raise SnapshotCancelledError
                        builder.add_copy_text(b"".join(pending))
                        pending, size = [], 0
            builder.add_copy_text(b"".join(pending))
            for key_and_rest in cur.execute(sql.SQL(_SPARSE).format(head=literal)):
                caveat_name, context, expires_at = key_and_rest[6:9]
                caveat = CaveatRef(caveat_name, context or {}) if caveat_name else None
                builder.add(key_and_rest[:6], caveat, expires_at)
    if stop.is_set():
        raise SnapshotCancelledError
    index.finish_load(head)
    return head


async def load_in_thread(
    index: RelationshipIndex, conninfo: str, *, replica_of: str | None = None, oldest: int = 0
) -> None:
    """:func:`load_snapshot` in a worker thread, its errors translated; cancelling it stops the load."""
    stop = threading.Event()
    try:
        with translate_errors():
            await asyncio.to_thread(
                load_snapshot, conninfo, index, stop, replica_of=replica_of, oldest=oldest
            )
    finally:
        stop.set()  # cancelled while the thread runs: it stops at its next block

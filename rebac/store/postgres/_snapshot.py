"""Loading the relationship index's snapshot: ``COPY ... TO STDOUT`` straight into packed arrays.

One REPEATABLE READ, read-only transaction on a connection of its own gives one snapshot for both
statements: the head revision, then every row live (and unexpired) at it. The plain rows (no
caveat, no expiration: nearly all of them) come as ``COPY`` text of the six key columns, handed
to the builder in blocks of whole lines; the few rows with a caveat or an expiration are read
with a normal query, so their JSON and timestamps are parsed by the driver.

:func:`load_snapshot` is blocking: the store runs it in a worker thread, so the event loop keeps
serving while ten million rows load (it shares the interpreter, so requests slow down a little
meanwhile, instead of stalling for whole batches). ``stop`` ends it early (the store is closing).
"""

from __future__ import annotations

import threading
from typing import Final

import psycopg
from psycopg import sql

from rebac.refs import CaveatRef
from rebac.store.postgres._index import RelationshipIndex

__all__ = ["SnapshotCancelledError", "load_snapshot"]

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


def load_snapshot(conninfo: str, index: RelationshipIndex, stop: threading.Event) -> int:
    """Load every row live at the head into the empty ``index`` and finish it; returns the head.

    Raises:
        psycopg.Error: the database failed (the caller translates it).
        SnapshotCancelledError: ``stop`` was set.
    """
    builder = index.builder()
    with psycopg.connect(conninfo, connect_timeout=5) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction(), conn.cursor() as cur:
            row = cur.execute(_HEAD).fetchone()
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

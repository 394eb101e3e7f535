"""The PostgreSQL engine: :class:`PostgresTupleStore` and its key table, :class:`PostgresKeyStore`.

The engine's machinery is in private modules (``_read``, ``_write``, ``_mirror``, ...). The public
modules besides this one are Postgres-only too: ``models`` (the tables, for Alembic), ``migrate``
(running the migrations), ``embedded`` (the pgserver default) and ``keys``.
"""

from __future__ import annotations

from rebac.store.postgres._mirror import IndexSettings, IndexState, IndexStatus
from rebac.store.postgres._replicas import ReplicaSettings
from rebac.store.postgres.keys import PostgresKeyStore
from rebac.store.postgres.store import PostgresTupleStore

__all__ = [
    "IndexSettings",
    "IndexState",
    "IndexStatus",
    "PostgresKeyStore",
    "PostgresTupleStore",
    "ReplicaSettings",
]

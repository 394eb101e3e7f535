"""Bulk import over COPY: stream rows into a staging table, then one INSERT .. SELECT.

Everything runs inside the caller's write transaction, so an import is atomic: any bad row, any
duplicate (of a live relationship or inside the input) rolls the whole import back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import sqlalchemy as sa
from psycopg import errors as pg_errors
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from rebac.errors import DuplicateRelationshipError
from rebac.refs import Relationship
from rebac.store._common import check_context_size
from rebac.store.postgres._sql import row_values

__all__ = ["copy_in"]

_COLUMNS: Final = (
    "resource_type, resource_id, relation, subject_type, subject_id, subject_relation, "
    "caveat_name, caveat_context, expires_at"
)
_STAGING: Final = sa.text(
    """
    CREATE TEMP TABLE rebac_import (
        resource_type text COLLATE "C" NOT NULL, resource_id text COLLATE "C" NOT NULL,
        relation text COLLATE "C" NOT NULL, subject_type text COLLATE "C" NOT NULL,
        subject_id text COLLATE "C" NOT NULL, subject_relation text COLLATE "C" NOT NULL,
        caveat_name text, caveat_context jsonb, expires_at timestamptz
    ) ON COMMIT DROP
    """
)
_HAS_EXPIRED_LIVE: Final = sa.text(
    "SELECT EXISTS (SELECT 1 FROM relation_tuple WHERE expires_at <= now() "
    "AND deleted_rev = 9223372036854775807)"
)
_RETIRE_EXPIRED: Final = sa.text(
    """
    UPDATE relation_tuple AS t SET deleted_rev = :rev FROM rebac_import AS s
    WHERE t.deleted_rev = 9223372036854775807 AND t.expires_at <= now()
      AND t.resource_type = s.resource_type AND t.resource_id = s.resource_id
      AND t.relation = s.relation AND t.subject_type = s.subject_type
      AND t.subject_id = s.subject_id AND t.subject_relation = s.subject_relation
    """
)
_INSERT: Final = sa.text(
    f"INSERT INTO relation_tuple ({_COLUMNS}, created_rev) SELECT {_COLUMNS}, :rev FROM rebac_import "  # noqa: S608 - constant column list
    # Key order makes the primary-key and live-key btree inserts append-mostly (measured faster).
    "ORDER BY resource_type, resource_id, relation, subject_type, subject_id, subject_relation"
)


async def copy_in(conn: AsyncConnection, relationships: Iterable[Relationship], revision: int) -> int:
    """COPY ``relationships`` in at ``revision`` inside the open transaction on ``conn``.

    Returns:
        How many relationships were loaded.

    Raises:
        DuplicateRelationshipError: a relationship exists live (unexpired) or appears twice.
    """
    await conn.execute(_STAGING)
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:  # pragma: no cover - a pooled connection always has its driver connection
        raise RuntimeError("no driver connection")
    count = 0
    async with driver.cursor() as cur, cur.copy(f"COPY rebac_import ({_COLUMNS}) FROM STDIN") as copy:
        for rel in relationships:
            check_context_size(rel)
            await copy.write_row(row_values(rel))
            count += 1
    if (await conn.execute(_HAS_EXPIRED_LIVE)).scalar_one():
        await conn.execute(_RETIRE_EXPIRED, {"rev": revision})
    try:
        await conn.execute(_INSERT, {"rev": revision})
    except sa_exc.IntegrityError as exc:
        if isinstance(exc.orig, pg_errors.UniqueViolation):
            raise DuplicateRelationshipError(
                "an imported relationship already exists or appears twice in the input",
                details={"detail": getattr(exc.orig.diag, "message_detail", None) or ""},
            ) from exc
        raise
    return count

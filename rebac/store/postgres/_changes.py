"""Change-log reads and schema-version rows of the Postgres store.

The change log is derived from ``relation_tuple``: a row's creation is a TOUCH at ``created_rev``,
its soft deletion a DELETE at ``deleted_rev``. A TOUCH that replaced a live row shows up as both at
one revision; :func:`collapse` keeps only the TOUCH, as the memory engine records it.

The functions taking a connection run inside the store's cancellation-safe connection blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from rebac.errors import RevisionUnavailableError
from rebac.store._common import check_schema_version, schema_hash
from rebac.store.base import Change, Operation, SchemaVersion
from rebac.store.postgres._sql import KEY_COLUMNS, ROW_COLUMNS, relationship_from_row
from rebac.store.postgres.models import LIVE_REVISION, relation_tuple, revision, schema_version, store_meta
from rebac.store.revision import Revision

__all__ = [
    "changes_stmt",
    "collapse",
    "insert_schema_version",
    "read_changes",
    "read_changes_through",
    "schema_from_row",
]

_T: Final = relation_tuple.c


def changes_stmt(since: int, only: int | None, limit: int | None) -> sa.Select[Any]:
    """Changes after ``since`` (or exactly at revision ``only``), in revision then key order."""

    def side(rev_col: sa.ColumnElement[int], op: str, *where: sa.ColumnElement[bool]) -> sa.Select[Any]:
        rev_where = rev_col > since if only is None else rev_col == only
        return sa.select(rev_col.label("rev"), sa.literal(op).label("op"), *ROW_COLUMNS).where(
            rev_where, *where
        )

    union = sa.union_all(
        side(_T.created_rev, Operation.TOUCH.value),
        side(_T.deleted_rev, Operation.DELETE.value, _T.deleted_rev < LIVE_REVISION),
    ).subquery("c")
    stmt = (
        sa.select(union, revision.c.committed_at)
        .join(revision, revision.c.value == union.c.rev)
        .order_by(union.c.rev, *[union.c[col.name] for col in KEY_COLUMNS], union.c.op.desc())
    )
    return stmt if limit is None else stmt.limit(limit)


async def read_changes(conn: AsyncConnection, since: int, limit: int) -> Sequence[Any]:
    """Change rows after revision ``since``, whole revisions only.

    At most ``limit`` rows, unless the first revision alone has more (then all of that one).

    Raises:
        RevisionUnavailableError: revisions after ``since`` were garbage-collected.
    """
    rows, _through, _complete, _too_large = await read_changes_through(conn, since, limit)
    return rows


async def read_changes_through(
    conn: AsyncConnection, since: int, limit: int, *, max_revision_rows: int | None = None
) -> tuple[Sequence[Any], int, bool, bool]:
    """Change rows after ``since``: ``(rows, through, complete, too_large)``.

    ``through`` is the revision the rows are complete through and ``complete`` whether that is the
    head. Run in a REPEATABLE READ transaction so the head and the changes come from one snapshot:
    when nothing was cut, every change up to the head is in the rows. When the rows were cut at
    ``limit`` (whole revisions only), they are complete through the
    revision before the first one left out. A first revision with more than ``limit`` rows is
    returned whole, unless it has more than ``max_revision_rows`` (``None``: no cap): then no rows
    come back and ``too_large`` is true (a follower reloads a snapshot instead of holding them all
    at once).

    Raises:
        RevisionUnavailableError: revisions after ``since`` were garbage-collected.
    """
    oldest = int((await conn.execute(sa.select(store_meta.c.gc_revision))).scalar_one())
    if since < oldest:
        raise RevisionUnavailableError(f"changes since revision {since} were garbage-collected")
    head = int((await conn.execute(sa.select(sa.func.max(revision.c.value)))).scalar_one())
    rows: Sequence[Any] = (await conn.execute(changes_stmt(since, None, limit + 1))).all()
    if len(rows) <= limit:
        return rows, head, True, False
    first_left_out = int(rows[limit][0])
    kept = [row for row in rows[:limit] if row[0] < first_left_out]
    if kept:
        return kept, first_left_out - 1, False, False
    if max_revision_rows is not None:
        size = sa.select(sa.func.count()).select_from(changes_stmt(since, first_left_out, None).subquery())
        if int((await conn.execute(size)).scalar_one()) > max_revision_rows:
            return [], since, False, True
    whole = (await conn.execute(changes_stmt(since, first_left_out, None))).all()
    return whole, first_left_out, first_left_out == head, False


async def insert_schema_version(
    conn: AsyncConnection, text: str, *, author: str, expected_version: int | None, revision: int
) -> SchemaVersion:
    """Store ``text`` as the next version and make it current, in the caller's write transaction.

    Raises:
        SchemaVersionConflictError: ``expected_version`` is given and is not current.
    """
    if expected_version is not None:
        current = (await conn.execute(sa.select(store_meta.c.current_schema))).scalar_one()
        check_schema_version(expected_version, int(current or 0))
    next_number = sa.select(sa.func.coalesce(sa.func.max(schema_version.c.version), 0) + 1)
    number = (await conn.execute(next_number)).scalar_one()
    insert = (
        schema_version.insert()
        .values(
            version=number,
            text=text,
            hash=schema_hash(text),
            author=author,
            created_at=sa.func.clock_timestamp(),
            revision=revision,
        )
        .returning(*schema_version.c)
    )
    row = (await conn.execute(insert)).one()
    await conn.execute(store_meta.update().values(current_schema=number))
    return schema_from_row(row)


def collapse(rows: Sequence[Any]) -> list[Change]:
    """Rows to changes; a DELETE and a TOUCH of one key at one revision (a touch) become the TOUCH."""
    touched = {(row[0], tuple(row[2:8])) for row in rows if row[1] == Operation.TOUCH.value}
    changes: list[Change] = []
    for row in rows:
        op = Operation(row[1])
        if op is Operation.DELETE and (row[0], tuple(row[2:8])) in touched:
            continue
        changes.append(Change(Revision(int(row[0])), op, relationship_from_row(row[2:11]), row[11]))
    return changes


def schema_from_row(row: Any) -> SchemaVersion:
    """A ``SchemaVersion`` from a ``schema_version`` row."""
    mapping = row._mapping  # noqa: SLF001 - SQLAlchemy's public Row mapping accessor
    return SchemaVersion(
        version=int(mapping["version"]),
        text=str(mapping["text"]),
        hash=str(mapping["hash"]),
        author=str(mapping["author"]),
        created_at=mapping["created_at"],
        revision=Revision(int(mapping["revision"])),
    )

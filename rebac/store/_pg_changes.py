"""Change-log and schema-version row handling of the Postgres store.

The change log is derived from ``relation_tuple``: a row's creation is a TOUCH at ``created_rev``,
its soft deletion a DELETE at ``deleted_rev``. A TOUCH that replaced a live row shows up as both at
one revision; :func:`collapse` keeps only the TOUCH, as the memory engine records it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa

from rebac.store._pg_sql import KEY_COLUMNS, ROW_COLUMNS, relationship_from_row
from rebac.store.base import Change, Operation, SchemaVersion
from rebac.store.models import LIVE_REVISION, relation_tuple, revision
from rebac.store.revision import Revision

__all__ = ["changes_stmt", "collapse", "schema_from_row"]

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

"""Identity-inventory reads and review rows of the Postgres store (a mixin of the store class).

Every statement runs through the store's cancellation-safe ``_read`` / ``_write`` helpers (see
:mod:`rebac.store.postgres._cancel`). Shapes:

* ``object_ids`` -- distinct ids of one type named by live rows: the forward key
  (``resource_type, resource_id``) merged with the reverse index (``subject_type, subject_id``),
  both scanned in id order from ``after``, so a page costs about ``limit`` index entries per side.
* ``query_versions`` -- the filter shapes of ``query`` plus ``created_rev`` and its commit time.
* reviews -- ``ix_identity_review_subject_type_subject_id_id`` (newest review per subject).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from rebac.refs import SubjectRef
from rebac.store._common import validate_filter
from rebac.store.base import RelationshipFilter, RelationshipVersion, Review
from rebac.store.postgres._sql import (
    KEY_COLUMNS,
    ROW_COLUMNS,
    filter_conditions,
    relationship_from_row,
    visible_at,
)
from rebac.store.postgres.models import identity_review, relation_tuple
from rebac.store.postgres.models import revision as revision_table
from rebac.store.revision import Revision

__all__ = ["PostgresIdentityMixin", "latest_reviews_stmt", "object_ids_stmt"]

_T: Final = relation_tuple.c
_R: Final = identity_review.c
R = TypeVar("R")


def object_ids_stmt(object_type: str, rev: int, after: str | None, limit: int) -> sa.Select[Any]:
    """Distinct ids of ``object_type`` named by rows live at ``rev``, after ``after``, sorted.

    Each side is a distinct, ordered, limited scan of its index (the forward key for resources,
    the reverse index for subjects), so a page reads about ``limit`` ids per side, not the type.
    """
    type_param = sa.bindparam("object_type", object_type, type_=sa.Text())
    limit_param = sa.bindparam("page", limit, type_=sa.Integer())
    resources = sa.select(_T.resource_id.label("id")).where(_T.resource_type == type_param, *visible_at(rev))
    subjects = sa.select(_T.subject_id.label("id")).where(
        _T.subject_type == type_param, _T.subject_relation == "", _T.subject_id != "*", *visible_at(rev)
    )
    if after is not None:
        after_param = sa.bindparam("after", after, type_=sa.Text())
        resources = resources.where(_T.resource_id > after_param)
        subjects = subjects.where(_T.subject_id > after_param)
    resources = resources.distinct().order_by(_T.resource_id).limit(limit_param)
    subjects = subjects.distinct().order_by(_T.subject_id).limit(limit_param)
    ids = sa.union(resources.subquery("r").select(), subjects.subquery("s").select()).subquery("ids")
    return sa.select(ids.c.id).order_by(ids.c.id).limit(limit_param)


def latest_reviews_stmt(subject_type: str, subject_ids: Sequence[str]) -> sa.Select[Any]:
    """The newest review of each listed identity (``DISTINCT ON`` over the subject index)."""
    return (
        sa.select(*identity_review.c)
        .ext(postgresql.distinct_on(_R.subject_id))
        .where(
            _R.subject_type == subject_type,
            _R.subject_id
            == sa.any_(sa.bindparam("ids", list(subject_ids), type_=postgresql.ARRAY(sa.Text()))),
        )
        .order_by(_R.subject_id, _R.id.desc())
    )


def _review_from_row(row: Any) -> Review:
    return Review(
        subject=SubjectRef(row.subject_type, row.subject_id),
        reviewer=row.reviewer,
        revision=Revision(int(row.revision)),
        reviewed_at=row.reviewed_at,
        note=row.note,
        fingerprint=row.fingerprint,
        grants=tuple(row.grants),
        review_id=int(row.id),
    )


async def _rows(conn: AsyncConnection, stmt: sa.Executable) -> Sequence[Any]:
    return (await conn.execute(stmt)).all()


class PostgresIdentityMixin:
    """``IdentityReader`` and ``ReviewStore`` for :class:`rebac.store.postgres.PostgresTupleStore`."""

    async def _read(self, body: Callable[[AsyncConnection], Awaitable[R]]) -> R:  # pragma: no cover
        raise NotImplementedError  # provided by the store class

    async def _write(self, body: Callable[[AsyncConnection], Awaitable[R]]) -> R:  # pragma: no cover
        raise NotImplementedError  # provided by the store class

    async def object_ids(
        self, object_type: str, *, revision: Revision, after: str | None = None, limit: int
    ) -> list[str]:
        """Ids of ``object_type`` named by a live relationship, sorted, after ``after``."""
        stmt = object_ids_stmt(object_type, revision.value, after, limit)
        return [str(row[0]) for row in await self._read(lambda conn: _rows(conn, stmt))]

    async def query_versions(
        self, flt: RelationshipFilter, *, revision: Revision, limit: int | None = None
    ) -> list[RelationshipVersion]:
        """Live relationships matching ``flt`` at ``revision`` (key order), with their provenance."""
        validate_filter(flt)
        stmt = (
            sa.select(*ROW_COLUMNS, _T.created_rev, revision_table.c.committed_at)
            .select_from(relation_tuple.outerjoin(revision_table, revision_table.c.value == _T.created_rev))
            .where(*filter_conditions(flt), *visible_at(revision.value))
            .order_by(*KEY_COLUMNS)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = await self._read(lambda conn: _rows(conn, stmt))
        return [
            RelationshipVersion(relationship_from_row(row), Revision(int(row[9])), row[10]) for row in rows
        ]

    async def add_review(self, review: Review) -> Review:
        """Store ``review``; return it with its assigned id."""
        stmt = (
            identity_review.insert()
            .values(
                subject_type=review.subject.type,
                subject_id=review.subject.id,
                reviewer=review.reviewer,
                revision=review.revision.value,
                reviewed_at=review.reviewed_at,
                note=review.note,
                fingerprint=review.fingerprint,
                grants=list(review.grants),
            )
            .returning(*identity_review.c)
        )

        async def txn(conn: AsyncConnection) -> Review:
            return _review_from_row((await conn.execute(stmt)).one())

        return await self._write(txn)

    async def latest_reviews(self, subject_type: str, subject_ids: Sequence[str]) -> dict[str, Review]:
        """The newest review of each listed identity that has one."""
        if not subject_ids:
            return {}
        stmt = latest_reviews_stmt(subject_type, subject_ids)
        rows = await self._read(lambda conn: _rows(conn, stmt))
        return {row.subject_id: _review_from_row(row) for row in rows}

    async def list_reviews(
        self, *, subject: SubjectRef | None = None, before_id: int | None = None, limit: int
    ) -> list[Review]:
        """Reviews newest first, optionally of one subject, with ``review_id < before_id``."""
        stmt = sa.select(*identity_review.c).order_by(_R.id.desc()).limit(limit)
        if subject is not None:
            stmt = stmt.where(_R.subject_type == subject.type, _R.subject_id == subject.id)
        if before_id is not None:
            stmt = stmt.where(_R.id < before_id)
        return [_review_from_row(row) for row in await self._read(lambda conn: _rows(conn, stmt))]

"""Schema versions in PostgreSQL: the ``schema_version`` table and ``store_meta.current_schema``.

:class:`PostgresSchemaMixin` is the :class:`rebac.store.base.SchemaStore` half of
:class:`rebac.store.postgres.PostgresTupleStore`. A schema write takes the writer lock like a
relationship write (:meth:`_begin_revision`), so versions and relationships share one order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from rebac.errors import SchemaVersionNotFoundError
from rebac.store.base import SchemaVersion
from rebac.store.postgres._changes import insert_schema_version, schema_from_row
from rebac.store.postgres.models import schema_version, store_meta

__all__ = ["PostgresSchemaMixin"]

R = TypeVar("R")
_MAX_VERSION: Final = 2**31 - 1
"""Largest value of ``schema_version.version`` (a Postgres ``integer``)."""


async def _first(conn: AsyncConnection, stmt: sa.Executable) -> sa.Row[Any] | None:
    return (await conn.execute(stmt)).first()


async def _all(conn: AsyncConnection, stmt: sa.Executable) -> list[sa.Row[Any]]:
    return list((await conn.execute(stmt)).all())


class PostgresSchemaMixin:
    """``SchemaStore`` for :class:`rebac.store.postgres.PostgresTupleStore`."""

    async def _read(self, body: Callable[[AsyncConnection], Awaitable[R]]) -> R:  # pragma: no cover
        raise NotImplementedError  # provided by the store class

    async def _write(self, body: Callable[[AsyncConnection], Awaitable[R]]) -> R:  # pragma: no cover
        raise NotImplementedError  # provided by the store class

    async def _begin_revision(self, conn: AsyncConnection) -> int:  # pragma: no cover
        raise NotImplementedError  # provided by the write mixin

    async def write_schema(
        self,
        text: str,
        *,
        author: str,
        expected_version: int | None = None,
        verify: Callable[[], Awaitable[None]] | None = None,
    ) -> SchemaVersion:
        """Store ``text`` as a new immutable version and make it current, in one transaction.

        The compare-and-set on ``expected_version`` runs under the writer lock, so two concurrent
        schema writes expecting the same version cannot both commit. ``verify`` runs under that
        lock too, before the version is stored (it reads on connections of its own: the head it
        sees cannot move until this transaction ends).

        Raises:
            SchemaVersionConflictError: ``expected_version`` is given and is not current.
        """

        async def txn(conn: AsyncConnection) -> SchemaVersion:
            value = await self._begin_revision(conn)
            if verify is not None:
                await verify()
            return await insert_schema_version(
                conn, text, author=author, expected_version=expected_version, revision=value
            )

        return await self._write(txn)

    async def current_schema(self) -> SchemaVersion | None:
        """The current version, or ``None`` before the first write."""
        stmt = sa.select(*schema_version.c).join(
            store_meta, store_meta.c.current_schema == schema_version.c.version
        )
        row = await self._read(lambda conn: _first(conn, stmt))
        return None if row is None else schema_from_row(row)

    async def schema_version(self, version: int) -> SchemaVersion:
        """One version; raises ``SchemaVersionNotFoundError``."""
        if not 1 <= version <= _MAX_VERSION:  # outside the integer column: there is no such row
            raise SchemaVersionNotFoundError(f"schema version {version} does not exist")
        stmt = sa.select(*schema_version.c).where(schema_version.c.version == version)
        row = await self._read(lambda conn: _first(conn, stmt))
        if row is None:
            raise SchemaVersionNotFoundError(f"schema version {version} does not exist")
        return schema_from_row(row)

    async def schema_history(self) -> list[SchemaVersion]:
        """Every version, oldest first."""
        stmt = sa.select(*schema_version.c).order_by(schema_version.c.version)
        return [schema_from_row(row) for row in await self._read(lambda conn: _all(conn, stmt))]

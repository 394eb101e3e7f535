"""The hot read path's own connections: prepared single statements on a psycopg pool.

A check's database work is a handful of one-statement reads (the head revision, the quantized
revision, relationship pages when the in-memory index cannot answer). Through SQLAlchemy's async
engine each costs a greenlet switch, pool events and result wrapping: about half a millisecond of
CPU, more than the query itself. These reads therefore run on a small ``psycopg_pool`` pool of
autocommit connections, each statement prepared once per connection (``prepare=True``); writes,
schema and admin reads keep using SQLAlchemy.

Cancellation: every read runs through :func:`rebac.store._pg_cancel.run_on_connection`, as the
SQLAlchemy reads do, so a caller cancelled (even twice) while it waits cancels the query once and
the connection goes back to the pool clean.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from rebac.store._pg_cancel import run_on_connection
from rebac.store._pg_sql import translate_errors

__all__ = ["FastReads"]


async def _configure(conn: AsyncConnection[Any]) -> None:
    await conn.set_autocommit(True)


class FastReads:
    """A pool of autocommit connections for prepared one-statement reads.

    Args:
        conninfo: libpq connection string.
        max_size: Most connections held.
    """

    def __init__(self, conninfo: str, *, max_size: int) -> None:
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=max(1, max_size),
            kwargs={"connect_timeout": 5},
            configure=_configure,
            timeout=10.0,
            open=False,
            name="rebac-reads",
        )

    async def open(self) -> None:
        """Open the pool (connections are made in the background)."""
        with translate_errors():
            await self._pool.open(wait=False)

    async def close(self) -> None:
        """Close every connection."""
        await self._pool.close()

    async def fetch(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one prepared statement and return all of its rows.

        Raises:
            StoreUnavailableError: no connection could be had, or the database went away.
            StoreError: any other database failure.
        """

        async def body(conn: AsyncConnection[Any]) -> list[tuple[Any, ...]]:
            cur = await conn.execute(sql, params, prepare=True)
            rows: list[tuple[Any, ...]] = await cur.fetchall()
            return rows

        with translate_errors():
            return await run_on_connection(self._pool.connection, body)

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

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from rebac.store._pg_cancel import run_on_connection
from rebac.store._pg_sql import translate_errors

__all__ = ["FastReads", "SharedRead"]

T = TypeVar("T")


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


class SharedRead(Generic[T]):
    """Coalesces concurrent calls of one read into one round trip, without serving stale answers.

    Every caller gets the result of a read *issued after it called*: callers queue on the next
    round; the round's task takes the queue when it starts and only then sends the read, so
    whatever was committed before any of them called is in the answer. Callers arriving while a
    round is in flight wait for the following round. Under load (a fully consistent check needs
    the head revision) this turns one query per request into one per round.

    Args:
        read: The read to share.
    """

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._waiters: list[asyncio.Future[T]] | None = None
        self._rounds: set[asyncio.Task[None]] = set()

    async def __call__(self) -> T:
        """The result of a read sent after this call."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._waiters is None:
            self._waiters = []
            task = loop.create_task(self._round())
            self._rounds.add(task)
            task.add_done_callback(self._rounds.discard)
        self._waiters.append(future)
        return await future

    async def _round(self) -> None:
        waiters, self._waiters = self._waiters or [], None
        try:
            result = await self._read()
        except BaseException as exc:  # every waiter gets the failure, whatever it is
            for future in waiters:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for future in waiters:
                if not future.done():
                    future.set_result(result)

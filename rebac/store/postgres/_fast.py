"""The hot read path's own connections: prepared single statements on a psycopg pool.

A check's database work is a handful of one-statement reads (the head revision, the quantized
revision, relationship pages when the in-memory index cannot answer). Through SQLAlchemy's async
engine each costs a greenlet switch, pool events and result wrapping: about half a millisecond of
CPU, more than the query itself. These reads therefore run on a small ``psycopg_pool`` pool of
autocommit connections, each statement prepared once per connection (``prepare=True``); writes,
schema and admin reads keep using SQLAlchemy.

Cancellation: every read runs through :func:`rebac.store.postgres._cancel.run_on_connection`, as the
SQLAlchemy reads do, so a caller cancelled (even twice) while it waits cancels the query once and
the connection goes back to the pool clean.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any, Final, Generic, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from rebac import limits
from rebac.store.postgres._cancel import run_on_connection
from rebac.store.postgres._sql import translate_errors

__all__ = ["FastReads", "SharedRead"]

T = TypeVar("T")

_CONNECTION_WAIT_SECONDS: Final = limits.REQUEST_DEADLINE_SECONDS
"""How long a read waits for a pooled connection: no longer than a request may take, so while the
database is down (the pool has no connection to give) a check ends in a 503 within its deadline
instead of hanging for the whole outage."""

_RECONNECT_SECONDS: Final = 2.0
"""How long the pool retries one lost connection (its backoff doubles from 1 s) before it gives up
on it; the next read that finds no connection starts a fresh attempt at once. Without this bound
the backoff grows to 8, 16, 32 s over an outage, and the service would answer again only that
long after PostgreSQL is back (the fault test asserts within 5 s)."""


async def _configure(conn: AsyncConnection[Any]) -> None:
    await conn.set_autocommit(True)


class FastReads:
    """A pool of autocommit connections for prepared one-statement reads.

    Args:
        conninfo: libpq connection string.
        max_size: Most connections held.
        timeout: How long a read waits for a connection (a read replica's pool waits less, so
            a replica that went away costs one read a short wait before the primary serves).
        name: The pool's name (in psycopg_pool's logs).
    """

    def __init__(
        self,
        conninfo: str,
        *,
        max_size: int,
        timeout: float = _CONNECTION_WAIT_SECONDS,
        name: str = "rebac-reads",
    ) -> None:
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=max(1, max_size),
            kwargs={"connect_timeout": 5},
            configure=_configure,
            timeout=timeout,
            reconnect_timeout=_RECONNECT_SECONDS,
            open=False,
            name=name,
        )

    async def open(self, *, wait: bool = False) -> None:
        """Open the pool; connections are made in the background.

        With ``wait``, return once its first connection is made, so the first read never waits
        for one (the primary's pool: the store has just reached that server). A replica's pool
        does not wait, since a replica that is down must not hold up the start.

        Raises:
            StoreUnavailableError: ``wait`` and no connection was made within the pool's timeout.
        """
        with translate_errors():
            await self._pool.open(wait=wait, timeout=self._pool.timeout)

    async def close(self) -> None:
        """Close every connection."""
        await self._pool.close()

    def pool_stats(self) -> dict[str, int]:
        """``in_use``, ``idle`` and ``waiting`` connections of the pool now (for ``/metrics``)."""
        stats = self._pool.get_stats()
        size = stats.get("pool_size", 0)
        idle = stats.get("pool_available", 0)
        return {"in_use": size - idle, "idle": idle, "waiting": stats.get("requests_waiting", 0)}

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
            try:
                return await run_on_connection(self._pool.connection, body)
            except (PoolTimeout, PoolClosed):
                raise  # no connection to be had (the database is down), or the pool is closed
            except psycopg.OperationalError:
                # A pooled connection that died (PostgreSQL restarted since it was last used):
                # drop every dead idle one and read again, once; a read is safe to repeat.
                await self._pool.check()
                return await run_on_connection(self._pool.connection, body)

    async def copy_in(self, statement: str, chunks: Iterable[str]) -> None:
        """Run ``COPY ... FROM STDIN`` with ``chunks`` of text-format lines, in one transaction.

        Raises:
            StoreUnavailableError: no connection could be had, or the database went away.
            StoreError: any other database failure (nothing of the batch is stored).
        """
        with translate_errors():
            await run_on_connection(
                self._pool.connection, partial(_copy_body, statement=statement, chunks=chunks)
            )


async def _copy_body(conn: AsyncConnection[Any], statement: str, chunks: Iterable[str]) -> None:
    async with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
        for number, chunk in enumerate(chunks):
            if number:
                await asyncio.sleep(0)  # chunks are formatted without I/O: let requests run between
            await copy.write(chunk)


class SharedRead(Generic[T]):
    """Coalesces concurrent calls of one read into few round trips, without serving stale answers.

    At most one read is in flight. Callers queue; a round takes the queue just before it sends the
    read, so every caller gets the result of a read *sent after it called*: whatever was committed
    before it called is in the answer. Callers arriving while a read is in flight are served by the
    next read, sent as soon as that one returns. Under load (a fully consistent check needs the
    head revision) this turns one query per request into about one per round trip.

    Args:
        read: The read to share.
    """

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._waiters: list[asyncio.Future[T]] = []
        self._runner: asyncio.Task[None] | None = None

    async def __call__(self) -> T:
        """The result of a read sent after this call."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._waiters.append(future)
        if self._runner is None:
            self._runner = loop.create_task(self._rounds())
        return await future

    async def _rounds(self) -> None:
        try:
            while self._waiters:
                waiters, self._waiters = self._waiters, []
                try:
                    result = await self._read()
                except BaseException as exc:  # every waiter of the round gets the failure
                    for future in waiters:
                        if future.done():
                            continue
                        if isinstance(exc, asyncio.CancelledError):
                            future.cancel()
                        else:
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for future in waiters:
                        if not future.done():
                            future.set_result(result)
        finally:
            self._runner = None
            for future in self._waiters:  # only left when the runner itself was cancelled
                future.cancel()
            self._waiters = []

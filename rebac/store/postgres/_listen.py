"""Wake changelog followers with Postgres ``LISTEN/NOTIFY``.

Every write transaction runs ``pg_notify(CHANNEL, revision)``; Postgres delivers the notification
at commit, so a follower is woken only once the revision is readable. One listening connection per
store instance is opened on the first wait (or by the index follower) and closed by
:meth:`RevisionListener.close`; when the connection breaks, the next :meth:`RevisionListener.start`
opens a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

import psycopg

__all__ = ["CHANNEL", "RevisionListener"]

CHANNEL: Final = "rebac_revision"


class RevisionListener:
    """A background ``LISTEN`` on :data:`CHANNEL` that wakes waiters on each notification.

    Args:
        conninfo: libpq connection string of the store's database.
    """

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._cond = asyncio.Condition()
        self._generation = 0
        self._start_lock = asyncio.Lock()
        self._events: list[asyncio.Event] = []

    def subscribe(self, event: asyncio.Event) -> None:
        """Set ``event`` on every notification (and when the connection breaks)."""
        self._events.append(event)

    async def start(self) -> None:
        """Open the listening connection (idempotent); LISTEN is active when this returns."""
        async with self._start_lock:
            if self._conn is not None:
                return
            conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, connect_timeout=5)
            try:
                await conn.execute(f"LISTEN {CHANNEL}")
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
            self._task = asyncio.create_task(self._pump(conn), name="rebac-revision-listener")

    async def _pump(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        with contextlib.suppress(psycopg.Error):
            async for _ in conn.notifies():
                await self._wake()
        # The connection broke: forget it (the next start() reconnects) and wake everybody so
        # they fall back to polling the head.
        if self._conn is conn:
            self._conn, self._task = None, None
            with contextlib.suppress(psycopg.Error):
                await conn.close()
        await self._wake()

    async def _wake(self) -> None:
        for event in self._events:
            event.set()
        async with self._cond:
            self._generation += 1
            self._cond.notify_all()

    async def wait(self, timeout: float) -> None:
        """Return after the next notification or after ``timeout`` seconds, whichever is first."""
        async with self._cond:
            seen = self._generation
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cond.wait_for(lambda: self._generation != seen), timeout)

    async def close(self) -> None:
        """Stop listening and close the connection."""
        task, conn = self._task, self._conn
        self._task, self._conn = None, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                await task
        if conn is not None:
            await conn.close()

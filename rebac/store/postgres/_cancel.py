"""Run one unit of database work on a pooled connection, safely under task cancellation.

A caller may be cancelled at any ``await`` (the engine's request deadline, ``asyncio.wait_for``,
a client that went away). Two places are unsafe for a pooled async connection:

* **Checkout and check-in.** SQLAlchemy runs them in a greenlet; a ``CancelledError`` thrown in
  there after the pool handed the connection out (while the ``AUTOCOMMIT`` option is applied, say)
  leaves it neither returned nor closed, and the pool's garbage-collector hook later warns
  "non-checked-in connection".
* **A second cancellation while psycopg handles the first.** psycopg answers a cancelled query by
  cancelling it on the server and waiting for the server to confirm; interrupted again there it
  gives up and closes the connection ("query cancellation interrupted"), which the pool then fails
  to reset.

:func:`run_on_connection` therefore runs the work, connection block included, in a task of its own
that the caller only waits for (``asyncio.shield``). When the caller is cancelled, the work is
cancelled **once**, and only while it runs its statements (where psycopg cancels the server query
cleanly); during checkout the work is told to stop as soon as it holds the connection, and a
check-in always runs to completion. The caller re-raises its ``CancelledError`` once the work has
returned the connection, so nothing outlives the call and cancellation stays prompt: psycopg's
own cancellation round trip is bounded by its five-second timeouts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

__all__ = ["run_on_connection"]

C = TypeVar("C")
T = TypeVar("T")


class _Phase:
    """Where the work is: ``active`` while it runs statements; ``stop`` once the caller gave up."""

    __slots__ = ("active", "stop")

    def __init__(self) -> None:
        self.active = False
        self.stop = False


async def _work(
    connect: Callable[[], AbstractAsyncContextManager[C]],
    body: Callable[[C], Awaitable[T]],
    phase: _Phase,
) -> T:
    async with connect() as conn:
        if phase.stop:  # the caller was cancelled during checkout: return the connection unused
            raise asyncio.CancelledError
        phase.active = True
        try:
            return await body(conn)
        finally:
            phase.active = False


async def _settle(task: asyncio.Task[T]) -> None:
    """Wait until ``task`` is done, absorbing further cancellations of the waiting task."""
    while not task.done():
        try:
            await asyncio.wait((task,))
        except asyncio.CancelledError:
            continue
    if not task.cancelled():
        task.exception()  # retrieved: the caller reports its own cancellation instead


async def run_on_connection(
    connect: Callable[[], AbstractAsyncContextManager[C]],
    body: Callable[[C], Awaitable[T]],
) -> T:
    """Open a connection with ``connect()``, await ``body(conn)`` on it, and return the connection.

    Args:
        connect: Opens the connection block (``engine.connect`` or ``engine.begin``).
        body: The statements to run; it must not keep ``conn`` beyond its return.

    Returns:
        What ``body`` returned.

    Raises:
        asyncio.CancelledError: the caller was cancelled; the connection is back in the pool (or
            closed by the pool) by the time this is raised.
    """
    phase = _Phase()
    task = asyncio.create_task(_work(connect, body, phase))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        phase.stop = True
        if phase.active:
            task.cancel()
        await _settle(task)
        raise

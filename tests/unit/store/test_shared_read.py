"""SharedRead: concurrent callers share a round trip, but never one sent before they called."""

from __future__ import annotations

import asyncio

import pytest

from rebac.errors import StoreUnavailableError
from rebac.store.postgres._fast import SharedRead


class Source:
    """A read that counts its calls and can be held open."""

    def __init__(self) -> None:
        self.sent = 0
        self.release = asyncio.Event()
        self.release.set()
        self.in_flight = asyncio.Event()

    async def read(self) -> int:
        self.sent += 1
        self.in_flight.set()
        number = self.sent  # the value as of the moment the read was sent
        await self.release.wait()
        return number


async def started(source: Source) -> None:
    """Wait (bounded) until ``source``'s read has been sent."""
    async with asyncio.timeout(10):
        await source.in_flight.wait()


async def settle() -> None:
    """Let every ready task run until it blocks (no wall-clock wait)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_concurrent_callers_share_one_read() -> None:
    source = Source()
    shared = SharedRead(source.read)
    results = await asyncio.gather(*(shared() for _ in range(8)))
    assert results == [1] * 8
    assert source.sent == 1


async def test_a_caller_arriving_during_a_read_waits_for_the_next_one() -> None:
    source = Source()
    source.release.clear()
    shared = SharedRead(source.read)
    first = asyncio.create_task(shared())
    await started(source)  # the first round's read is now in flight
    assert source.sent == 1
    late = asyncio.create_task(shared())
    await settle()
    source.release.set()
    assert await first == 1
    assert await late == 2  # a read sent after the late caller called
    assert source.sent == 2


async def test_callers_arriving_during_a_read_share_the_next_one() -> None:
    source = Source()
    source.release.clear()
    shared = SharedRead(source.read)
    first = asyncio.create_task(shared())
    await started(source)
    late = [asyncio.create_task(shared()) for _ in range(8)]
    await settle()
    assert source.sent == 1  # at most one read in flight
    source.release.set()
    assert await first == 1
    assert await asyncio.gather(*late) == [2] * 8
    assert source.sent == 2


async def test_a_failure_reaches_every_caller_and_the_next_round_retries() -> None:
    calls = 0

    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StoreUnavailableError("the database is unavailable")
        return calls

    shared = SharedRead(flaky)
    results = await asyncio.gather(shared(), shared(), return_exceptions=True)
    assert all(isinstance(r, StoreUnavailableError) for r in results)
    assert await shared() == 2


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    source = Source()
    source.release.clear()
    shared = SharedRead(source.read)
    doomed = asyncio.create_task(shared())
    kept = asyncio.create_task(shared())
    await started(source)
    doomed.cancel()
    source.release.set()
    assert await kept == 1
    with pytest.raises(asyncio.CancelledError):
        await doomed

"""Decision records, written off the request path by a :class:`DecisionRecorder`.

Every decision (a check, each bulk-check item, each AuthZEN evaluation) gets a time-ordered id
(UUIDv7 text) that is returned to the caller, and, unless sampled out, a
:class:`~rebac.store.base.DecisionRecord` in the store's decision log (records are built by
:mod:`rebac.services.decisions`).

**Recording never waits for the database, and costs the request path one append.** The request
path hands :meth:`DecisionRecorder.defer` the raw parts of a decision (a tuple); one **writer
thread** builds, formats and writes the records, ``batch_size`` at a time or whatever is buffered
after ``flush_seconds``: through a store's :class:`SyncDecisionWriter` (Postgres: its own
connection, COPY) off the event loop, else through ``append_decisions`` on the recorder's loop.
(``rebac serve`` uses :class:`~rebac.services.spool_recorder.SpoolingRecorder` instead.)

**What a crash can lose.** Only records accepted and not yet committed (``queued`` in the stats):
never more than ``queue_capacity + batch_size`` (the buffer's bound plus the one batch being
written), and in steady state about ``rate * flush_seconds + batch_size`` (about 1,500 records at
5,000 decisions/s with the defaults). Past the bound, records are dropped and counted, never
silently lost.

**Sampling.** ``sample_rate`` is the fraction of *allowed* decisions recorded. With
``always_record_denials`` (the default) every denied, conditional and failed decision is recorded
whatever the rate: those are what an investigation needs. Unsampled decisions still get an id.

**Overload policy: bounded wait, then a counted drop.** When the buffer is full (the database is
slower than the decision rate for longer than the buffer absorbs), a check waits at most
``overload_wait_seconds`` for room. If there is still none, that record is dropped, counted in
``dropped`` (``GET /v1/decisions/stats``) and logged; the check itself is answered normally. A
batch the store refuses is retried (``_RETRIES`` times, with backoff) and then counted in ``failed``
and logged. Nothing is lost silently: ``recorded = written + queued + failed``.

**Shutdown.** :meth:`DecisionRecorder.flush` waits until every record accepted so far is written;
:meth:`DecisionRecorder.aclose` (wired into the app's lifespan, before the store closes) stops
accepting, drains everything, then stops the flusher. A clean shutdown therefore loses no record.
Records offered after ``aclose`` are counted in ``dropped``.

**Retention.** With ``retention_days > 0``, :meth:`DecisionRecorder.prune` drops whole days older
than that; the recorder runs it once an hour while started (``rebac gc`` runs it too).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol, cast

from rebac.config import DecisionLogSettings
from rebac.store.base import DecisionLog, DecisionRecord, DecisionResult

__all__ = ["DecisionRecorder", "DecisionStats", "RecordFields", "SyncDecisionWriter", "fields_of"]

_LOG: Final = logging.getLogger("rebac.decisions")
_RETRIES: Final = 3
_BACKOFF_SECONDS: Final = 0.2
_PRUNE_EVERY_SECONDS: Final = 3600.0
_POOL_IDS: Final = 256
_RAND_MASK: Final = (1 << 62) - 1
_MS_MASK: Final = (1 << 48) - 1
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)
_JOIN_SECONDS: Final = 30.0
_BUILD_CHUNK: Final = 32  # records built between two releases of the GIL (well under a millisecond)
_STEP_BACK_MS: Final = 1000
"""An id is at most this far (plus borrowed milliseconds) ahead of the time it was made for."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _epoch_ms(at: datetime) -> int:
    """Whole Unix milliseconds of an aware time (the time a UUIDv7 embeds)."""
    return (at - _EPOCH) // _MS


class _Uuid7:
    """UUIDv7 texts (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter, then 62 random bits.

    The milliseconds are those of the time given (the decision's ``decided_at``), so an id says
    which day's partition holds its record. The counter keeps ids of one generator strictly
    increasing within a millisecond; only when 4096 ids share one does an id borrow the next
    millisecond. A clock that steps back by less than ``_STEP_BACK_MS`` keeps the order; one that
    steps back further starts again at its own millisecond (the random bits keep ids unique).
    The random bits come from ``os.urandom``, read for many ids at once (one system call per
    ``_POOL_IDS``).
    """

    __slots__ = ("_counter", "_last_ms", "_pool")

    def __init__(self) -> None:
        self._last_ms = -1
        self._counter = 0
        self._pool: list[int] = []

    def __call__(self, now_ms: int) -> str:
        if self._last_ms - _STEP_BACK_MS <= now_ms <= self._last_ms:
            self._counter += 1
            if self._counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                self._last_ms += 1
                self._counter = 0
            now_ms = self._last_ms
        else:
            self._last_ms = now_ms
            self._counter = 0
        if not self._pool:
            raw = os.urandom(8 * _POOL_IDS)
            self._pool = [int.from_bytes(raw[i : i + 8], "big") & _RAND_MASK for i in range(0, len(raw), 8)]
        rand = self._pool.pop()
        # str(uuid.UUID(int=...)) of the 128 bits, field by field (version 7, variant 0b10)
        return "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031 - the fastest of the spellings
            (now_ms & _MS_MASK) >> 16,
            now_ms & 0xFFFF,
            0x7000 | self._counter,
            0x8000 | rand >> 48,
            rand & 0xFFFF_FFFF_FFFF,
        )


@dataclass(frozen=True, slots=True)
class DecisionStats:
    """Counters of one recorder (``recorded = written + queued + failed``).

    Attributes:
        recorded: Records accepted into the buffer.
        written: Records the store has committed.
        queued: Records accepted and not yet written (buffered or being written).
        sampled_out: Decisions not recorded because of ``sample_rate``.
        dropped: Records refused: the buffer stayed full past ``overload_wait_seconds``, or the
            recorder was closed.
        failed: Records the store refused after every retry.
        batches: Inserts done.
    """

    recorded: int
    written: int
    queued: int
    sampled_out: int
    dropped: int
    failed: int
    batches: int


class SyncDecisionWriter(Protocol):
    """A store's decision-log writer for the recorder's thread (blocking calls, one thread only)."""

    def write(self, batch: Sequence[DecisionRecord]) -> None:
        """Commit ``batch`` in one transaction (raise on failure: the recorder retries)."""

    def close(self) -> None:
        """Release the writer's connection."""


RecordFields = tuple[Any, ...]  # a record's fields in DecisionRecord order: DecisionRecord(*fields)

Pending = tuple[Callable[..., RecordFields], tuple[Any, ...]]  # (build, args), built by the writer

_FIELDS: Final = tuple(f.name for f in fields(DecisionRecord))


def fields_of(record: DecisionRecord) -> RecordFields:
    """The fields of a built ``record``, in order."""
    return tuple(getattr(record, name) for name in _FIELDS)


class DecisionRecorder:
    """Buffers decision records and writes them in batches (see the module docstring).

    Args:
        sink: The store's decision log; when it has ``decision_writer()`` (returning a
            :class:`SyncDecisionWriter`), the writer thread uses that.
        settings: Sampling, buffer, batching, overload and retention settings.
        clock: Aware UTC wall clock (``decided_at`` and retention).
        rng: Sampling randomness (seed it in tests).
    """

    def __init__(
        self,
        sink: DecisionLog,
        settings: DecisionLogSettings | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self._sink = sink
        self.settings = settings or DecisionLogSettings()
        if not 0.0 <= self.settings.sample_rate <= 1.0:
            msg = "sample_rate must be between 0 and 1"
            raise ValueError(msg)
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - sampling, not security
        self._new_id = _Uuid7()
        self._buffer: deque[Pending] = deque()
        self._inflight = 0
        self._tick = threading.Event()
        self._space = asyncio.Event()
        self._progress = asyncio.Event()
        self._waiting = 0
        self._flushing = 0
        self._closed = False
        self._stop = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._recorded = self._written = self._sampled_out = self._dropped = self._failed = 0
        self._batches = 0
        self.instance_name = self.settings.decision_point()
        """The decision point this recorder names on its records."""
        self.on_record: Callable[[str, DecisionResult], None] | None = None
        """Called with ``(source, result)`` for every decision offered (the metrics' counter)."""

    # --- the request path -------------------------------------------------------------------------

    def new_id(self, at: datetime | None = None) -> str:
        """A fresh time-ordered decision id embedding ``at`` (default: the recorder's clock).

        Pass the record's ``decided_at``: the id then names the day its record is kept in, which
        is how ``GET /v1/decisions/{id}`` reads one partition only.
        """
        return self._new_id(_epoch_ms(self._clock() if at is None else at))

    def now(self) -> datetime:
        """The recorder's clock."""
        return self._clock()

    def keeps(self, result: DecisionResult) -> bool:
        """Whether a decision with ``result`` is recorded (sampling; see the module docstring)."""
        if result is not DecisionResult.ALLOWED and self.settings.always_record_denials:
            return True
        rate = self.settings.sample_rate
        return rate >= 1.0 or (rate > 0.0 and self._rng.random() < rate)

    async def record(self, record: DecisionRecord, *, always: bool = False) -> bool:
        """Buffer a built ``record`` (after sampling, unless ``always``); True when it will be written.

        ``always`` is for records that are not sampled decisions (an access request's steps).
        """
        if record.decision_point is None:
            record = replace(record, decision_point=self.instance_name)
        return await self.defer(record.source, record.result, fields_of, (record,), always=always)

    async def defer(
        self,
        source: str,
        result: DecisionResult,
        build: Callable[..., RecordFields],
        args: tuple[Any, ...],
        *,
        always: bool = False,
    ) -> bool:
        """Buffer the record ``build(*args)`` gives the fields of (in the writer thread); True when kept.

        Waits at most ``overload_wait_seconds`` when the buffer is full, then drops and counts it.
        """
        if not await self._admit(source, result, always=always):
            return False
        self._accept(build, args)
        self._recorded += 1
        return True

    def _accept(self, build: Callable[..., RecordFields], args: tuple[Any, ...]) -> None:
        """Keep one admitted record (here: buffered for the writer thread)."""
        buffer = self._buffer
        buffer.append((build, args))
        size = len(buffer)
        if size == 1 or size % self.settings.batch_size == 0:
            self._tick.set()

    async def _admit(self, source: str, result: DecisionResult, *, always: bool) -> bool:
        """Count the decision, sample it, and wait for room (bounded); False: not recorded."""
        hook = self.on_record
        if hook is not None:
            hook(source, result)
        if not always and not self.keeps(result):
            self._sampled_out += 1
            return False
        if self._closed:
            self._drop("the decision recorder is closed")
            return False
        if self._full() and not await self._wait_for_space():
            self._drop("the decision log is overloaded")
            return False
        return True

    def _full(self) -> bool:
        """Whether a record must wait for room (``queue_capacity`` buffered)."""
        return len(self._buffer) >= self.settings.queue_capacity

    async def _wait_for_space(self) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.overload_wait_seconds
        self._waiting += 1
        try:
            while self._full():
                remaining = deadline - loop.time()
                if remaining <= 0 or self._closed:
                    return False
                self._space.clear()
                try:
                    await asyncio.wait_for(self._space.wait(), remaining)
                except TimeoutError:
                    return False
        finally:
            self._waiting -= 1
        return True

    def _drop(self, why: str) -> None:
        self._dropped += 1
        if self._dropped == 1 or self._dropped % 1000 == 0:
            _LOG.warning("%s: %d decision records dropped so far", why, self._dropped)

    # --- the writer thread --------------------------------------------------------------------------

    def start(self, *, prune_every_seconds: float | None = _PRUNE_EVERY_SECONDS) -> None:
        """Start the writer thread (and the hourly retention pruner); idempotent."""
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            opener = getattr(self._sink, "decision_writer", None)
            writer = cast("SyncDecisionWriter | None", opener() if callable(opener) else None)
            self._thread = threading.Thread(
                target=self._run, args=(writer,), name="rebac-decision-writer", daemon=True
            )
            self._thread.start()
        self._start_pruner(prune_every_seconds)

    def _start_pruner(self, every: float | None) -> None:
        if self._pruner is None and every is not None and self.settings.retention_days > 0:
            self._pruner = asyncio.create_task(self._prune_loop(every), name="rebac-decision-gc")

    def _run(self, writer: SyncDecisionWriter | None) -> None:
        try:
            while True:
                buffer = self._buffer
                if not buffer:
                    if self._stop:
                        return
                    self._tick.wait()
                    self._tick.clear()
                    continue
                if len(buffer) < self.settings.batch_size and not (self._flushing or self._closed):
                    self._tick.clear()
                    if len(buffer) < self.settings.batch_size and not (self._flushing or self._closed):
                        self._tick.wait(self.settings.flush_seconds)
                self._write_one_batch(writer)
        finally:
            if writer is not None:
                writer.close()

    def _take(self) -> list[Pending]:
        count = min(self.settings.batch_size, len(self._buffer))
        popleft = self._buffer.popleft
        taken = [popleft() for _ in range(count)]
        self._inflight += count
        return taken

    def _notify(self, event: asyncio.Event) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    def _write_one_batch(self, writer: SyncDecisionWriter | None) -> None:
        taken = self._take()
        if self._waiting:
            self._notify(self._space)
        try:
            batch: list[DecisionRecord] = []
            for start in range(0, len(taken), _BUILD_CHUNK):
                chunk = taken[start : start + _BUILD_CHUNK]
                batch.extend([DecisionRecord(*build(*args)) for build, args in chunk])
                time.sleep(0)  # let the event loop's thread have the GIL between chunks
            self._write_blocking(writer, batch)
        finally:
            self._inflight -= len(taken)
            if self._flushing:
                self._notify(self._progress)

    def _write_blocking(self, writer: SyncDecisionWriter | None, batch: Sequence[DecisionRecord]) -> None:
        for attempt in range(_RETRIES + 1):
            try:
                if writer is not None:
                    writer.write(batch)
                else:
                    loop = self._loop
                    assert loop is not None  # noqa: S101 - set by start(), before the thread runs
                    future: Future[None] = asyncio.run_coroutine_threadsafe(
                        self._sink.append_decisions(batch), loop
                    )
                    future.result()
            except Exception as exc:  # noqa: BLE001 - any store failure is retried, then counted
                if self._give_up(attempt, exc, len(batch)):
                    return
                time.sleep(_BACKOFF_SECONDS * 2**attempt)
            else:
                self._written += len(batch)
                self._batches += 1
                return

    def _give_up(self, attempt: int, exc: Exception, size: int) -> bool:
        if attempt < _RETRIES:
            return False
        self._failed += size
        _LOG.error("decision log write failed (%s): %d records lost", type(exc).__name__, size)
        return True

    async def _write_inline(self) -> None:
        """One batch written on the loop (no writer thread: not started, or already stopped)."""
        taken = self._take()
        self._space.set()
        try:
            batch = [DecisionRecord(*build(*args)) for build, args in taken]
            for attempt in range(_RETRIES + 1):
                try:
                    await self._sink.append_decisions(batch)
                except Exception as exc:  # noqa: BLE001 - retried, then counted
                    if self._give_up(attempt, exc, len(batch)):
                        return
                    await asyncio.sleep(_BACKOFF_SECONDS * 2**attempt)
                else:
                    self._written += len(batch)
                    self._batches += 1
                    return
        finally:
            self._inflight -= len(taken)

    async def flush(self) -> None:
        """Wait until every record accepted so far is written (or counted failed)."""
        self._flushing += 1
        self._tick.set()
        try:
            while self._buffer or self._inflight:
                thread = self._thread
                if thread is None or not thread.is_alive():
                    await self._write_inline()
                    continue
                self._progress.clear()
                self._tick.set()
                try:
                    await asyncio.wait_for(self._progress.wait(), 0.05)
                except TimeoutError:
                    continue  # re-check (a wake-up raced the clear)
        finally:
            self._flushing -= 1

    async def aclose(self) -> None:
        """Stop accepting records, write every buffered one, and stop the writer thread."""
        self._closed = True
        self._space.set()
        await self.flush()
        self._stop = True
        self._tick.set()
        await self._stop_pruner()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join, _JOIN_SECONDS)

    # --- retention and stats ------------------------------------------------------------------------

    async def _stop_pruner(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            await asyncio.gather(self._pruner, return_exceptions=True)
            self._pruner = None

    async def prune(self) -> int:
        """Drop whole days older than ``retention_days`` (nothing when it is 0); return the days."""
        if self.settings.retention_days <= 0:
            return 0
        return await self._sink.drop_decisions_before(
            self._clock() - timedelta(days=self.settings.retention_days)
        )

    async def _prune_loop(self, every: float) -> None:
        while True:
            try:
                await self.prune()
            except Exception as exc:  # noqa: BLE001 - retention retries on the next round
                _LOG.warning("decision log retention failed: %s", type(exc).__name__)
            await asyncio.sleep(every)

    def stats(self) -> DecisionStats:
        """The counters now."""
        return DecisionStats(
            recorded=self._recorded,
            written=self._written,
            queued=len(self._buffer) + self._inflight,
            sampled_out=self._sampled_out,
            dropped=self._dropped,
            failed=self._failed,
            batches=self._batches,
        )

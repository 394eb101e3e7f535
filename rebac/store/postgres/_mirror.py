"""IndexFollower: keeps a process's :class:`RelationshipIndex` current from the change log.

One background task per store: it loads a snapshot, then, woken by ``LISTEN/NOTIFY`` (and by a
poll every second in case a notification is lost), reads the change log after the index's
revision and applies it. Readers call :meth:`IndexFollower.select`:

* a read at a revision the index has applied is answered from memory;
* a read at a newer revision (a ``fully_consistent`` read, or ``at_least_as_fresh`` a token the
  index has not reached yet) waits up to ``wait_seconds`` for the follower to catch up, then gives
  up and returns ``None``, and the store reads the database instead;
* a read below the index's floor, a filter the index cannot serve, or any read while the index is
  loading, broken or disabled returns ``None`` at once (database again).

So a lagging or failed follower costs latency, never correctness: no read is ever answered from a
revision the index has not fully applied. A follower error of any kind (the database went away or
restarted, a driver error, the change log was garbage-collected past the index) is logged and
never ends the loop: the follower reconnects with backoff, catches up from the revision it had
applied, and reloads its snapshot when the change log no longer reaches back to it.

Its state (:class:`IndexState`: ``loading``, ``ready`` or ``degraded``, with the reason and since
when) is in :meth:`IndexFollower.status`, which ``/readyz`` reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

import psycopg

from rebac.errors import RebacError, RevisionUnavailableError
from rebac.refs import Relationship
from rebac.store.base import RelationshipFilter
from rebac.store.postgres._index import ChangeRow, RelationshipIndex
from rebac.store.postgres._listen import RevisionListener

__all__ = ["IndexFollower", "IndexSettings", "IndexState", "IndexStatus"]

logger = logging.getLogger(__name__)

LoadSnapshot = Callable[[RelationshipIndex], Awaitable[None]]
ReadChanges = Callable[[int, int, int], Awaitable[tuple[Sequence[ChangeRow], int, bool, bool]]]

_POLL_SECONDS: Final = 1.0
_APPLY_SLICE: Final = 5_000
_MAX_BACKOFF_SECONDS: Final = 5.0
_COMPACT_SHARE: Final = 16
"""Compact once the overlay is this fraction (1/16) of all row versions held."""


@dataclass(frozen=True, slots=True)
class IndexSettings:
    """Tuning of the in-memory index.

    Attributes:
        wait_seconds: How long a read at a revision the index has not reached waits for it before
            reading the database.
        retain_seconds: How long deleted rows stay in memory for reads at older revisions
            (``minimize_latency`` reads lag by up to one quantization bucket).
        batch: Change rows read per catch-up step.
        max_revision_rows: A single revision with more changes than this (a large import) is not
            read as changes: the index reloads a snapshot instead, in bounded batches.
        prune_min_dead: Compact only once this many row versions are outside the packed base or
            deleted in it (and they are a sixteenth of all rows): see :meth:`RelationshipIndex.compacted`.
    """

    wait_seconds: float = 0.1
    retain_seconds: float = 30.0
    batch: int = 10_000
    max_revision_rows: int = 200_000
    prune_min_dead: int = 10_000


class IndexState(StrEnum):
    """What the follower is doing.

    ``loading``: no snapshot yet (every read goes to the database). ``ready``: following the
    change log. ``degraded``: the follower cannot follow (see ``reason``); it keeps retrying, reads
    the index has not applied go to the database, so answers stay right, only slower.
    """

    LOADING = "loading"
    READY = "ready"
    DEGRADED = "degraded"


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """What the index holds, for readiness and operators.

    Attributes:
        loaded: A snapshot is loaded (reads up to ``applied`` are served from memory).
        healthy: The follower is following (``state`` is ``ready``).
        floor: The oldest revision the index answers.
        applied: The newest revision the index answers.
        rows: Row versions held.
        dead: Deleted row versions held (for reads at older revisions).
        state: ``loading``, ``ready`` or ``degraded``.
        reason: Why it is degraded (or still loading after a failure); ``None`` when ready.
        since: When it entered ``state`` (UTC).
    """

    loaded: bool
    healthy: bool
    floor: int
    applied: int
    rows: int
    dead: int
    state: IndexState = IndexState.LOADING
    reason: str | None = None
    since: datetime | None = None


class IndexFollower:
    """Owns one :class:`RelationshipIndex` and the task that keeps it current.

    Args:
        load_snapshot: Loads every row live at some revision into the (empty) index and finishes it.
        read_changes: ``(since, limit, max_revision_rows) -> (rows, through, complete, too_large)``:
            the change-log rows after ``since``, the revision they are complete through, whether
            that is the head, and whether one revision was too large to read as changes.
        listener: The store's NOTIFY listener.
        settings: Tuning.
    """

    def __init__(
        self,
        *,
        load_snapshot: LoadSnapshot,
        read_changes: ReadChanges,
        listener: RevisionListener,
        settings: IndexSettings | None = None,
    ) -> None:
        self._load_snapshot = load_snapshot
        self._read_changes = read_changes
        self._listener = listener
        self._settings = settings or IndexSettings()
        self._index = RelationshipIndex()
        self._reload = True
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._healthy = False
        self._state = IndexState.LOADING
        self._reason: str | None = None
        self._since = datetime.now(UTC)
        self._samples: deque[tuple[float, int]] = deque()
        self._last_prune = time.monotonic()
        listener.subscribe(self._wake)

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start following in the background (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="rebac-index-follower")

    async def close(self) -> None:
        """Stop following; later reads go to the database."""
        task, self._task = self._task, None
        self._set_state(IndexState.DEGRADED, "the index is closed")
        self._closing = True  # also ends the loop should a cancellation be swallowed by a wait
        if task is not None:
            task.cancel()
            self._wake.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._index.clear()

    async def wait_loaded(self, timeout: float) -> bool:
        """Wait until the snapshot is loaded; False on timeout."""
        return await self._wait_until(lambda: self._index.loaded, timeout)

    def status(self) -> IndexStatus:
        """A snapshot of the index's state."""
        index = self._index
        return IndexStatus(
            index.loaded,
            self._healthy,
            index.floor,
            index.applied,
            index.rows,
            index.dead,
            self._state,
            self._reason,
            self._since,
        )

    def _set_state(self, state: IndexState, reason: str | None = None) -> None:
        """Enter ``state`` (``since`` moves only when the state or its reason changes)."""
        self._healthy = state is IndexState.READY
        if state is not self._state or reason != self._reason:
            self._state, self._reason, self._since = state, reason, datetime.now(UTC)

    # --- reading -----------------------------------------------------------------------------------

    async def select(self, flt: RelationshipFilter, revision: int) -> list[Relationship] | None:
        """Answer a read at ``revision`` from memory, or ``None`` (read the database instead)."""
        index = self._index
        if not index.loaded or revision < index.floor:
            return None
        if revision > index.applied:
            if not self._healthy:
                return None
            self._wake.set()
            if not await self._wait_until(
                lambda: self._index.applied >= revision, self._settings.wait_seconds
            ):
                return None
            index = self._index  # a reload may have swapped it meanwhile
        return index.select(flt, revision, datetime.now(UTC))

    async def _wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        if done():
            return True
        async with self._progress:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._progress.wait_for(done)
            return done()

    # --- following ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._follow()
        except asyncio.CancelledError:
            raise
        except BaseException:  # only a non-Exception (MemoryError is one) gets here
            logger.exception("the relationship index follower stopped; reads use the database")
            self._set_state(IndexState.DEGRADED, "the follower stopped")
            raise

    async def _follow(self) -> None:
        backoff = 0.05
        while not self._closing:
            try:
                await self._listener.start()
                if self._reload:
                    await self._load()
                self._wake.clear()
                await self._catch_up()
                if self._reload:
                    continue
                self._set_state(IndexState.READY)
                backoff = 0.05
                await self._maybe_compact()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_POLL_SECONDS):
                        await self._wake.wait()
            except RevisionUnavailableError:
                logger.warning("the change log no longer reaches the index; reloading its snapshot")
                self._reload = True
            except Exception as exc:  # any error: retry; the loop must not die
                # A driver error (psycopg.OperationalError when PostgreSQL restarts) is as
                # recoverable as a store error; a bug is logged with its traceback, and retried too.
                reason = _reason(exc)
                if isinstance(exc, RebacError | OSError | psycopg.Error):
                    logger.warning("the relationship index cannot follow the change log: %s", reason)
                else:
                    logger.exception("the relationship index follower failed; retrying")
                self._set_state(IndexState.DEGRADED if self._index.loaded else IndexState.LOADING, reason)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    async def _load(self) -> None:
        """Load a fresh snapshot into a new index, then swap it in.

        Until the swap, the old index keeps answering the revisions it holds (its rows are
        versioned, so they stay right for those revisions); newer reads go to the database.
        """
        started = time.monotonic()
        # While loading, reads beyond the old index go straight to the database.
        if self._index.loaded:
            self._set_state(IndexState.DEGRADED, "reloading the snapshot")
        else:
            self._set_state(IndexState.LOADING, self._reason)
        fresh = RelationshipIndex()
        await self._load_snapshot(fresh)
        self._index = fresh
        self._reload = False
        # Move the snapshot's millions of (acyclic) objects out of the cyclic collector's view:
        # otherwise every full collection walks them all, a pause of hundreds of milliseconds
        # that lands on some unlucky request's latency. Reference counting still frees them.
        gc.freeze()
        self._samples.clear()
        logger.info(
            "relationship index loaded: %d rows at revision %d in %.1f s",
            fresh.rows,
            fresh.applied,
            time.monotonic() - started,
        )
        await self._notify()

    async def _catch_up(self) -> None:
        index, settings = self._index, self._settings
        complete = False
        while not complete:
            rows, through, complete, too_large = await self._read_changes(
                index.applied, settings.batch, settings.max_revision_rows
            )
            if too_large:
                logger.info("a revision is too large to follow as changes; reloading the index snapshot")
                self._reload = True
                return
            if through <= index.applied and not rows:
                return
            # Applied in slices with a yield between them; safe mid-way, as nothing is visible
            # before ``advance`` (see ``RelationshipIndex.apply_rows``).
            for start in range(0, len(rows), _APPLY_SLICE):
                if start:
                    await asyncio.sleep(0)
                index.apply_rows(rows[start : start + _APPLY_SLICE])
            index.advance(through)
            self._samples.append((time.monotonic(), index.applied))
            await self._notify()

    async def _notify(self) -> None:
        async with self._progress:
            self._progress.notify_all()

    async def _maybe_compact(self) -> None:
        """Pack the overlay into a new base once it has grown, in a worker thread.

        The floor becomes the revision the index had applied ``retain_seconds`` ago (older
        versions and long-expired rows are dropped). Meanwhile reads go on from the current index
        and no change is applied (reads past ``applied`` wait, then read the database), so the
        compacted index, at the same ``applied``, simply replaces it.
        """
        settings, index = self._settings, self._index
        now = time.monotonic()
        horizon = now - settings.retain_seconds
        samples = self._samples
        while len(samples) > 1 and samples[1][0] <= horizon:
            samples.popleft()
        overlay = index.overlay
        due = overlay >= settings.prune_min_dead and overlay * _COMPACT_SHARE >= index.rows
        if not due or now - self._last_prune < settings.retain_seconds:
            return
        self._last_prune = now
        # the index had applied this revision retain_seconds ago
        floor = samples[0][1] if samples and samples[0][0] <= horizon else index.floor
        expired = datetime.now(UTC) - timedelta(seconds=settings.retain_seconds)
        started = time.monotonic()
        fresh = await asyncio.to_thread(index.compacted, floor, expired_before=expired)
        if self._index is not index:  # pragma: no cover - only this task swaps the index
            return
        self._index = fresh
        logger.info(
            "relationship index compacted: %d row versions packed, %d dropped, floor %d, in %.1f s",
            overlay,
            index.rows - fresh.rows,
            fresh.floor,
            time.monotonic() - started,
        )


def _reason(exc: Exception) -> str:
    """A one-line reason for a follower failure, without connection strings or SQL."""
    if isinstance(exc, RebacError):
        return str(exc)
    if isinstance(exc, psycopg.OperationalError | OSError):
        return "the database is unavailable"
    return f"the follower failed ({type(exc).__name__})"

"""The decision log through a local spool and a shipper process: no database write in the server.

:class:`SpoolingRecorder` is the :class:`~rebac.services.recorder.DecisionRecorder` of a served
store that offers a spool (``decision_spool()``: the Postgres store) when ``spool_dir`` is set
(``REBAC_DECISION_SPOOL``; ``rebac serve`` sets it by default). It keeps the recorder's request
path, sampling, ids and counters; what changes is where a record goes:

1. **On the request path** the record's fields are formatted as one spool line (a COPY text line,
   a few microseconds) and appended to a list.
2. **Every** ``spool_flush_seconds`` **(5 ms)**, or at ``_SPILL_LINES`` lines, the event loop writes
   the list to this process's spool segment with **one** ``os.write`` (see
   :mod:`rebac.store.spool`). No thread, no lock, no database connection in the serving process.
3. **A shipper process** (:mod:`rebac.store.postgres._shipper`), started here and restarted
   whenever it dies, COPYs the complete lines into ``decision_log`` and reports what it wrote.

**Guarantees.**

- **A clean shutdown loses nothing**: :meth:`aclose` writes the last lines, releases the spool and
  asks the shipper to finish (it closes the shipper's standard input); the shipper ships
  everything and exits, within ``_FINISH_SECONDS``. A shipper that cannot finish in time (the
  database is away) is killed, and its records stay in the spool, where the next shipper on the
  same root and database adopts them.
- **A crash of the server** (``kill -9``) loses at most the lines not yet written to the spool:
  those of the last ``spool_flush_seconds`` and never more than ``_SPILL_LINES``. Everything written
  to the spool is in the kernel and is shipped: by the orphaned shipper, which notices its parent
  is gone and drains the directory, or, when it died too, by the next shipper that adopts it.
- **Overload is a bounded wait, then a counted drop**: when ``spool_capacity`` records are accepted
  and not yet shipped (the database is slower than the decisions for a long while), a check waits
  at most ``overload_wait_seconds`` for the shipper, then its record is dropped and counted in
  ``dropped``. A spool that cannot be written (a full disk) counts its records in ``failed``.
- ``queued`` (``rebac_decision_log_queue_depth``) is every record accepted and not yet committed:
  in memory, in the spool, or being shipped. ``recorded = written + queued + failed``.

**Several workers**: each process has a spool directory of its own under the shared root, and its
own shipper; any shipper adopts a directory whose writer and shipper are both gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

from rebac.config import DecisionLogSettings
from rebac.services.recorder import DecisionRecorder, DecisionStats, RecordFields
from rebac.store.base import DecisionLog

__all__ = ["DecisionSpool", "SpoolingRecorder"]

_LOG: Final = logging.getLogger("rebac.decisions")
_SPILL_LINES: Final = 256
"""Lines kept in memory at most: the most a crash of the server can lose."""
_FINISH_SECONDS: Final = 30.0
_RESTART_SECONDS: Final = (0.1, 0.5, 1.0, 2.0, 5.0)


class SpoolFile(Protocol):
    """This process's spool directory, open for appending (:class:`rebac.store.spool.SpoolWriter`)."""

    @property
    def directory(self) -> Path:
        """The directory (``<root>/<name>-<pid>-<random>``)."""

    def write(self, data: bytes) -> None:
        """Append whole lines (raise :class:`OSError` when the disk refuses)."""

    def shipped(self) -> bool:
        """Whether every byte written so far is committed."""

    def close(self) -> None:
        """Release the directory to its shipper."""


class DecisionSpool(Protocol):
    """What a store offers the spooling recorder (``decision_spool()``)."""

    def open(self, root: Path, name: str) -> SpoolFile:
        """A spool directory of this process's own under ``root``."""

    @property
    def line(self) -> Callable[[RecordFields], str]:
        """Formats a record's fields (in order) as its spool line."""

    @property
    def key(self) -> str:
        """Names the database; the spool keeps a root per database (``spool_dir/key``)."""

    def shipper(self, directory: Path, root: Path, poll_seconds: float) -> tuple[list[str], dict[str, str]]:
        """The shipper's command line and extra environment for ``directory``."""


def _finish(process: asyncio.subprocess.Process) -> None:
    """Ask the shipper to ship everything and exit: close its standard input."""
    stdin = process.stdin
    if stdin is not None and not stdin.is_closing():
        stdin.close()


class SpoolingRecorder(DecisionRecorder):
    """A decision recorder writing to a local spool that a shipper process drains (see the module).

    Args:
        sink: The store's decision log (retention).
        settings: As for :class:`DecisionRecorder`, with ``spool_dir`` set.
        spool: The store's spool format and shipper.
        clock: Aware UTC wall clock.
        rng: Sampling randomness.
    """

    def __init__(
        self,
        sink: DecisionLog,
        settings: DecisionLogSettings,
        spool: DecisionSpool,
        *,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if settings.spool_dir is None:
            msg = "a spooling recorder needs spool_dir"
            raise ValueError(msg)
        if clock is None:
            super().__init__(sink, settings, rng=rng)
        else:
            super().__init__(sink, settings, clock=clock, rng=rng)
        self._root = settings.spool_dir / spool.key
        self._spool = spool
        self._line = spool.line
        self._lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writer: SpoolFile | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._finishing = False
        self._adopted = 0
        self.restarts = 0
        """Times the shipper died and was started again."""

    @property
    def spool_directory(self) -> Path | None:
        """This process's spool directory (``None`` before :meth:`start`)."""
        return None if self._writer is None else self._writer.directory

    @property
    def shipper_pid(self) -> int | None:
        """The running shipper's process id."""
        process = self._process
        return None if process is None or process.returncode is not None else process.pid

    # --- the request path -------------------------------------------------------------------------

    def _accept(self, build: Callable[..., RecordFields], args: tuple[Any, ...]) -> None:
        """Format the record as its spool line and keep it for the next spill (on the loop)."""
        lines = self._lines
        lines.append(self._line(build(*args)))
        if len(lines) == 1:
            loop = self._loop or asyncio.get_running_loop()
            self._timer = loop.call_later(self.settings.spool_flush_seconds, self.spill)
        elif len(lines) >= _SPILL_LINES:
            self.spill()

    def _outstanding(self) -> int:
        return self._recorded - self._written - self._failed

    def _full(self) -> bool:
        return self._outstanding() >= self.settings.spool_capacity

    def spill(self) -> None:
        """Write the buffered lines to the spool now, in one write (the timer does it on its own)."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        lines = self._lines
        writer = self._writer
        if not lines or writer is None:
            return
        self._lines = []
        try:
            writer.write("".join(lines).encode())
        except OSError as exc:
            self._failed += len(lines)
            _LOG.error("decision spool write failed (%s): %d records lost", exc, len(lines))

    # --- the shipper --------------------------------------------------------------------------------

    def start(self, *, prune_every_seconds: float | None = 3600.0) -> None:
        """Open this process's spool directory and start its shipper; idempotent.

        Raises:
            OSError: the spool directory cannot be created.
        """
        if self._writer is None:
            self._loop = asyncio.get_running_loop()
            self._writer = self._spool.open(self._root, self.instance_name)
            self._supervisor = asyncio.create_task(self._supervise(), name="rebac-decision-shipper")
        self._start_pruner(prune_every_seconds)

    async def _supervise(self) -> None:
        writer = self._writer
        assert writer is not None  # noqa: S101 - start() opens it first
        poll = min(self.settings.flush_seconds, 0.2)
        argv, extra = self._spool.shipper(writer.directory, self._root, poll)
        env = {**os.environ, **extra}
        failures = 0
        while True:
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    env=env,
                    stdin=asyncio.subprocess.PIPE,  # closed to ask it to finish
                    stdout=asyncio.subprocess.PIPE,
                    start_new_session=True,  # no terminal or process-group signal kills it mid-batch
                )
            except OSError as exc:
                _LOG.error("the decision-log shipper cannot start (%s)", exc)
            else:
                self._process = process
                if self._finishing:
                    _finish(process)
                await self._follow(process)
                code = await process.wait()
                if code == 0 and self._finishing:
                    return
                _LOG.warning("the decision-log shipper exited (status %s); starting it again", code)
            self.restarts += 1
            await asyncio.sleep(_RESTART_SECONDS[min(failures, len(_RESTART_SECONDS) - 1)])
            failures += 1

    async def _follow(self, process: asyncio.subprocess.Process) -> None:
        """Count what the shipper reports (``written N``, ``failed N``, ``adopted N``)."""
        stream = process.stdout
        assert stream is not None  # noqa: S101 - a pipe was asked for
        async for raw in stream:
            kind, _, count = raw.decode("ascii", "replace").partition(" ")
            try:
                rows = int(count)
            except ValueError:
                continue
            if kind == "written":
                self._written += rows
                self._batches += 1
            elif kind == "failed":
                self._failed += rows
                _LOG.error("the decision log refused %d records", rows)
            elif kind == "adopted":
                self._adopted += rows
            self._progress.set()
            if self._waiting:
                self._space.set()

    # --- flush and shutdown -----------------------------------------------------------------------

    async def flush(self) -> None:
        """Wait until every record accepted so far is committed (or counted failed)."""
        self.spill()
        target = self._recorded
        while self._written + self._failed < target and self._writer is not None:
            if self._lines == [] and self._writer.shipped():
                self._written = self._recorded - self._failed  # a report was lost: the spool is right
                return
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), 0.05)

    async def aclose(self) -> None:
        """Write the last lines, let the shipper ship everything and exit (bounded), then stop."""
        self._closed = True
        self._space.set()
        self.spill()
        if self._lines:  # never started: nowhere to write them
            self._failed += len(self._lines)
            _LOG.error("decision recorder closed before it started: %d records lost", len(self._lines))
            self._lines = []
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        self._finishing = True
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            process = self._process
            if process is not None and process.returncode is None:
                _finish(process)
            try:
                await asyncio.wait_for(asyncio.shield(supervisor), _FINISH_SECONDS)
            except TimeoutError:
                left = self._outstanding()
                _LOG.warning(
                    "the decision-log shipper did not finish in %.0f s: %d records stay in the spool "
                    "(%s) for the next shipper on it",
                    _FINISH_SECONDS,
                    left,
                    self._root,
                )
                supervisor.cancel()
                await asyncio.gather(supervisor, return_exceptions=True)
                process = self._process
                if process is not None and process.returncode is None:
                    process.kill()
                    await process.wait()
        await self._stop_pruner()

    def stats(self) -> DecisionStats:
        """The counters now (``queued``: accepted, not yet committed, wherever they wait)."""
        return DecisionStats(
            recorded=self._recorded,
            written=self._written,
            queued=self._outstanding(),
            sampled_out=self._sampled_out,
            dropped=self._dropped,
            failed=self._failed,
            batches=self._batches,
        )

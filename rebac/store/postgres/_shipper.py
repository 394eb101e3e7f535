"""The decision-log shipper: a process of its own that drains spool directories into ``decision_log``.

``python -m rebac.store.postgres.ship --dir DIR --root ROOT --parent PID`` (the libpq string
in ``REBAC_SHIPPER_CONNINFO``, so no password shows in a process list). The serving process that
owns ``DIR`` starts it, restarts it when it dies, and stops it with SIGTERM (see
:mod:`rebac.services.spool_recorder`; the spool's layout is :mod:`rebac.store.spool`).

**What it does.** Every ``_POLL_SECONDS`` it reads the complete lines (up to ``_CHUNK_BYTES``) past
the committed position of each segment of ``DIR``, COPYs them into ``decision_log`` in one
transaction (creating the days' partitions first), then records the new position. A batch that was
committed but whose position was not recorded (the shipper died in between) is shipped again: the
duplicate key makes it go through a temporary table and ``INSERT ... ON CONFLICT DO NOTHING``, so
every record lands once. A batch PostgreSQL refuses for its data is shipped line by line, and a
line refused on its own is counted ``failed`` and logged (never retried forever). A database that
is away is retried with backoff, indefinitely: the records wait on disk.

**It reports** one line per committed batch on standard output: ``written N`` (rows of its own
directory inserted), ``failed N``, ``adopted N`` (rows of an abandoned directory). Its owner turns
these into ``/v1/decisions/stats`` and the metrics.

**It finishes** when its owner closes its standard input (or dies: the pipe closes then too, and
its parent process changes) or it gets SIGTERM, once the writer has released ``DIR``
(``writer.lock``) and everything in it is shipped: it then deletes ``DIR`` and exits 0. Its owner
starts it in a session of its own, so a terminal's Ctrl-C never reaches it mid-batch (it ignores
SIGINT too).

Every ``_ADOPT_SECONDS`` (and at start) it also adopts the directories under ``ROOT`` whose writer
and shipper are both gone (a process killed with ``kill -9``, say), ships them and deletes them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Any, Final

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict

from rebac.store import spool
from rebac.store.postgres._decisions import _COLUMNS, _COPY, CopyLines, connected, ensure_partitions

__all__ = ["CONNINFO_ENV", "PgDecisionSpool", "Shipper", "main"]

CONNINFO_ENV: Final = "REBAC_SHIPPER_CONNINFO"
_POLL_SECONDS: Final = 0.02
_ADOPT_SECONDS: Final = 5.0
_CHUNK_BYTES: Final = 1024 * 1024
_BACKOFF: Final = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
_STAGE: Final = "rebac_decision_stage"
_STAGE_DDL: Final = f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (LIKE decision_log) ON COMMIT DELETE ROWS"
_STAGE_COPY: Final = f"COPY {_STAGE} ({_COLUMNS}) FROM STDIN"
_STAGE_MERGE: Final = (  # constants only
    f"INSERT INTO decision_log ({_COLUMNS}) SELECT {_COLUMNS} FROM {_STAGE} ON CONFLICT DO NOTHING"  # noqa: S608
)

Report = Callable[[str, int], None]


class PgDecisionSpool:
    """What the spooling recorder needs of the Postgres store: the line format and the shipper.

    Args:
        conninfo: libpq string of the primary (handed to the shipper in its environment).
    """

    __slots__ = ("_conninfo", "key", "line")

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self.line = CopyLines()
        """Formats a record's fields (in order) as its spool line (a COPY text line)."""
        target = {k: v for k, v in conninfo_to_dict(conninfo).items() if k != "password"}
        self.key = hashlib.sha256(repr(sorted(target.items())).encode()).hexdigest()[:16]
        """Names the database: spool directories are kept per database under the spool root, so
        a shipper only ever adopts records meant for its own database."""

    def open(self, root: Path, name: str) -> spool.SpoolWriter:
        """A spool directory of this process's own under ``root``, open for appending."""
        return spool.SpoolWriter(root, name)

    def shipper(self, directory: Path, root: Path, poll_seconds: float) -> tuple[list[str], dict[str, str]]:
        """The command line and the extra environment of the shipper of ``directory``."""
        argv = [
            sys.executable,
            "-m",
            "rebac.store.postgres.ship",
            "--dir",
            str(directory),
            "--root",
            str(root),
            "--parent",
            str(os.getpid()),
            "--poll",
            repr(poll_seconds),
        ]
        return argv, {CONNINFO_ENV: self._conninfo}


def _days(data: bytes) -> set[date]:
    """The UTC days (``YYYY-MM-DD``, each line's first field starts with it) of a batch."""
    return {date.fromisoformat(line[:10].decode("ascii")) for line in data.split(b"\n") if line}


class Shipper:
    """Ships complete spool lines into ``decision_log`` on one connection (blocking, one thread).

    Args:
        conninfo: libpq string of the primary.
        report: Called with ``(what, rows)`` after each commit (``written``, ``failed``,
            ``adopted``).
    """

    def __init__(self, conninfo: str, report: Report) -> None:
        self._conninfo = conninfo
        self._report = report
        self._conn: psycopg.Connection[Any] | None = None
        self._known: set[date] = set()
        self._failures = 0

    def _connection(self) -> psycopg.Connection[Any]:
        self._conn = conn = connected(self._conn, self._conninfo, "rebac-decision-shipper")
        return conn

    def close(self) -> None:
        """Close the connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _copy(self, data: bytes) -> tuple[int, int]:
        """Commit ``data`` (whole lines); ``(rows inserted, rows refused)``."""
        conn = self._connection()
        ensure_partitions(conn, _days(data), self._known)
        try:
            with conn.transaction(), conn.cursor() as cur, cur.copy(_COPY) as copy:
                copy.write(data)
            return data.count(b"\n"), 0
        except pg_errors.UniqueViolation:  # shipped before, its position not recorded: all in now
            self._merge(conn, data)
            return data.count(b"\n"), 0
        except pg_errors.CheckViolation as exc:
            if "partition" in str(exc):
                self._known.clear()  # a day was dropped by retention meanwhile: re-create, retry
                raise
            return self._one_by_one(conn, data)
        except (pg_errors.DataError, pg_errors.IntegrityError):
            return self._one_by_one(conn, data)

    def _merge(self, conn: psycopg.Connection[Any], data: bytes) -> int:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(_STAGE_DDL)
            with cur.copy(_STAGE_COPY) as copy:
                copy.write(data)
            cur.execute(_STAGE_MERGE)
            return max(cur.rowcount, 0)

    def _one_by_one(self, conn: psycopg.Connection[Any], data: bytes) -> tuple[int, int]:
        written = refused = 0
        for line in data.splitlines(keepends=True):
            try:
                self._merge(conn, line)
                written += 1
            except (pg_errors.DataError, pg_errors.IntegrityError) as exc:
                refused += 1
                print(  # noqa: T201 - the shipper's log is its standard error
                    f"rebac-decision-shipper: a decision record was refused ({type(exc).__name__}): "
                    f"{line[:200]!r}",
                    file=sys.stderr,
                )
        return written, refused

    def ship(self, data: bytes) -> tuple[int, int]:
        """Commit ``data``, retrying a database that is away until it answers.

        Returns ``(rows committed, rows refused)``: committed counts every line now in the table,
        a line that was already there included (shipped before its position was recorded).
        """
        while True:
            try:
                written, refused = self._copy(data)
            except psycopg.Error as exc:
                self.close()
                delay = _BACKOFF[min(self._failures, len(_BACKOFF) - 1)]
                if self._failures == 0:
                    print(  # noqa: T201
                        f"rebac-decision-shipper: the database refused a batch ({type(exc).__name__}); "
                        "retrying",
                        file=sys.stderr,
                    )
                self._failures += 1
                time.sleep(delay)
                continue
            self._failures = 0
            return written, refused

    def drain(self, directory: Path, *, final: bool) -> bool:
        """Ship what ``directory`` holds; True when ``final`` and nothing is left in it.

        Without ``final`` the newest segment is kept (its writer may still append to it).
        """
        found = spool.segments(directory)
        for index, segment in enumerate(found):
            newest = index == len(found) - 1
            shipped = self._drain_segment(segment, final=final)
            if shipped and (final or not newest):
                spool.remove_segment(segment)
        return final and not spool.segments(directory)

    def _drain_segment(self, segment: Path, *, final: bool) -> bool:
        """Ship the complete lines of ``segment``; True when all of it is shipped."""
        try:
            fd = os.open(segment, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            at = spool.position(segment)
            size = os.fstat(fd).st_size
            while at < size:
                data = os.pread(fd, min(_CHUNK_BYTES, size - at), at)
                end = data.rfind(b"\n") + 1
                if end == 0:
                    if len(data) < _CHUNK_BYTES and not final:
                        return False  # a batch being appended: the rest of its line comes later
                    print(  # noqa: T201 - a torn line: its writer died mid-write
                        f"rebac-decision-shipper: {len(data)} bytes of a torn record skipped in {segment}",
                        file=sys.stderr,
                    )
                    end = len(data)
                    at += end
                    spool.save_position(segment, at)
                    continue
                written, refused = self.ship(data[:end])
                at += end
                spool.save_position(segment, at)  # before the report: a lost report undercounts
                if written:
                    self._report("written", written)
                if refused:
                    self._report("failed", refused)
            return True
        finally:
            os.close(fd)

    def adopt(self, root: Path, own: Path) -> None:
        """Ship and delete every directory under ``root`` whose writer and shipper are both gone."""
        try:
            found = sorted(root.iterdir())
        except FileNotFoundError:
            return
        for directory in found:
            if directory == own or not directory.is_dir():
                continue
            shipper = spool.lock(directory / spool.SHIPPER_LOCK)
            if shipper is None:
                continue
            try:
                writer = spool.lock(directory / spool.WRITER_LOCK)
                if writer is None:
                    continue
                try:
                    self._adopt(directory)
                finally:
                    os.close(writer)
            finally:
                os.close(shipper)

    def _adopt(self, directory: Path) -> None:
        report = self._report
        self._report = lambda kind, rows: report("adopted" if kind == "written" else kind, rows)
        try:
            if self.drain(directory, final=True):
                spool.remove_directory(directory)
        finally:
            self._report = report


def _reporter() -> Report:
    broken = False

    def report(kind: str, rows: int) -> None:
        nonlocal broken
        if broken:
            return
        try:
            sys.stdout.write(f"{kind} {rows}\n")
            sys.stdout.flush()
        except (BrokenPipeError, OSError):
            broken = True  # the owner is gone: keep shipping, report to nobody

    return report


def main(argv: list[str] | None = None) -> int:
    """Run the shipper (see the module docstring); the exit status."""
    parser = argparse.ArgumentParser(prog="rebac-decision-shipper")
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--poll", type=float, default=_POLL_SECONDS)
    args = parser.parse_args(argv)
    conninfo = os.environ.get(CONNINFO_ENV)
    if not conninfo:
        print(f"rebac-decision-shipper: {CONNINFO_ENV} is not set", file=sys.stderr)  # noqa: T201
        return 2
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the owner's to act on
    owner_open = True  # standard input: the owner closes it (or dies) to ask us to finish
    own: Path = args.dir
    held = spool.lock(own / spool.SHIPPER_LOCK, create=True, wait=True)
    shipper = Shipper(conninfo, _reporter())
    adopted_at = 0.0
    try:
        while True:
            finishing = stopping or os.getppid() != args.parent
            if finishing and not own.exists():
                return 0
            writer = spool.lock(own / spool.WRITER_LOCK) if finishing else None
            if shipper.drain(own, final=writer is not None):
                spool.remove_directory(own)
                return 0
            if writer is not None:
                os.close(writer)
            now = time.monotonic()
            if now - adopted_at >= _ADOPT_SECONDS:
                adopted_at = now
                shipper.adopt(args.root, own)
            if owner_open:
                readable, _, _ = select.select([0], [], [], args.poll)
                if readable and not os.read(0, 4096):
                    owner_open = False
                    stopping = True
            else:
                time.sleep(args.poll)
    finally:
        shipper.close()
        if held is not None:
            os.close(held)

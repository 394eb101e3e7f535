"""The decision log of the Postgres store: batched inserts into daily partitions, queries, retention.

``decision_log`` is RANGE-partitioned by ``decided_at``; each UTC day is its own partition
(``decision_log_pYYYYMMDD``), created on demand before the first insert that needs it (under an
advisory lock, so concurrent writers, processes included, never race on the DDL). Retention drops
whole partitions, which costs a catalog update instead of a delete of every row.

Queries and retention run through the store's cancellation-safe ``read``/``write`` runners (see
:mod:`rebac.store.postgres._cancel`). The recorder's batches are written by
:class:`PgDecisionWriter`: a blocking writer with its own psycopg connection, used only by the
recorder's writer thread, so neither the event loop nor the read pool carries the log's writes.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import psycopg
import sqlalchemy as sa
from psycopg import errors as pg_errors
from sqlalchemy.ext.asyncio import AsyncConnection

from rebac.errors import StoreError
from rebac.store.base import DecisionFilter, DecisionKey, DecisionRecord, DecisionResult
from rebac.store.postgres.models import DECISION_PARTITION_PREFIX, decision_log

__all__ = ["PgDecisionLog", "PgDecisionWriter", "partition_name"]

Runner = Callable[[Callable[[AsyncConnection], Awaitable[Any]]], Awaitable[Any]]
CopyIn = Callable[[str, Iterable[str]], Awaitable[None]]
"""``(COPY statement, text chunks)``: one transaction on the hot-path pool (no SQLAlchemy)."""

_D: Final = decision_log.c
_PARTITION_LOCK: Final = 0x7265_6261_6364_6C67  # "rebacdlg": serialises partition DDL across processes
_COLUMNS: Final = (
    "decided_at, decision_id, source, caller, subject, permission, resource, result, reason, "
    "chain, revision, schema_version, schema_hash, context, latency_ms, decision_point"
)
_COPY: Final = f"COPY decision_log ({_COLUMNS}) FROM STDIN"
_YIELD_EVERY: Final = 32
"""COPY routes each row to its day's partition; several times faster than a multi-row INSERT."""
_LIST_PARTITIONS: Final = sa.text(
    "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'decision_log'::regclass"
)


def partition_name(day: date) -> str:
    """The partition holding ``day`` (UTC)."""
    return f"{DECISION_PARTITION_PREFIX}{day:%Y%m%d}"


def _day_of(name: str) -> date | None:
    suffix = name.removeprefix(DECISION_PARTITION_PREFIX)
    if suffix == name or len(suffix) != 8 or not suffix.isdigit():
        return None
    return datetime.strptime(suffix, "%Y%m%d").replace(tzinfo=UTC).date()


def _bounds(day: date) -> tuple[str, str]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start.isoformat(), (start + timedelta(days=1)).isoformat()


_COPY_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL: Final = "\\N"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND: Final = timedelta(seconds=1)


def _text(value: str | None) -> str:
    """``value`` as one field of COPY's text format (NULL marker; backslash, tab, CR and LF escaped)."""
    if value is None:
        return _NULL
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


RecordFields = tuple[Any, ...]
"""A record's fields in :class:`~rebac.store.base.DecisionRecord` order (``DecisionRecord(*fields)``)."""


_FIELDS: Final = tuple(f.name for f in dataclasses.fields(DecisionRecord))


def _fields_of(record: DecisionRecord) -> RecordFields:
    return tuple(getattr(record, name) for name in _FIELDS)


class CopyLines:
    """Formats a record's fields as one COPY text line, in ``_COLUMNS`` order.

    Formatted here rather than by psycopg's per-field adapters: every decision the service makes
    is formatted, and this is several times cheaper per row. The text of the current second is
    kept (one instance per thread), and a line is escaped field by field only when some field
    holds a backslash, tab, CR or LF.
    """

    __slots__ = ("_end", "_prefix", "_start")

    def __init__(self) -> None:
        self._start = self._end = _EPOCH  # the second the prefix is of: [start, end)
        self._prefix = ""

    def __call__(self, fields: RecordFields) -> str:
        """The line of ``fields`` (a :class:`~rebac.store.base.DecisionRecord`'s, in order)."""
        (decision_id, at, source, caller, subject, permission, resource, result, reason, chain, revision,
         version, schema_hash, context, latency_ms, point) = fields  # fmt: skip
        if at.tzinfo is not UTC and at.utcoffset():
            at = at.astimezone(UTC)
        if not self._start <= at < self._end:
            start = at.replace(microsecond=0)
            self._start, self._end, self._prefix = start, start + _SECOND, start.strftime("%Y-%m-%d %H:%M:%S")
        chain_text = json.dumps(list(chain)) if chain else "[]"
        context_text = None if context is None else json.dumps(context)
        raw = f"{source}{caller}{subject}{permission}{resource}{reason}{schema_hash}{point}"
        raw = f"{raw}{chain_text}{context_text}"
        if "\\" in raw or "\t" in raw or "\n" in raw or "\r" in raw:
            source, caller, subject, permission, resource, reason, schema_hash, point = map(
                _text, (source, caller, subject, permission, resource, reason, schema_hash, point)
            )
            chain_text = _text(chain_text)
            context_text = _text(context_text)
        return (
            f"{self._prefix}.{at.microsecond:06d}+00\t{decision_id}\t{source}\t"
            f"{_NULL if caller is None else caller}\t{subject}\t{permission}\t{resource}\t"
            f"{result.value}\t{reason}\t{chain_text}\t{_NULL if revision is None else revision}\t"
            f"{_NULL if version is None else version}\t{_NULL if schema_hash is None else schema_hash}\t"
            f"{_NULL if context_text is None else context_text}\t{latency_ms!r}\t"
            f"{_NULL if point is None else point}\n"
        )


def _chunks(batch: Sequence[DecisionRecord]) -> Iterator[str]:
    """The batch as COPY text, ``_YIELD_EVERY`` lines per chunk, formatted lazily (between yields)."""
    line = CopyLines()
    for start in range(0, len(batch), _YIELD_EVERY):
        yield "".join([line(_fields_of(record)) for record in batch[start : start + _YIELD_EVERY]])


def _record(row: sa.Row[Any]) -> DecisionRecord:
    return DecisionRecord(
        decision_id=str(row.decision_id),
        decided_at=row.decided_at.astimezone(UTC),
        source=row.source,
        caller=row.caller,
        subject=row.subject,
        permission=row.permission,
        resource=row.resource,
        result=DecisionResult(row.result),
        reason=row.reason,
        chain=tuple(row.chain or ()),
        revision=row.revision,
        schema_version=row.schema_version,
        schema_hash=row.schema_hash,
        context=row.context,
        latency_ms=float(row.latency_ms),
        decision_point=row.decision_point,
    )


def _exact_id(text: str) -> sa.ColumnElement[bool]:
    """``decision_id = ?``; text that is no UUID names no record (and reaches no SQL)."""
    try:
        return _D.decision_id == uuid.UUID(text)
    except ValueError:
        return sa.false()


def _select(flt: DecisionFilter, limit: int, after: DecisionKey | None) -> sa.Select[Any]:
    where: list[sa.ColumnElement[bool]] = []
    for column, value in (
        (_D.subject, flt.subject),
        (_D.resource, flt.resource),
        (_D.permission, flt.permission),
        (_D.source, flt.source),
        (_D.result, flt.result.value if flt.result is not None else None),
        (_D.decision_point, flt.decision_point),
    ):
        if value is not None:
            where.append(column == value)
    if flt.since is not None:
        where.append(_D.decided_at >= flt.since)
    if flt.until is not None:
        where.append(_D.decided_at < flt.until)
    if flt.decision_id is not None:
        where.append(_exact_id(flt.decision_id))
    if after is not None:
        where.append(sa.tuple_(_D.decided_at, _D.decision_id) < sa.tuple_(after[0], uuid.UUID(after[1])))
    return (
        sa.select(decision_log)
        .where(*where)
        .order_by(_D.decided_at.desc(), _D.decision_id.desc())
        .limit(limit)
    )


def _missing_partition(exc: StoreError) -> bool:
    """True when an insert failed because a day's partition is gone (dropped by another process)."""
    cause = exc.__cause__
    orig = getattr(cause, "orig", cause)  # SQLAlchemy wraps driver errors; the COPY path does not
    return isinstance(orig, pg_errors.CheckViolation) and "partition" in str(orig)


def _partition_ddl(day: date) -> str:
    low, high = _bounds(day)
    return (
        f'CREATE TABLE IF NOT EXISTS "{partition_name(day)}" PARTITION OF decision_log '
        f"FOR VALUES FROM ('{low}') TO ('{high}')"
    )


def connected(conn: psycopg.Connection[Any] | None, conninfo: str, name: str) -> psycopg.Connection[Any]:
    """``conn`` while it is open, else a new connection named ``name`` (5 s to connect)."""
    if conn is None or conn.closed:
        conn = psycopg.connect(conninfo, application_name=name, connect_timeout=5)
    return conn


def ensure_partitions(conn: psycopg.Connection[Any], days: set[date], known: set[date]) -> None:
    """Create the partitions of ``days`` not in ``known`` (one transaction), then add them to it."""
    missing = days - known
    if missing:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK,))
            for day in sorted(missing):
                conn.execute(_partition_ddl(day).encode())
        known |= missing


class PgDecisionWriter:
    """Writes decision batches with COPY on its own connection (blocking; one thread only).

    The connection is opened on the first batch and re-opened after any failure; a failed batch
    raises :class:`~rebac.errors.StoreError` and the recorder retries it. Between 64-line chunks
    the thread lets go of the GIL, so the event loop never waits long for it.

    Args:
        conninfo: libpq connection string of the primary.
    """

    __slots__ = ("_conn", "_conninfo", "_known")

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._conn: psycopg.Connection[Any] | None = None
        self._known: set[date] = set()

    def _connection(self) -> psycopg.Connection[Any]:
        self._conn = conn = connected(self._conn, self._conninfo, "rebac-decision-writer")
        return conn

    def write(self, batch: Sequence[DecisionRecord]) -> None:
        """Commit ``batch`` in one transaction, creating the days' partitions first."""
        if not batch:
            return
        days = {record.decided_at.astimezone(UTC).date() for record in batch}
        try:
            conn = self._connection()
            ensure_partitions(conn, days, self._known)
            with conn.transaction(), conn.cursor() as cur, cur.copy(_COPY) as copy:
                for chunk in _chunks(batch):
                    copy.write(chunk)
                    time.sleep(0)  # let the event loop's thread have the GIL between chunks
        except psycopg.Error as exc:
            if isinstance(exc, pg_errors.CheckViolation) and "partition" in str(exc):
                self._known -= days  # another process dropped one: re-create on the retry
            self.close()
            msg = f"the decision log write failed: {type(exc).__name__}"
            raise StoreError(msg) from exc

    def close(self) -> None:
        """Close the connection (the next batch opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class PgDecisionLog:
    """The :class:`~rebac.store.base.DecisionLog` half of the Postgres store.

    Args:
        read: Runs a body on an autocommit connection (the store's ``_read``).
        write: Runs a body in one transaction (the store's ``_write``).
        copy_in: Runs one COPY of text chunks in a transaction; the batches go through it.
    """

    __slots__ = ("_copy_in", "_known", "_read", "_write")

    def __init__(self, read: Runner, write: Runner, copy_in: CopyIn) -> None:
        self._read = read
        self._write = write
        self._copy_in = copy_in
        self._known: set[date] = set()

    async def _ensure_partitions(self, days: set[date]) -> None:
        missing = days - self._known
        if not missing:
            return

        async def txn(conn: AsyncConnection) -> None:
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PARTITION_LOCK)))
            for day in sorted(missing):
                await conn.execute(sa.text(_partition_ddl(day)))

        await self._write(txn)
        self._known |= missing

    async def append(self, batch: Sequence[DecisionRecord]) -> None:
        """Insert ``batch`` in one transaction, creating the days' partitions first."""
        if not batch:
            return
        days = {record.decided_at.astimezone(UTC).date() for record in batch}
        await self._ensure_partitions(days)
        try:
            await self._copy_in(_COPY, _chunks(batch))
        except StoreError as exc:
            if not _missing_partition(exc):
                raise
            self._known -= days  # another process dropped one: re-create, then retry once
            await self._ensure_partitions(days)
            await self._copy_in(_COPY, _chunks(batch))

    async def query(
        self, flt: DecisionFilter, *, limit: int, after: DecisionKey | None = None
    ) -> list[DecisionRecord]:
        """Records matching ``flt``, newest first."""
        stmt = _select(flt, limit, after)

        async def body(conn: AsyncConnection) -> list[DecisionRecord]:
            return [_record(row) for row in (await conn.execute(stmt)).all()]

        result: list[DecisionRecord] = await self._read(body)
        return result

    async def drop_before(self, before: datetime) -> int:
        """Drop the partitions of every UTC day ending at or before ``before``."""

        async def txn(conn: AsyncConnection) -> list[date]:
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PARTITION_LOCK)))
            names = (await conn.execute(_LIST_PARTITIONS)).scalars().all()
            doomed: list[date] = []
            for name in names:
                day = _day_of(str(name))
                if day is not None and datetime.fromisoformat(_bounds(day)[1]) <= before:
                    await conn.execute(sa.text(f'DROP TABLE IF EXISTS "{partition_name(day)}"'))
                    doomed.append(day)
            return doomed

        dropped: list[date] = await self._write(txn)
        self._known -= set(dropped)
        return len(dropped)

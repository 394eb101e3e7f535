"""Decision records and the decision log: what each decision records, and reading the log back.

:func:`check_and_record` is the one path every decision takes (a check, each bulk-check item, each
AuthZEN evaluation): the engine decides, and the decision is recorded with its caller, revision
and schema version by the :class:`~rebac.services.recorder.DecisionRecorder`, off the request
path. An error of the check is recorded too (result ``error``) and re-raised, so it fails closed.

:class:`Decisions` serves the log: pages newest first with an opaque cursor, an export of every
match, one record by its id, the recorder's counters and retention. :func:`decision_filter` makes
filters of query parameters or CLI options; it refuses malformed times and unknown results.

**One record by id.** A decision id is a UUIDv7 whose 48-bit millisecond field is the record's
``decided_at`` (the recorder makes it so; see :mod:`rebac.services.recorder`). :meth:`Decisions.get`
reads that time back and asks the log for the id within ``DECISION_ID_TIME_SLACK`` of it, so the
PostgreSQL log, partitioned by day, reads the one partition of that day (two within the slack of
midnight) instead of every day kept.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from rebac import errors, limits, opaque
from rebac.config import DecisionLogSettings
from rebac.engine.results import CheckResult
from rebac.engine.trace import CheckTrace
from rebac.errors import RebacError
from rebac.refs import ObjectRef, SubjectRef, parse_object, parse_subject
from rebac.services.decision_records import (
    DecisionScope,
    build_record,
    cap_context,
    record_fields,
    result_of,
)
from rebac.services.recorder import DecisionRecorder, DecisionStats
from rebac.services.spool_recorder import SpoolingRecorder
from rebac.services.tracing import Tracing
from rebac.store.base import (
    DecisionFilter,
    DecisionKey,
    DecisionLog,
    DecisionRecord,
    DecisionResult,
    TupleStore,
)

if TYPE_CHECKING:
    from rebac.engine import Engine

__all__ = [
    "DECISION_ID_TIME_SLACK",
    "Decision",
    "DecisionPage",
    "DecisionScope",
    "Decisions",
    "build_record",
    "cap_context",
    "check_and_record",
    "decision_filter",
    "decision_id_filter",
    "decision_id_time",
    "result_of",
]

DEFAULT_PAGE_SIZE: Final = 100
_EXPORT_PAGE: Final = 1000
_CURSOR: Final = "the decision-log cursor"
_CURSOR_DIGEST: Final = "decisions"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
DECISION_ID_TIME_SLACK: Final = timedelta(minutes=1)
"""How far a record's ``decided_at`` may lie from the time its id embeds (clock steps, older ids)."""


# --- what a decision records ------------------------------------------------------------------------


def _written(text: str | None, parse: Callable[[str], object]) -> str | None:
    """A reference filter as the log writes it (``user:rick@x`` and ``user:"rick@x"`` are one)."""
    if not text:
        return None
    try:
        return str(parse(text))
    except errors.RefSyntaxError:
        return text  # matches no record; the log holds parsed references only


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision: its decision-log id (``None`` when not recorded), its result, and its trace.

    ``trace`` is the evaluator's record of the sub-problems it dispatched, for a traced check
    (``withTracing``); ``None`` otherwise.
    """

    decision_id: str | None
    result: CheckResult
    trace: CheckTrace | None = None


async def check_and_record(  # noqa: PLR0917 - the check's own positionals, as Engine.check
    recorder: DecisionRecorder | None,
    engine: Engine,
    scope: DecisionScope,
    resource: ObjectRef,
    permission: str,
    subject: SubjectRef,
    *,
    context: Mapping[str, Any] | None = None,
    via: Sequence[SubjectRef] | None = None,
    traced: bool = False,
) -> Decision:
    """``engine.check`` at ``scope.revision``, recorded; returns the decision.

    With no recorder, the id is ``None``. An error of the check is recorded (result ``error``),
    its :class:`~rebac.errors.RebacError` ``details`` get the ``decisionId``, and it is re-raised.
    A cancelled check is not a decision and is not recorded. ``traced`` decides with
    :meth:`rebac.engine.Engine.check_traced` (the same answer, plus the evaluator's trace).
    """

    async def evaluate() -> tuple[CheckResult, CheckTrace | None]:
        if traced:
            return await engine.check_traced(
                resource, permission, subject, revision=scope.revision, context=context, via=via
            )
        result = await engine.check(
            resource, permission, subject, revision=scope.revision, context=context, via=via
        )
        return result, None

    if recorder is None:
        return Decision(None, *await evaluate())
    decided_at = recorder.now()
    decision_id = recorder.new_id(decided_at)
    started = time.perf_counter()
    outcome: CheckResult | Exception
    trace: CheckTrace | None = None
    try:
        outcome, trace = await evaluate()
    except Exception as exc:  # noqa: BLE001 - recorded, then re-raised below
        outcome = exc
    result = result_of(outcome)
    await recorder.defer(
        scope.source,
        result,
        record_fields,
        (
            decision_id,
            decided_at,
            scope,
            resource,
            permission,
            subject,
            outcome,
            context,
            (time.perf_counter() - started) * 1000.0,
            recorder.settings.max_context_bytes,
            recorder.instance_name,
        ),
    )
    if isinstance(outcome, Exception):
        if isinstance(outcome, RebacError):
            outcome.details.setdefault("decisionId", decision_id)
        raise outcome
    return Decision(decision_id, outcome, trace)


# --- reading the log --------------------------------------------------------------------------------


def _time(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise errors.InvalidInputError(
            f"{name} must be an ISO 8601 time", details={"parameter": name}
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def decision_filter(  # noqa: PLR0917 - one argument per query parameter
    subject: str | None,
    resource: str | None,
    permission: str | None,
    result: str | None,
    since: str | None,
    until: str | None,
    *,
    source: str | None = None,
    decision_point: str | None = None,
) -> DecisionFilter:
    """The filter for the query parameters of ``GET /v1/decisions`` (and ``rebac decisions``).

    Raises:
        InvalidInputError: an unknown ``result`` or a malformed time.
    """
    kind: DecisionResult | None = None
    if result:
        try:
            kind = DecisionResult(result)
        except ValueError as exc:
            allowed = ", ".join(r.value for r in DecisionResult)
            raise errors.InvalidInputError(
                f"result must be one of {allowed}", details={"parameter": "result"}
            ) from exc
    return DecisionFilter(
        subject=_written(subject, parse_subject),
        resource=_written(resource, parse_object),
        permission=permission or None,
        result=kind,
        since=_time(since, "since"),
        until=_time(until, "until"),
        source=source or None,
        decision_point=decision_point or None,
    )


def decision_id_time(decision_id: str) -> datetime:
    """The time a decision id embeds (its UUIDv7 millisecond field), aware UTC.

    Raises:
        InvalidInputError: the id is not a UUIDv7 (every decision id is one).
    """
    try:
        parsed = uuid.UUID(decision_id)
    except ValueError:
        parsed = None
    if parsed is None or parsed.version != 7 or str(parsed) != decision_id.lower():
        raise errors.InvalidInputError(
            "a decision id is a UUIDv7 such as 0192f0c0-1a2b-7c3d-8e4f-0123456789ab",
            details={"parameter": "decisionId"},
        )
    return _EPOCH + timedelta(milliseconds=parsed.int >> 80)


def decision_id_filter(decision_id: str) -> DecisionFilter:
    """The filter of one decision: its id, within ``DECISION_ID_TIME_SLACK`` of the time it embeds.

    Raises:
        InvalidInputError: the id is not a UUIDv7.
    """
    at = decision_id_time(decision_id)
    return DecisionFilter(
        decision_id=decision_id.lower(), since=at - DECISION_ID_TIME_SLACK, until=at + DECISION_ID_TIME_SLACK
    )


def _encode_cursor(key: DecisionKey) -> str:
    return opaque.Cursor(None, _CURSOR_DIGEST, (key[0].isoformat(), key[1])).encode()


def _decode_cursor(text: str) -> DecisionKey:
    after = opaque.Cursor.decode(text, _CURSOR_DIGEST, what=_CURSOR, size=2).after
    try:
        return datetime.fromisoformat(after[0]).astimezone(UTC), after[1]
    except ValueError:
        raise errors.InvalidTokenError(f"{_CURSOR} is malformed") from None


def page_size(limit: int | None) -> int:
    """The page size for ``limit`` (the default when ``None``).

    Raises:
        LimitExceededError: outside ``1..MAX_DECISION_PAGE_SIZE``.
    """
    if limit is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= limit <= limits.MAX_DECISION_PAGE_SIZE:
        raise errors.LimitExceededError(
            f"limit must be between 1 and {limits.MAX_DECISION_PAGE_SIZE}",
            limit="MAX_DECISION_PAGE_SIZE",
            maximum=limits.MAX_DECISION_PAGE_SIZE,
            actual=limit,
        )
    return limit


@dataclass(frozen=True, slots=True)
class DecisionPage:
    """One page of the log, newest first; ``cursor`` resumes after it (``None`` on the last page)."""

    records: tuple[DecisionRecord, ...]
    cursor: str | None


class Decisions:
    """The decision log of one store, and the recorder that fills it while the service runs.

    Args:
        store: The open store (its decision log, when it keeps one).
        settings: Sampling, buffering, batching and retention of the recorder.
    """

    __slots__ = ("_log", "recorder", "settings", "tracing")

    def __init__(self, store: TupleStore, settings: DecisionLogSettings) -> None:
        self._log = store.roles.decisions
        self.settings = settings
        self.recorder: DecisionRecorder | None = None
        """The running recorder (``None``: decisions are not recorded)."""
        self.tracing: Tracing | None = None
        """OpenTelemetry spans of decisions (``None``: off; see :mod:`rebac.services.tracing`)."""

    def start(self) -> None:
        """Start recording decisions (when enabled and the store keeps a log); idempotent.

        With ``spool_dir`` and a store that offers a spool, through the spool and a shipper
        process (:mod:`rebac.services.spool_recorder`); else with a writer thread.
        """
        if self.recorder is None and self.settings.enabled and self._log is not None:
            opener = getattr(self._log, "decision_spool", None)
            if self.settings.spool_dir is not None and callable(opener):
                self.recorder = SpoolingRecorder(self._log, self.settings, opener())
            else:
                self.recorder = DecisionRecorder(self._log, self.settings)
            self.recorder.start()

    async def aclose(self) -> None:
        """Write every accepted record and stop recording (a clean shutdown loses none)."""
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            await recorder.aclose()

    def log(self) -> DecisionLog:
        """The store's decision log.

        Raises:
            NotFoundError: the store keeps none.
        """
        if self._log is None:
            raise errors.NotFoundError("this store keeps no decision log")
        return self._log

    async def page(self, flt: DecisionFilter, *, limit: int | None, cursor: str | None) -> DecisionPage:
        """One page of matching records, newest first, after ``cursor`` (from the previous page)."""
        after = _decode_cursor(cursor) if cursor else None
        size = page_size(limit)
        found = await self.log().query_decisions(flt, limit=size, after=after)
        next_cursor = _encode_cursor(found[-1].key) if len(found) == size else None
        return DecisionPage(tuple(found), next_cursor)

    async def get(self, decision_id: str) -> DecisionRecord:
        """The recorded decision ``decision_id`` (read from the day its id names; see the module).

        Raises:
            InvalidInputError: the id is not a UUIDv7.
            NotFoundError: no such decision is recorded (never was, sampled out, not yet written,
                or dropped by retention), or the store keeps no decision log.
        """
        flt = decision_id_filter(decision_id)
        found = await self.log().query_decisions(flt, limit=1)
        if not found:
            raise errors.NotFoundError(
                f"no decision {decision_id.lower()} is recorded", details={"decisionId": decision_id.lower()}
            )
        return found[0]

    async def export(self, flt: DecisionFilter, *, total: int | None = None) -> AsyncIterator[DecisionRecord]:
        """Every matching record (at most ``total``), newest first, read a page at a time."""
        log = self.log()
        after: DecisionKey | None = None
        sent = 0
        while total is None or sent < total:
            size = _EXPORT_PAGE if total is None else min(_EXPORT_PAGE, total - sent)
            found = await log.query_decisions(flt, limit=size, after=after)
            for record in found:
                yield record
            sent += len(found)
            if len(found) < size:
                return
            after = found[-1].key

    def stats(self) -> DecisionStats | None:
        """The running recorder's counters (``None`` when decisions are not recorded)."""
        return None if self.recorder is None else self.recorder.stats()

    async def prune(self) -> int:
        """Drop the whole days older than the retention (none when it is off); return the days."""
        if self.settings.retention_days <= 0 or self._log is None:
            return 0
        return await DecisionRecorder(self._log, self.settings).prune()

"""Re-deciding logged decisions: what both analyses share (what-if and least privilege).

A decision record names its subject, resource and permission as text, with the caveat context it
was decided with (size-capped: a context too large to keep is a ``{"truncated": true}`` marker).
:func:`logged_check` turns a record back into a check, or says why it cannot be replayed;
:func:`recheck` decides it again on an engine, classifying every failure instead of raising it
(except a store error, which fails the whole analysis: nothing is ever guessed).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from rebac import errors
from rebac.config import EngineSettings
from rebac.engine.requests import canonical_context
from rebac.engine.results import Permissionship
from rebac.refs import ObjectRef, Relationship, SubjectRef, parse_object, parse_subject, stored
from rebac.schema import ir
from rebac.services.decisions import Decisions
from rebac.services.engines import build_engine
from rebac.services.overlay import OverlayReader
from rebac.store.base import DecisionRecord, DecisionResult, Operation, TupleStore
from rebac.store.revision import Revision

if TYPE_CHECKING:
    from rebac.engine import Engine

__all__ = [
    "WORKFLOW_SOURCE_PREFIX",
    "LogAnalysis",
    "LoggedCheck",
    "NotReplayable",
    "Recheck",
    "UnreplayableReason",
    "format_since",
    "is_check",
    "logged_check",
    "parse_since",
    "recheck",
    "recheck_all",
    "window_start",
]

WORKFLOW_SOURCE_PREFIX: Final = "access_request."
"""The log's source of access-request steps (:mod:`rebac.services.requests`): events, not checks."""

REPLAY_CONCURRENCY: Final = 4
"""Checks one analysis decides at once: a few, so the live traffic keeps most of the store's pool."""

_SINCE_RE: Final = re.compile(r"^([1-9][0-9]{0,8})([smhdw])$")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str) -> timedelta:
    """A window length such as ``30d``, ``24h``, ``90m``, ``45s`` or ``2w``.

    Raises:
        InvalidInputError: any other text.
    """
    found = _SINCE_RE.match(text.strip())
    if found is None:
        raise errors.InvalidInputError(
            f"since must be a positive whole number of s, m, h, d or w (such as 30d or 24h), not {text!r}",
            details={"parameter": "since"},
        )
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def format_since(since: timedelta) -> str:
    """``since`` in the largest unit that divides it (``30d``, ``36h``, ``45s``)."""
    seconds = int(since.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def window_start(since: timedelta, now: datetime) -> datetime:
    """The start of the window ``since`` before ``now``.

    Raises:
        InvalidInputError: ``since`` is not positive.
    """
    if since <= timedelta(0):
        raise errors.InvalidInputError("since must be a positive duration", details={"parameter": "since"})
    return now - since


class UnreplayableReason(StrEnum):
    """Why a logged decision could not be decided again."""

    CONTEXT_TRUNCATED = "context_truncated"
    """The record kept no caveat context (it was too large), so the check cannot be repeated."""
    CONTEXT_MISSING = "context_missing"
    """The replay needs caveat context the record does not have (the answer is conditional)."""
    NOT_IN_SCHEMA = "not_in_schema"
    """A type, relation or permission of the decision is not in the schema replayed against."""
    MALFORMED = "malformed"
    """The record's subject or resource text does not parse."""
    EVALUATION_ERROR = "evaluation_error"
    """The engine could not decide (depth, budget, deadline, caveat or delegation error)."""


@dataclass(frozen=True, slots=True)
class LoggedCheck:
    """A logged decision as a check: references in stored form and its context."""

    resource: ObjectRef
    permission: str
    subject: SubjectRef
    context: Mapping[str, Any] | None
    key: tuple[str, str, str, str]
    """``(resource, permission, subject, canonical context)``: identical checks share it."""


@dataclass(frozen=True, slots=True)
class NotReplayable:
    """Why a record or a check could not be replayed."""

    reason: UnreplayableReason
    message: str


def is_check(record: DecisionRecord) -> bool:
    """Whether ``record`` is a decision of a check (not the step of an access request)."""
    return not record.source.startswith(WORKFLOW_SOURCE_PREFIX)


def logged_check(record: DecisionRecord) -> LoggedCheck | NotReplayable:
    """The check ``record`` logged, or why it cannot be repeated."""
    context = record.context
    if context and context.get("truncated") is True and set(context) == {"truncated", "bytes"}:
        return NotReplayable(
            UnreplayableReason.CONTEXT_TRUNCATED, "the logged caveat context was too large to keep"
        )
    try:
        resource = stored(parse_object(record.resource))
        subject = stored(parse_subject(record.subject))
        key = canonical_context(context or {})
    except errors.InvalidInputError as exc:
        return NotReplayable(UnreplayableReason.MALFORMED, exc.message)
    return LoggedCheck(
        resource,
        record.permission,
        subject,
        context,
        (record.resource, record.permission, record.subject, key),
    )


@dataclass(frozen=True, slots=True)
class Recheck:
    """The answer of a repeated check: a result, or why there is none."""

    result: DecisionResult | None
    missing: frozenset[str] = frozenset()
    failure: NotReplayable | None = None


async def recheck(engine: Engine, check: LoggedCheck, revision: Revision) -> Recheck:
    """Decide ``check`` again on ``engine`` at ``revision`` (delegated, as every decision is).

    Raises:
        StoreError: the store could not be read (the analysis fails; nothing is guessed).
    """
    try:
        result = await engine.check(
            check.resource, check.permission, check.subject, revision=revision, context=check.context
        )
    except errors.NotFoundError as exc:
        return Recheck(None, failure=NotReplayable(UnreplayableReason.NOT_IN_SCHEMA, exc.message))
    except (errors.EvaluationError, errors.InvalidInputError) as exc:
        return Recheck(None, failure=NotReplayable(UnreplayableReason.EVALUATION_ERROR, exc.message))
    if result.permissionship is Permissionship.HAS_PERMISSION:
        return Recheck(DecisionResult.ALLOWED)
    if result.permissionship is Permissionship.CONDITIONAL:
        return Recheck(DecisionResult.CONDITIONAL, result.missing)
    return Recheck(DecisionResult.DENIED)


async def recheck_all(
    engine: Engine, checks: Iterable[LoggedCheck], revision: Revision
) -> dict[tuple[str, str, str, str], Recheck]:
    """:func:`recheck` of every check, :data:`REPLAY_CONCURRENCY` at a time, by check key.

    Raises:
        StoreError: the store could not be read (the other checks are cancelled).
    """
    answers: dict[tuple[str, str, str, str], Recheck] = {}
    pending = iter(checks)

    async def worker() -> None:
        for check in pending:  # one shared iterator: each check is taken by one worker
            answers[check.key] = await recheck(engine, check, revision)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(REPLAY_CONCURRENCY):
                group.create_task(worker())
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return answers


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LogAnalysis:
    """What both analyses hold: the store (only read), its decision log, the engine settings, a clock.

    Args:
        store: The store (read at its head; never written).
        decisions: The decision log.
        settings: Depth, deadline and delegation settings of the engines the analysis builds.
        clock: Wall clock: the window's end and expiration (injectable for tests).
    """

    __slots__ = ("_clock", "_decisions", "_settings", "_store")

    def __init__(
        self,
        store: TupleStore,
        decisions: Decisions,
        settings: EngineSettings,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self._decisions = decisions
        self._settings = settings
        self._clock = clock or _utcnow

    def overlay_engine(
        self, revision: Revision, schema: ir.Schema, changes: Sequence[tuple[Operation, Relationship]]
    ) -> Engine:
        """An engine of ``schema`` over the store at ``revision`` with ``changes`` applied in memory."""
        overlay = OverlayReader(self._store, revision, changes, clock=self._clock)
        return build_engine(overlay, schema, settings=self._settings, clock=self._clock)

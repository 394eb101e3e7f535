"""What-if replay: the logged decisions of a window, decided again under a proposed change.

Policies are code, and code is tested before it ships: :meth:`WhatIf.replay` takes a proposed
schema and/or relationship changes (the text of :mod:`rebac.services.overlay`), builds an engine
over an :class:`~rebac.services.overlay.OverlayReader` of the store's head snapshot with the
changes applied, compiled with the proposed schema (the current one when none is proposed), and
decides every logged decision of the window again. **Nothing is written**: not the schema, not a
relationship, not a decision record (the replay calls the engine, never the recorder).

Every decision whose result would change is a :class:`Flip` (allowed to denied, denied to
allowed, and the changes to and from conditional), with the subjects affected. A decision that
cannot be decided again (its context was too large to log, it needs caveat context the record
lacks, a name of it is gone from the proposed schema, the engine could not decide) is an
:class:`Unreplayable` entry, counted and listed, never dropped and never counted as allowed. A
decision logged as an *error* flips only when the replay allows it (both fail closed otherwise).

Identical checks (same resource, permission, subject and context) are decided once; the report
counts both the decisions and the distinct checks. At most ``limit`` decisions are read
(:data:`rebac.limits.WHAT_IF_MAX_DECISIONS`); a window holding more is reported ``truncated``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from rebac import errors, limits
from rebac.schema import compile_schema
from rebac.services.engines import Current
from rebac.services.overlay import parse_changes
from rebac.services.replaying import (
    LogAnalysis,
    LoggedCheck,
    NotReplayable,
    Recheck,
    UnreplayableReason,
    is_check,
    logged_check,
    recheck_all,
    window_start,
)
from rebac.store.base import (
    Consistency,
    ConsistencyMode,
    DecisionFilter,
    DecisionRecord,
    DecisionResult,
)

__all__ = ["Flip", "FlipKind", "LoggedDecision", "Unreplayable", "WhatIf", "WhatIfReport"]

SCHEMA_SOURCE: Final = "proposed schema"
CHANGES_SOURCE: Final = "changes"

FlipKind = str
"""``revoked`` (was allowed), ``granted`` (now allowed) or ``changed`` (denied and conditional)."""


@dataclass(frozen=True, slots=True)
class LoggedDecision:
    """A logged decision of the replay, as logged.

    Attributes:
        decision_id: The logged decision.
        decided_at: When it was decided.
        subject: Its subject, as logged (``agent:planner``).
        resource: Its resource, as logged.
        permission: Its permission.
        old: The logged result.
    """

    decision_id: str
    decided_at: datetime
    subject: str
    resource: str
    permission: str
    old: DecisionResult


@dataclass(frozen=True, slots=True)
class Flip(LoggedDecision):
    """A logged decision whose result the proposed change would change (``new``)."""

    new: DecisionResult

    @property
    def kind(self) -> FlipKind:
        """``revoked``, ``granted`` or ``changed``."""
        if self.old is DecisionResult.ALLOWED:
            return "revoked"
        if self.new is DecisionResult.ALLOWED:
            return "granted"
        return "changed"


@dataclass(frozen=True, slots=True)
class Unreplayable(LoggedDecision):
    """A logged decision that could not be decided again.

    ``reason`` says why; ``message`` gives the detail (the missing caveat parameters, the unknown
    name, the error).
    """

    reason: UnreplayableReason
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WhatIfReport:
    """The replay of one window under one proposed change.

    Attributes:
        since: The window's length.
        window_start: Its start (decisions decided at or after it, before ``now``).
        now: Its end.
        token: The consistency token of that snapshot.
        revision: The store snapshot the replay read (its revision number, as text).
        schema_changed: A schema was proposed (else the current one was used).
        schema_version: The current schema version the proposal is compared with.
        changes: Relationship changes proposed (lines of the changes text).
        decisions: Logged decisions replayed.
        skipped: Records of the window that are no check (access-request steps), not replayed.
        unique: Distinct checks among them (each decided once).
        unchanged: Decisions whose result stays the same.
        flips: Decisions whose result changes, newest first.
        unreplayable: Decisions that could not be decided again, newest first.
        limit: The most decisions read.
        truncated: The window holds more than ``limit`` decisions; the newest ``limit`` were replayed.
    """

    since: timedelta
    window_start: datetime
    now: datetime
    revision: str
    token: str
    schema_changed: bool
    schema_version: int
    changes: int
    decisions: int
    skipped: int
    unique: int
    unchanged: int
    flips: tuple[Flip, ...]
    unreplayable: tuple[Unreplayable, ...]
    limit: int
    truncated: bool

    @property
    def flipped(self) -> int:
        """How many decisions flip."""
        return len(self.flips)

    @property
    def revoked(self) -> int:
        """Flips from allowed."""
        return sum(1 for f in self.flips if f.kind == "revoked")

    @property
    def granted(self) -> int:
        """Flips to allowed."""
        return sum(1 for f in self.flips if f.kind == "granted")

    @property
    def subjects_affected(self) -> tuple[str, ...]:
        """Every subject with a flipped decision, sorted."""
        return tuple(sorted({f.subject for f in self.flips}))

    @property
    def message(self) -> str:
        """One line: ``N of M decisions would flip (R revoked, G granted), U could not be replayed``."""
        text = (
            f"{self.flipped} of {self.decisions} decisions would flip "
            f"({self.revoked} revoked, {self.granted} granted), "
            f"{len(self.unreplayable)} could not be replayed"
        )
        if self.truncated:
            text += f"; truncated at {self.limit} decisions (the window holds more)"
        return text


def _limit(value: int | None) -> int:
    if value is None:
        return limits.WHAT_IF_MAX_DECISIONS
    if not 1 <= value <= limits.WHAT_IF_MAX_DECISIONS:
        raise errors.LimitExceededError(
            f"limit must be between 1 and {limits.WHAT_IF_MAX_DECISIONS}",
            limit="WHAT_IF_MAX_DECISIONS",
            maximum=limits.WHAT_IF_MAX_DECISIONS,
            actual=value,
        )
    return value


def classify(old: DecisionResult, new: Recheck) -> DecisionResult | NotReplayable | None:
    """A flip's new result, why the decision is unreplayable, or ``None`` when it is unchanged.

    A logged error and a replayed denial both fail closed: only an allowed replay flips it.
    A conditional replay of a decision that was not conditional needs context the record lacks.
    """
    if new.failure is not None:
        return None if old is DecisionResult.ERROR else new.failure
    result = new.result
    if result is DecisionResult.CONDITIONAL and old is not DecisionResult.CONDITIONAL:
        missing = ", ".join(sorted(new.missing)) or "unknown parameters"
        return NotReplayable(UnreplayableReason.CONTEXT_MISSING, f"caveat context missing: {missing}")
    if old is DecisionResult.ERROR:
        return result if result is DecisionResult.ALLOWED else None
    return None if result is old else result


class WhatIf(LogAnalysis):
    """What-if replay over one store's decision log (see the module docstring)."""

    __slots__ = ()

    async def replay(
        self,
        current: Current,
        *,
        schema_text: str | None,
        changes_text: str | None,
        since: timedelta,
        limit: int | None = None,
        now: datetime | None = None,
    ) -> WhatIfReport:
        """Replay the decisions of the last ``since`` under the proposed schema and changes.

        Raises:
            InvalidInputError: neither a schema nor changes, a non-positive ``since``.
            SchemaError: the proposed schema does not compile (positioned diagnostics).
            ChangeLineError: a changes line is malformed or does not conform to the schema.
            LimitExceededError: ``limit`` outside ``1..WHAT_IF_MAX_DECISIONS``.
            NotFoundError: the store keeps no decision log.
            StoreError: the store could not be read.
        """
        if schema_text is None and changes_text is None:
            raise errors.InvalidInputError("propose a schema, relationship changes, or both")
        size = _limit(limit)
        end = now or self._clock()
        start = window_start(since, end)
        schema = (
            current.engine.model.schema if schema_text is None else compile_schema(schema_text, SCHEMA_SOURCE)
        )
        changes = (
            [] if changes_text is None else parse_changes(changes_text, source=CHANGES_SOURCE, schema=schema)
        )
        self._decisions.log()  # refuses a store that keeps no decision log, before any work
        revision = await self._store.resolve(Consistency(ConsistencyMode.FULLY_CONSISTENT))
        engine = self.overlay_engine(revision, schema, [(c.operation, c.relationship) for c in changes])
        records: list[DecisionRecord] = [
            r async for r in self._decisions.export(DecisionFilter(since=start, until=end), total=size + 1)
        ]
        truncated = len(records) > size
        records = records[:size]
        skipped = sum(1 for record in records if not is_check(record))
        records = [record for record in records if is_check(record)]
        parsed = [(record, logged_check(record)) for record in records]
        unique = {c.key: c for _, c in parsed if isinstance(c, LoggedCheck)}
        answers = await recheck_all(engine, unique.values(), revision)
        flips: list[Flip] = []
        unreplayable: list[Unreplayable] = []
        for record, check in parsed:
            outcome = classify(record.result, answers[check.key]) if isinstance(check, LoggedCheck) else check
            parts = (record.decision_id, record.decided_at, record.subject, record.resource)
            if isinstance(outcome, NotReplayable):
                unreplayable.append(
                    Unreplayable(*parts, record.permission, record.result, outcome.reason, outcome.message)
                )
            elif outcome is not None:
                flips.append(Flip(*parts, record.permission, record.result, outcome))
        return WhatIfReport(
            since=since,
            window_start=start,
            now=end,
            revision=str(revision),
            token=self._store.token_for(revision),
            schema_changed=schema_text is not None,
            schema_version=current.version.version,
            changes=len(changes),
            decisions=len(records),
            skipped=skipped,
            unique=len(answers),
            unchanged=len(records) - len(flips) - len(unreplayable),
            flips=tuple(flips),
            unreplayable=tuple(unreplayable),
            limit=size,
            truncated=truncated,
        )

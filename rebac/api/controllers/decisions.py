"""``/v1/decisions``: query and export the decision log, and the recorder's counters (scope ``admin``).

``GET /v1/decisions`` filters by ``subject``, ``resource``, ``permission``, ``result`` and a time
range (``since`` inclusive, ``until`` exclusive; ISO 8601, UTC when no offset is given), newest
first, one page at a time (``limit``, ``cursor`` from the previous page's ``nextCursor``).
``/v1/decisions/export`` takes the same filters and streams every matching record as NDJSON (one
JSON object per line; an error mid-stream ends it with an ``{"error": problem}`` line).
``/v1/decisions/stats`` shows the recorder's counters, including the records dropped under
overload.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Stream

from rebac import errors, limits
from rebac.api.auth import require_scope
from rebac.api.controllers._streaming import NDJSON
from rebac.api.problems import problem_for, problem_responses
from rebac.api.services import Services
from rebac.store.base import DecisionFilter, DecisionKey, DecisionLog, DecisionRecord, DecisionResult

__all__ = [
    "DecisionOut",
    "DecisionPage",
    "DecisionStatsOut",
    "DecisionsController",
    "decision_filter",
    "decision_out",
]

_DEFAULT_PAGE: Final = 100
_EXPORT_PAGE: Final = 1000


class DecisionOut(msgspec.Struct, rename="camel", omit_defaults=True):
    """One recorded decision."""

    decision_id: str
    decided_at: str
    source: str
    subject: str
    permission: str
    resource: str
    result: str
    reason: str
    latency_ms: float
    caller: str | None = None
    chain: list[dict[str, Any]] = msgspec.field(default_factory=list)
    revision: int | None = None
    schema_version: int | None = None
    schema_hash: str | None = None
    context: dict[str, Any] | None = None


class DecisionPage(msgspec.Struct, rename="camel", omit_defaults=True):
    """One page, newest first; ``nextCursor`` is absent on the last page."""

    decisions: list[DecisionOut]
    next_cursor: str | None = None


class DecisionStatsOut(msgspec.Struct, rename="camel"):
    """The recorder's counters (``recorded = written + queued + failed``)."""

    enabled: bool
    sample_rate: float
    recorded: int = 0
    written: int = 0
    queued: int = 0
    sampled_out: int = 0
    dropped: int = 0
    failed: int = 0
    batches: int = 0


def decision_out(record: DecisionRecord) -> DecisionOut:
    """The JSON shape of one record (the API and ``rebac decisions`` share it)."""
    return DecisionOut(
        decision_id=record.decision_id,
        decided_at=record.decided_at.isoformat().replace("+00:00", "Z"),
        source=record.source,
        subject=record.subject,
        permission=record.permission,
        resource=record.resource,
        result=record.result.value,
        reason=record.reason,
        latency_ms=record.latency_ms,
        caller=record.caller,
        chain=list(record.chain),
        revision=record.revision,
        schema_version=record.schema_version,
        schema_hash=record.schema_hash,
        context=record.context,
    )


def encode_cursor(key: DecisionKey) -> str:
    """The opaque cursor resuming after ``key``."""
    raw = json.dumps([key[0].isoformat(), key[1]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> DecisionKey:
    """The key a cursor resumes after.

    Raises:
        InvalidTokenError: not a cursor of this endpoint.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, decision_id = json.loads(raw)
        return datetime.fromisoformat(when).astimezone(UTC), str(decision_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise errors.InvalidTokenError("the cursor is not a decision-log cursor") from exc


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
) -> DecisionFilter:
    """The filter for the query parameters (also used by ``rebac decisions``).

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
        subject=subject or None,
        resource=resource or None,
        permission=permission or None,
        result=kind,
        since=_time(since, "since"),
        until=_time(until, "until"),
    )


def _log(services: Services) -> DecisionLog:
    store = services.store
    if not isinstance(store, DecisionLog):
        raise errors.NotFoundError("this store keeps no decision log")
    return store


def _limit(limit: int | None) -> int:
    if limit is None:
        return _DEFAULT_PAGE
    if not 1 <= limit <= limits.MAX_DECISION_PAGE_SIZE:
        raise errors.LimitExceededError(
            f"limit must be between 1 and {limits.MAX_DECISION_PAGE_SIZE}",
            limit="MAX_DECISION_PAGE_SIZE",
            maximum=limits.MAX_DECISION_PAGE_SIZE,
            actual=limit,
        )
    return limit


async def _lines(
    log: DecisionLog, flt: DecisionFilter, after: DecisionKey | None, total: int | None
) -> AsyncIterator[bytes]:
    encoder = msgspec.json.Encoder()
    sent = 0
    try:
        while total is None or sent < total:
            size = _EXPORT_PAGE if total is None else min(_EXPORT_PAGE, total - sent)
            page = await log.query_decisions(flt, limit=size, after=after)
            for record in page:
                yield encoder.encode(decision_out(record)) + b"\n"
            sent += len(page)
            if len(page) < size:
                return
            after = page[-1].key
    except Exception as exc:  # noqa: BLE001 - the stream has started: report the error as its last line
        yield encoder.encode({"error": problem_for(exc).body()}) + b"\n"


def _export(log: DecisionLog, flt: DecisionFilter, after: DecisionKey | None, total: int | None) -> Stream:
    return Stream(_lines(log, flt, after, total), media_type=NDJSON, headers={"Content-Type": NDJSON})


class DecisionsController(Controller):
    """The decision log (scope ``admin``)."""

    path = "/v1/decisions"
    guards = [require_scope("admin")]  # noqa: RUF012 - Litestar reads this class attribute
    tags = ["decisions"]  # noqa: RUF012

    @get("/", operation_id="ListDecisions", responses=problem_responses())
    async def list_decisions(
        self,
        services: NamedDependency[Services],
        *,
        subject: FromQuery[str | None] = None,
        resource: FromQuery[str | None] = None,
        permission: FromQuery[str | None] = None,
        result: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> DecisionPage:
        """Recorded decisions, newest first, one page (NDJSON of every match: ``/export``)."""
        flt = decision_filter(subject, resource, permission, result, since, until)
        after = decode_cursor(cursor) if cursor else None
        size = _limit(limit)
        page = await _log(services).query_decisions(flt, limit=size, after=after)
        next_cursor = encode_cursor(page[-1].key) if len(page) == size else None
        return DecisionPage(decisions=[decision_out(r) for r in page], next_cursor=next_cursor)

    @get("/export", operation_id="ExportDecisions", media_type=NDJSON, responses=problem_responses())
    async def export(
        self,
        services: NamedDependency[Services],
        *,
        subject: FromQuery[str | None] = None,
        resource: FromQuery[str | None] = None,
        permission: FromQuery[str | None] = None,
        result: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Stream:
        """Every matching decision (at most ``limit`` when given) as NDJSON, newest first."""
        flt = decision_filter(subject, resource, permission, result, since, until)
        return _export(_log(services), flt, None, _limit(limit) if limit is not None else None)

    @get("/stats", operation_id="DecisionLogStats", responses=problem_responses())
    async def stats(self, services: NamedDependency[Services]) -> DecisionStatsOut:
        """The recorder's counters, including records dropped under overload."""
        settings = services.settings.decisions
        recorder = services.decisions
        if recorder is None:
            return DecisionStatsOut(enabled=False, sample_rate=settings.sample_rate)
        s = recorder.stats()
        return DecisionStatsOut(
            enabled=True,
            sample_rate=settings.sample_rate,
            recorded=s.recorded,
            written=s.written,
            queued=s.queued,
            sampled_out=s.sampled_out,
            dropped=s.dropped,
            failed=s.failed,
            batches=s.batches,
        )

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

from collections.abc import AsyncIterator

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Stream

from rebac.api import convert, dto
from rebac.api.auth import require_scope
from rebac.api.controllers._streaming import NDJSON
from rebac.api.problems import problem_for, problem_responses
from rebac.services.core import Services
from rebac.services.decisions import decision_filter, page_size
from rebac.services.types import DecisionRecord

__all__ = ["DecisionsController"]


async def _lines(records: AsyncIterator[DecisionRecord]) -> AsyncIterator[bytes]:
    encoder = msgspec.json.Encoder()
    try:
        async for record in records:
            yield encoder.encode(convert.decision_dto(record)) + b"\n"
    except Exception as exc:  # noqa: BLE001 - the stream has started: report the error as its last line
        yield encoder.encode({"error": problem_for(exc).body()}) + b"\n"


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
    ) -> dto.DecisionPage:
        """Recorded decisions, newest first, one page (NDJSON of every match: ``/export``)."""
        flt = decision_filter(subject, resource, permission, result, since, until)
        page = await services.decisions.page(flt, limit=limit, cursor=cursor)
        return dto.DecisionPage(
            decisions=[convert.decision_dto(r) for r in page.records], next_cursor=page.cursor
        )

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
        decisions = services.decisions
        decisions.log()  # no decision log is a 404 before the stream starts
        records = decisions.export(flt, total=page_size(limit) if limit is not None else None)
        return Stream(_lines(records), media_type=NDJSON, headers={"Content-Type": NDJSON})

    @get("/stats", operation_id="DecisionLogStats", responses=problem_responses())
    async def stats(self, services: NamedDependency[Services]) -> dto.DecisionStatsOut:
        """The recorder's counters, including records dropped under overload."""
        decisions = services.decisions
        found = decisions.stats()
        if found is None:
            return dto.DecisionStatsOut(enabled=False, sample_rate=decisions.settings.sample_rate)
        return dto.DecisionStatsOut(
            enabled=True,
            sample_rate=decisions.settings.sample_rate,
            recorded=found.recorded,
            written=found.written,
            queued=found.queued,
            sampled_out=found.sampled_out,
            dropped=found.dropped,
            failed=found.failed,
            batches=found.batches,
        )

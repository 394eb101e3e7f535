"""``/v1/decisions``: query and export the decision log, and the recorder's counters (scope ``admin``).

``GET /v1/decisions`` filters by ``subject``, ``resource``, ``permission``, ``result`` and a time
range (``since`` inclusive, ``until`` exclusive; ISO 8601, UTC when no offset is given), newest
first, one page at a time (``limit``, ``cursor`` from the previous page's ``nextCursor``). Any other
query parameter is a 400 problem naming it (a misspelt filter would otherwise widen the answer
silently; one decision by its id is ``GET /v1/decisions/{decisionId}``).
``/v1/decisions/export`` takes the same filters (and refuses unknown ones the same way) and streams
every matching record as NDJSON (one JSON object per line). The first page is read before the
answer starts, so a query that fails is an ordinary problem; an error later in the stream ends it
with an ``{"error": problem}`` line. ``/v1/decisions/stats`` shows the recorder's counters, including the
records dropped under overload. ``/v1/decisions/{decisionId}`` is one record, in the shape of the
list's items (400 for an id that is no UUIDv7, 404 when none is recorded).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from typing import Annotated, Any, Final

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, PathParameter, QueryParameter
from litestar.response import Stream

from rebac.api import convert, dto
from rebac.api.auth import require_scope
from rebac.api.controllers._streaming import NDJSON, primed
from rebac.api.problems import problem_for, problem_responses
from rebac.errors import InvalidInputError
from rebac.services.core import Services
from rebac.services.decisions import decision_filter, page_size
from rebac.services.types import DecisionRecord

__all__ = ["DecisionsController"]

_FILTERS: Final = frozenset(
    {"subject", "resource", "permission", "result", "since", "until", "limit", "decisionPoint"}
)
_LIST_PARAMETERS: Final = _FILTERS | {"cursor"}


def _refuse_unknown(request: Request[Any, Any, Any], known: Collection[str]) -> None:
    """Raise a 400 naming the first query parameter that is not in ``known``.

    Raises:
        InvalidInputError: an unknown query parameter.
    """
    unknown = sorted(set(request.query_params) - set(known))
    if not unknown:
        return
    hint = " (one decision by its id: GET /v1/decisions/{decisionId})" if "decisionId" in unknown else ""
    raise InvalidInputError(
        f"unknown query parameter {unknown[0]!r}; the filters are {', '.join(sorted(known))}{hint}",
        details={"parameter": unknown[0], "unknown": unknown},
    )


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
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        *,
        subject: FromQuery[str | None] = None,
        resource: FromQuery[str | None] = None,
        permission: FromQuery[str | None] = None,
        result: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None,
        decision_point: Annotated[str | None, QueryParameter(name="decisionPoint")] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> dto.DecisionPage:
        """Recorded decisions, newest first, one page (NDJSON of every match: ``/export``).

        An unknown query parameter is a 400 problem naming it.
        """
        _refuse_unknown(request, _LIST_PARAMETERS)
        flt = decision_filter(
            subject, resource, permission, result, since, until, decision_point=decision_point
        )
        page = await services.decisions.page(flt, limit=limit, cursor=cursor)
        return dto.DecisionPage(
            decisions=[convert.decision_dto(r) for r in page.records], next_cursor=page.cursor
        )

    @get("/export", operation_id="ExportDecisions", media_type=NDJSON, responses=problem_responses())
    async def export(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        *,
        subject: FromQuery[str | None] = None,
        resource: FromQuery[str | None] = None,
        permission: FromQuery[str | None] = None,
        result: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None,
        decision_point: Annotated[str | None, QueryParameter(name="decisionPoint")] = None,
        limit: FromQuery[int | None] = None,
    ) -> Stream:
        """Every matching decision (at most ``limit`` when given) as NDJSON, newest first."""
        _refuse_unknown(request, _FILTERS)
        flt = decision_filter(
            subject, resource, permission, result, since, until, decision_point=decision_point
        )
        decisions = services.decisions
        decisions.log()  # no decision log is a 404 before the stream starts
        # The first page is read before the status is sent: a failing query is a problem, not a 200.
        records = await primed(decisions.export(flt, total=page_size(limit) if limit is not None else None))
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

    @get("/{decisionId:str}", operation_id="GetDecision", responses=problem_responses())
    async def get_decision(
        self,
        decision_id: Annotated[
            str, PathParameter(name="decisionId", description="The decisionId a check returned (UUIDv7).")
        ],
        services: NamedDependency[Services],
    ) -> dto.DecisionOut:
        """One recorded decision by its id (the ``decisionId`` a check returned).

        400 for an id that is no UUIDv7; 404 when no such decision is recorded (never made,
        sampled out, not written yet, or past retention).
        """
        return convert.decision_dto(await services.decisions.get(decision_id))

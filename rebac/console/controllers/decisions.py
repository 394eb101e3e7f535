"""``/console/decisions``: the decision log, filtered and followed live, and one decision's page.

Thin: query parameters -> :func:`rebac.services.decisions.decision_filter` ->
:meth:`~rebac.services.decisions.Decisions.page` (keyset paging by its cursor) -> template. The
table follows new decisions by polling ``/console/decisions/new`` (htmx, every few seconds) with
the newest key shown; the answer is the rows above it, newest first, which htmx prepends.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.response import Template

from rebac.console.access import signed
from rebac.console.paths import deciding_paths
from rebac.console.views import decision_view, filters_query, following_key, newer_than
from rebac.services.core import Services
from rebac.services.decisions import decision_filter
from rebac.services.types import Current

__all__ = ["DecisionsController"]

PAGE: Final = 50
FOLLOW_LIMIT: Final = 100
POLL_SECONDS: Final = 3
_FILTERS: Final = ("subject", "resource", "permission", "result", "source", "since", "until")


def _filters(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {name: value for name in _FILTERS if (value := request.query_params.get(name, "").strip())}


def _flt(given: dict[str, str]) -> Any:
    return decision_filter(
        given.get("subject"),
        given.get("resource"),
        given.get("permission"),
        given.get("result"),
        given.get("since"),
        given.get("until"),
        source=given.get("source"),
    )


class DecisionsController(Controller):
    """The decision log pages (behind the console's session guard)."""

    path = "/decisions"

    @get("/", include_in_schema=False)
    async def table(self, request: Request[Any, Any, Any], services: NamedDependency[Services]) -> Template:
        """The filtered table, newest first, one page (``cursor`` from the previous page)."""
        given = _filters(request)
        flt = _flt(given)
        page = await services.decisions.page(
            flt, limit=PAGE, cursor=request.query_params.get("cursor") or None
        )
        rows = [decision_view(r) for r in page.records]
        context = {
            "me": signed(request),
            "nav": "decisions",
            "filters": given,
            "rows": rows,
            "next_cursor": page.cursor,
            "query": filters_query(given),
            "follow": following_key(page.records[0] if page.records else None, datetime.now(UTC)),
            "following": not request.query_params.get("cursor"),
            "poll_seconds": POLL_SECONDS,
            "results": ("allowed", "denied", "conditional", "error"),
        }
        template = "_decision_rows.html" if request.headers.get("hx-request") == "true" else "decisions.html"
        return Template(template_name=template, context=context)

    @get("/new", include_in_schema=False)
    async def new(self, request: Request[Any, Any, Any], services: NamedDependency[Services]) -> Template:
        """The decisions newer than ``after`` (the newest row shown), for the live table."""
        given = _filters(request)
        after = request.query_params.get("after", "")
        key, since = newer_than(after)
        flt = _flt(given)
        if since is not None and (flt.since is None or flt.since < since):
            flt = replace(flt, since=since)
        page = await services.decisions.page(flt, limit=FOLLOW_LIMIT, cursor=None)
        fresh = [r for r in page.records if key is None or r.key > key]
        context = {
            "rows": [decision_view(r) for r in fresh],
            "follow": following_key(fresh[0] if fresh else None, None) or after,
            "query": filters_query(given),
            "poll_seconds": POLL_SECONDS,
        }
        return Template(template_name="_decision_new.html", context=context)

    @get("/{decision_id:str}", include_in_schema=False)
    async def detail(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
        decision_id: Annotated[str, PathParameter(description="The decision's id (UUIDv7).")],
    ) -> Template:
        """One decision: its deciding path and delegation chain, the failing hop marked."""
        record = await services.decisions.get(decision_id)
        return Template(
            template_name="decision.html",
            context={
                "me": signed(request),
                "nav": "decisions",
                "d": decision_view(record, detail=True),
                "paths": await deciding_paths(services, current, record),
            },
        )

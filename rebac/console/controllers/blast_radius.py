"""``/console/blast-radius``: what a subject can reach, who can reach a resource, and the export.

Thin: query parameters -> :class:`rebac.services.reach.Reach` (``blast_radius`` forward, or
``who_can_reach`` with ``resource``) -> :func:`rebac.console.reach_views.reach_view` -> template;
the graph is drawn in the browser by cytoscape.js (``static/reach.js``). The export answers the
same query with the service's node-link JSON or GraphML (what ``POST /v1/blast-radius`` returns
with ``format``), as a download.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.response import Template

from rebac.console.access import signed
from rebac.console.reach_views import MAX_DRAWN_NODES, reach_view
from rebac.errors import InvalidInputError
from rebac.refs import parse_object, parse_subject
from rebac.services.blast_radius import BlastRadius, WhoCanReach, to_graphml, to_json
from rebac.services.core import Services
from rebac.services.types import Consistency, ConsistencyMode, Current

__all__ = ["BlastRadiusController"]

_HEAD: Final = Consistency(ConsistencyMode.FULLY_CONSISTENT)
_PARAMS: Final = ("subject", "resource", "permission", "resource_type", "raw_only")
_EXPORTS: Final = {
    "json-graph": ("application/json", "json", to_json),
    "graphml": ("application/xml", "graphml", to_graphml),
}


def _params(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {name: value for name in _PARAMS if (value := request.query_params.get(name, "").strip())}


async def _reach(services: Services, current: Current, given: dict[str, str]) -> BlastRadius | WhoCanReach:
    """The forward result for ``subject``, or the reverse one for ``resource`` (not both)."""
    if "subject" in given and "resource" in given:
        raise InvalidInputError(
            "name a subject (what it can reach) or a resource (who can reach it), not both"
        )
    revision = await services.checks.revision(current, _HEAD)
    raw_only = given.get("raw_only") == "1"
    permission = given.get("permission")
    if "resource" in given:
        return await services.reach.who_can_reach(
            current, parse_object(given["resource"]), permission, revision=revision, raw_only=raw_only
        )
    if "subject" not in given:
        raise InvalidInputError("name a subject or a resource")
    kind = given.get("resource_type")
    return await services.reach.blast_radius(
        current,
        parse_subject(given["subject"]),
        revision=revision,
        resource_types=[kind] if kind else None,
        permissions=[permission] if permission else None,
        raw_only=raw_only,
    )


class BlastRadiusController(Controller):
    """The blast-radius page and its export (behind the console's session guard)."""

    path = "/blast-radius"

    @get("/", include_in_schema=False)
    async def page(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
    ) -> Template:
        """The form, and with ``subject`` (forward) or ``resource`` (reverse) the graph and table."""
        given = _params(request)
        view = None
        if "subject" in given or "resource" in given:
            view = reach_view(await _reach(services, current, given))
        return Template(
            template_name="blast_radius.html",
            context={
                "me": signed(request),
                "nav": "blast-radius",
                "given": given,
                "reverse": "resource" in given or request.query_params.get("view") == "reverse",
                "view": view,
                "query": urlencode(sorted(given.items())),
                "max_nodes": MAX_DRAWN_NODES,
            },
        )

    @get("/export", include_in_schema=False)
    async def export(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
    ) -> Response[bytes]:
        """The same query as the page, as node-link JSON (``format=json-graph``) or GraphML."""
        given = _params(request)
        chosen = request.query_params.get("format", "json-graph")
        if chosen not in _EXPORTS:
            raise InvalidInputError(f"unknown export format {chosen!r}: use json-graph or graphml")
        media_type, suffix, render = _EXPORTS[chosen]
        result = await _reach(services, current, given)
        origin = given.get("resource") or given.get("subject", "")
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in origin)
        view = "who-can-reach" if isinstance(result, WhoCanReach) else "blast-radius"
        return Response(
            render(result).encode(),
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{view}-{name}.{suffix}"'},
        )

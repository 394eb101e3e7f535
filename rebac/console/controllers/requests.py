"""``/console/requests``: pending and recent access requests, approve / deny, and the audit trail.

Thin: :class:`rebac.services.requests.AccessRequests` does every rule (who may approve, the
grant's write, the expiry of stale requests); the console acts in the name of the subject the
session's key acts for, like ``POST /access/v1/requests/{id}/approve``. An approval may grant
less time than was asked (``duration``), never more. A request's page shows its audit trail: the
``access_request.*`` steps of the decision log that name it.
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, PathParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from rebac.console.access import signed
from rebac.console.inventory_views import request_view, trail_of
from rebac.console.views import decision_view
from rebac.errors import InvalidInputError
from rebac.services.core import Services
from rebac.services.decisions import decision_filter
from rebac.services.types import Current

__all__ = ["DURATIONS", "RequestsController"]

PENDING_LIMIT: Final = 100
RECENT_LIMIT: Final = 50
TRAIL_LIMIT: Final = 200
DURATIONS: Final = (
    ("", "as requested"),
    ("900", "15 minutes"),
    ("3600", "1 hour"),
    ("28800", "8 hours"),
    ("86400", "24 hours"),
)
_FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
_RequestId = Annotated[str, PathParameter(description="The access request's id.")]


def _duration(text: str | None) -> int | None:
    """The approver's grant duration in seconds (``None``: as requested)."""
    if not text:
        return None
    try:
        seconds = int(text)
    except ValueError:
        raise InvalidInputError("the duration must be a number of seconds") from None
    if seconds <= 0:
        raise InvalidInputError("the duration must be a positive number of seconds")
    return seconds


def _back_to_queue(request_id: str) -> Redirect:
    """After a decision: the queue, which names the request just decided."""
    return Redirect(f"/console/requests?{urlencode({'done': request_id})}", status_code=HTTP_303_SEE_OTHER)


class RequestsController(Controller):
    """The access-request queue (behind the console's session guard)."""

    path = "/requests"

    @get("/", include_in_schema=False)
    async def queue(self, request: Request[Any, Any, Any], services: NamedDependency[Services]) -> Template:
        """Pending requests (oldest deadline first) and the most recent decided ones."""
        pending, _ = await services.requests.list(status="pending", before=None, limit=PENDING_LIMIT)
        recent, _ = await services.requests.list(status=None, before=None, limit=RECENT_LIMIT)
        return Template(
            template_name="requests.html",
            context={
                "me": signed(request),
                "nav": "requests",
                "pending": [request_view(r) for r in sorted(pending, key=lambda r: r.expires_at)],
                "recent": [request_view(r) for r in recent if r.status != "pending"],
                "durations": DURATIONS,
                "done": request.query_params.get("done", ""),
            },
        )

    @get("/{request_id:str}", include_in_schema=False)
    async def detail(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services], request_id: _RequestId
    ) -> Template:
        """One request and its audit trail."""
        found = await services.requests.get(request_id)
        flt = decision_filter(found.subject, found.resource, None, None, None, None)
        page = await services.decisions.page(flt, limit=TRAIL_LIMIT, cursor=None)
        trail = [decision_view(r) for r in trail_of(found.request_id, list(page.records))]
        return Template(
            template_name="request.html",
            context={
                "me": signed(request),
                "nav": "requests",
                "r": request_view(found),
                "trail": trail,
                "durations": DURATIONS,
                "story": urlencode({"subject": found.subject, "resource": found.resource}),
            },
        )

    @post("/{request_id:str}/approve", include_in_schema=False, status_code=303)
    async def approve(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
        request_id: _RequestId,
        data: Annotated[dict[str, str], _FORM],
    ) -> Redirect:
        """Approve as the key's subject (for ``duration`` seconds at most, when given)."""
        me = signed(request)
        decided = await services.requests.approve(
            current,
            request_id,
            approver=me.principal.subject,
            reason=data.get("reason", "").strip(),
            caller=me.principal.key_id,
            grant_seconds=_duration(data.get("duration")),
        )
        return _back_to_queue(decided.request_id)

    @post("/{request_id:str}/deny", include_in_schema=False, status_code=303)
    async def deny(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
        request_id: _RequestId,
        data: Annotated[dict[str, str], _FORM],
    ) -> Redirect:
        """Deny as the key's subject; nothing is granted."""
        me = signed(request)
        decided = await services.requests.deny(
            current,
            request_id,
            approver=me.principal.subject,
            reason=data.get("reason", "").strip(),
            caller=me.principal.key_id,
        )
        return _back_to_queue(decided.request_id)

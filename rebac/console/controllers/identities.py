"""``/console/identities``: the non-human identity inventory, its flags and the review action.

Thin: :meth:`rebac.services.inventory.Inventory.identities` (one page, keyset cursor) ->
:func:`rebac.console.inventory_views.identity_view` -> template. A review is
:meth:`~rebac.services.inventory.Inventory.review_as` in the name of the subject the session's
key acts for, under the API's rule (no owner reviews her own agent; a key acting for no one
cannot review); a refusal is a page saying why, and nothing is written.
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from rebac.console.access import signed
from rebac.console.analysis_views import least_privilege_view
from rebac.console.inventory_views import identity_view
from rebac.errors import InvalidInputError
from rebac.refs import parse_subject
from rebac.services.core import Services
from rebac.services.replaying import parse_since
from rebac.services.types import Current

__all__ = ["IdentitiesController"]

PAGE: Final = 25
LEAST_PRIVILEGE_WINDOW: Final = "30d"
BLAST_BUDGET: Final = 2_000
"""Per identity: enough to size a demo's reach without slowing the page on a large store."""
_FORM = Body(media_type=RequestEncodingType.URL_ENCODED)


class IdentitiesController(Controller):
    """The identity inventory (behind the console's session guard)."""

    path = "/identities"

    @get("/", include_in_schema=False)
    async def inventory(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
    ) -> Template:
        """One page of identities with their flags; ``flagged=1`` lists flagged ones only."""
        kind = request.query_params.get("type") or None
        flagged = request.query_params.get("flagged") == "1"
        page = await services.inventory.identities(
            current,
            identity_type=kind,
            flagged_only=flagged,
            limit=PAGE,
            cursor=request.query_params.get("cursor") or None,
            blast_budget=BLAST_BUDGET,
        )
        query = urlencode({k: v for k, v in (("type", kind), ("flagged", "1" if flagged else None)) if v})
        return Template(
            template_name="identities.html",
            context={
                "me": signed(request),
                "nav": "identities",
                "identities": [identity_view(i) for i in page.identities],
                "types": page.types,
                "kind": kind or "",
                "flagged": flagged,
                "query": query,
                "next_cursor": page.cursor,
                "unused_days": current.engine.settings.review_unused_days,
                "reviewed": request.query_params.get("reviewed", ""),
            },
        )

    @get("/least-privilege", include_in_schema=False)
    async def least_privilege(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
    ) -> Template:
        """What ``subject`` holds against what it used in the last ``since``, and removable grants."""
        text = request.query_params.get("subject", "").strip()
        since = request.query_params.get("since", "").strip() or LEAST_PRIVILEGE_WINDOW
        report = None
        if text:
            found = await services.least_privilege.report(current, parse_subject(text), parse_since(since))
            report = least_privilege_view(found)
        return Template(
            template_name="least_privilege.html",
            context={
                "me": signed(request),
                "nav": "identities",
                "subject": text,
                "since": since,
                "report": report,
            },
        )

    @post("/review", include_in_schema=False, status_code=303)
    async def review(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
        data: Annotated[dict[str, str], _FORM],
    ) -> Redirect:
        """Approve the identity's current grants as the key's subject; back to the inventory."""
        me = signed(request)
        text = data.get("subject", "").strip()
        if not text:
            raise InvalidInputError("name the identity to review")
        subject = parse_subject(text)
        review = await services.inventory.review_as(
            current,
            subject,
            reviewer=me.principal.subject,
            note=data.get("note", "").strip(),
            caller=me.principal.key_id,
        )
        back = data.get("back", "")
        query = urlencode({"reviewed": str(review.subject)})
        target = f"/console/identities?{back}&{query}" if back else f"/console/identities?{query}"
        return Redirect(target, status_code=HTTP_303_SEE_OTHER)

"""``/console/schema``: the schema's versions, one version's text, the diff between two, what-if.

Thin: :meth:`rebac.services.schemas.Schemas.history` / ``version`` ->
:func:`rebac.services.schemas.diff_versions` -> :mod:`rebac.console.schema_views` -> template.
``version`` picks the text shown (default: the current version); ``from`` and ``to`` pick a diff
(default: the previous version against the one shown).

The what-if form (``POST /console/schema/what-if``, multipart: pasted text or uploaded files)
calls :meth:`rebac.services.what_if.WhatIf.replay`, which writes nothing, and shows its report
on the same page. A proposal that does not compile or parse is shown beside the form with the
text kept, so it can be fixed in place.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template

from rebac.console.access import signed
from rebac.console.analysis_views import what_if_view
from rebac.console.schema_views import diff_lines, version_number, version_view
from rebac.errors import InvalidInputError
from rebac.services.core import Services
from rebac.services.replaying import parse_since
from rebac.services.schemas import diff_versions
from rebac.services.types import Current

__all__ = ["SchemaController"]

DEFAULT_WINDOW: Final = "24h"
MAX_UPLOAD_BYTES: Final = 4 * 1024 * 1024
"""The most a proposed schema or changes file may hold."""
_MULTIPART = Body(media_type=RequestEncodingType.MULTI_PART)


async def _text(data: dict[str, Any], field: str) -> str | None:
    """The uploaded file ``<field>_file`` if one was chosen, else the pasted ``field``; ``None``: empty."""
    upload = data.get(f"{field}_file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(raw) > MAX_UPLOAD_BYTES:
            raise InvalidInputError(f"the {field} file is larger than {MAX_UPLOAD_BYTES} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(f"the {field} file is not UTF-8 text") from None
    else:
        pasted = data.get(field)
        text = pasted if isinstance(pasted, str) else ""
    return text if text.strip() else None


async def _context(request: Request[Any, Any, Any], services: Services) -> dict[str, Any]:
    """The page's context: the history, the version shown and the diff the query asks for."""
    params = request.query_params
    shown_number = version_number(params.get("version"), "version")
    old_number = version_number(params.get("from"), "from")
    new_number = version_number(params.get("to"), "to")
    history, current = await services.schemas.history()
    shown = await services.schemas.version(shown_number) if shown_number is not None else current
    new = await services.schemas.version(new_number) if new_number is not None else shown
    old_at = old_number
    if old_at is None and new is not None and new.version > 1:
        old_at = new.version - 1
    diff = (
        None if new is None or old_at is None else diff_versions(await services.schemas.version(old_at), new)
    )
    return {
        "me": signed(request),
        "nav": "schema",
        "versions": [version_view(v, current) for v in reversed(history)],
        "shown": None if shown is None else version_view(shown, current),
        "text": "" if shown is None else shown.text,
        "diff": diff,
        "diff_lines": () if diff is None else diff_lines(diff),
        "diff_from": "" if diff is None else diff.old_label.removeprefix("version "),
        "diff_to": "" if diff is None else diff.new_label.removeprefix("version "),
        "proposal": {"since": DEFAULT_WINDOW},
        "report": None,
        "what_if_error": "",
    }


class SchemaController(Controller):
    """The schema page and its what-if form (behind the console's session guard)."""

    path = "/schema"

    @get("/", include_in_schema=False)
    async def page(self, request: Request[Any, Any, Any], services: NamedDependency[Services]) -> Template:
        """The version history, the text of ``version`` and the diff ``from`` -> ``to``."""
        return Template(template_name="schema.html", context=await _context(request, services))

    @post("/what-if", include_in_schema=False, status_code=200)
    async def what_if(
        self,
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
        current: NamedDependency[Current],
        data: Annotated[dict[str, Any], _MULTIPART],
    ) -> Template:
        """Replay the window's logged decisions under the proposal; the page with the report."""
        context = await _context(request, services)
        since_text = str(data.get("since") or DEFAULT_WINDOW).strip()
        schema_text = await _text(data, "schema")
        changes_text = await _text(data, "changes")
        context["proposal"] = {
            "since": since_text,
            "schema": schema_text or "",
            "changes": changes_text or "",
        }
        try:
            report = await services.what_if.replay(
                current, schema_text=schema_text, changes_text=changes_text, since=parse_since(since_text)
            )
        except InvalidInputError as exc:  # a proposal to fix in place: keep what was entered
            context["what_if_error"] = exc.message
            return Template(template_name="schema.html", context=context, status_code=400)
        context["report"] = what_if_view(report)
        return Template(template_name="schema.html", context=context)

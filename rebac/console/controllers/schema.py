"""``/console/schema``: the schema's versions, one version's text, and the diff between two.

Thin: :meth:`rebac.services.schemas.Schemas.history` / ``version`` ->
:func:`rebac.services.schemas.diff_versions` -> :mod:`rebac.console.schema_views` -> template.
``version`` picks the text shown (default: the current version); ``from`` and ``to`` pick a diff
(default: the previous version against the one shown).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from rebac.console.access import signed
from rebac.console.schema_views import diff_lines, version_number, version_view
from rebac.services.core import Services
from rebac.services.schemas import diff_versions

__all__ = ["SchemaController"]


class SchemaController(Controller):
    """The schema page (behind the console's session guard)."""

    path = "/schema"

    @get("/", include_in_schema=False)
    async def page(self, request: Request[Any, Any, Any], services: NamedDependency[Services]) -> Template:
        """The version history, the text of ``version`` and the diff ``from`` -> ``to``."""
        params = request.query_params
        shown_number = version_number(params.get("version"), "version")
        old_number = version_number(params.get("from"), "from")
        new_number = version_number(params.get("to"), "to")
        history, current = await services.schemas.history()
        shown = None
        if shown_number is not None:
            shown = await services.schemas.version(shown_number)
        elif current is not None:
            shown = current
        diff = None
        if shown is not None or (old_number is not None and new_number is not None):
            new = await services.schemas.version(new_number) if new_number is not None else shown
            old_default = None if new is None or new.version == 1 else new.version - 1
            old_at = old_number if old_number is not None else old_default
            if new is not None and old_at is not None:
                diff = diff_versions(await services.schemas.version(old_at), new)
        return Template(
            template_name="schema.html",
            context={
                "me": signed(request),
                "nav": "schema",
                "versions": [version_view(v, current) for v in reversed(history)],
                "shown": None if shown is None else version_view(shown, current),
                "text": "" if shown is None else shown.text,
                "diff": diff,
                "diff_lines": () if diff is None else diff_lines(diff),
                "diff_from": "" if diff is None else diff.old_label.removeprefix("version "),
                "diff_to": "" if diff is None else diff.new_label.removeprefix("version "),
            },
        )

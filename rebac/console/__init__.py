"""The governance console at ``/console``: server-rendered pages (Jinja + htmx) over the services.

:func:`console_router` builds the console's routes for one app (``rebac.api.app.create_app``
mounts them) and :func:`console_templates` its template engine. Every asset is served from
``/console/static`` (htmx is vendored under ``static/vendor``); no page loads anything from
another origin, and the Content-Security-Policy says so (:mod:`rebac.console.security`).

See ``docs/console.md`` for the pages and how to add one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from litestar import Router
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from rebac.config import Settings
from rebac.console.access import ConsoleState, signed_in
from rebac.console.controllers import PAGES
from rebac.console.controllers.signin import SignInController, SignOutController
from rebac.console.errors import console_exception_handlers
from rebac.console.security import SecurityHeaders
from rebac.console.session import SessionCodec, console_secret

__all__ = ["MOUNT", "console_router", "console_templates"]

MOUNT: Final = "/console"
_HERE: Final = Path(__file__).resolve().parent


def console_templates() -> TemplateConfig[JinjaTemplateEngine]:
    """The app's template engine: Jinja over ``rebac/console/templates`` (autoescaped)."""
    return TemplateConfig(directory=_HERE / "templates", engine=JinjaTemplateEngine)


def console_router(settings: Settings) -> Router:
    """The console's routes for one app: sign-in and static files open, every page signed in."""
    secret = console_secret(settings.api)
    console = ConsoleState(None if secret is None else SessionCodec(secret))
    static = create_static_files_router(
        path="/static", directories=[_HERE / "static"], include_in_schema=False, cache_control=None
    )
    pages = Router(path="/", route_handlers=[SignOutController, *PAGES], guards=[signed_in(console)])
    return Router(
        path=MOUNT,
        route_handlers=[SignInController, static, pages],
        dependencies={"console": Provide(lambda: console, sync_to_thread=False)},
        exception_handlers=console_exception_handlers(),
        middleware=[SecurityHeaders],
        include_in_schema=False,
    )

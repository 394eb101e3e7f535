"""The served OpenAPI document: its configuration, and what the handlers alone do not say.

- Every operation needs the bearer key (the document's global ``security``) except those of
  handlers without a guard (``/healthz``, ``/readyz``, ``/.well-known/*``): :func:`mark_public`
  gives those ``security: []``, derived from the guards, so the document cannot drift from them.
- Every operation with a JSON body documents the 415 problem a non-JSON ``Content-Type`` gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, Operation, SecurityScheme
from litestar.routes import HTTPRoute

from rebac import __version__
from rebac.api.problems import problem_responses_for

__all__ = ["PublicOperation", "complete_document", "openapi_config"]


@dataclass
class PublicOperation(Operation):
    """An operation that needs no API key: ``security: []`` overrides the document's requirement."""

    def __post_init__(self) -> None:
        """Clear the inherited requirement (``[]``, which OpenAPI reads as "no authentication")."""
        self.security = []


def complete_document(app: Litestar) -> None:
    """Mark the public handlers and document the 415 of JSON bodies (before the document is built).

    The handlers are the app's own copies, so nothing outside this app changes.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not isinstance(handler, HTTPRouteHandler):
                continue
            if not handler.resolve_guards():
                handler.operation_class = PublicOperation
            if "data" in handler.parsed_fn_signature.parameters and 415 not in (handler.responses or {}):
                handler.responses = {**(handler.responses or {}), **problem_responses_for(415)}


def openapi_config() -> OpenAPIConfig:
    """The document's title, version, bearer scheme and global security requirement."""
    security: Any = [{"apiKey": []}]
    return OpenAPIConfig(
        title="rebac",
        version=__version__,
        description="Zanzibar-style authorization for AI agents: SpiceDB-shaped v1 API and AuthZEN 1.0.",
        path="/schema",
        components=Components(
            security_schemes={"apiKey": SecurityScheme(type="http", scheme="bearer", description="API key")}
        ),
        security=security,
    )

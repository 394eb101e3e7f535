"""Litestar dependency providers. They read the per-app objects from ``app.state``; none is global."""

from __future__ import annotations

import re
from typing import Any, Final

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from rebac.api.auth import PRESHARED_KEY_ID, Principal
from rebac.api.state import AppState
from rebac.errors import InvalidInputError
from rebac.services.core import Services
from rebac.services.types import Current

__all__ = [
    "SOURCE_HEADER",
    "caller_of",
    "decision_source",
    "dependencies",
    "provide_current",
    "provide_principal",
    "provide_services",
]

SOURCE_HEADER: Final = "x-rebac-decision-source"
"""A caller's label for its decisions (an enforcement point: ``mcp-gateway``), recorded as their source."""
_CALLER_SOURCE: Final = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+")
_MAX_SOURCE: Final = 64


def decision_source(default: str, label: str | None) -> str:
    """The source recorded for a decision: the caller's ``X-Rebac-Decision-Source`` label, else ``default``.

    Any key allowed to ask for the decision may label it; the record's ``caller`` (the key id) and
    every other field stay the server's. A label is lowercase words joined by hyphens
    (``mcp-gateway``), at most 64 characters; rebac's own sources (``check``, ``authzen``,
    ``access_request`` ...) have no hyphen, so no caller can pass for them.

    Raises:
        InvalidInputError: a label that is not of that form.
    """
    if label is None:
        return default
    if len(label) > _MAX_SOURCE or not _CALLER_SOURCE.fullmatch(label):
        raise InvalidInputError(
            f"{SOURCE_HEADER} must be lowercase words joined by hyphens (e.g. mcp-gateway), "
            f"at most {_MAX_SOURCE} characters"
        )
    return label


def provide_app_state(state: State) -> AppState:
    """The app's :class:`AppState`."""
    app_state: NamedDependency[AppState] = state.app
    return app_state


def provide_services(app_state: NamedDependency[AppState]) -> Services:
    """The services of the open store."""
    return app_state.services


async def provide_current(services: NamedDependency[Services]) -> Current:
    """The engine for the current schema version."""
    return await services.engines.current()


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller authenticated by the route's guard."""
    principal = getattr(request.state, "principal", None)
    if isinstance(principal, Principal):
        return principal
    return Principal(PRESHARED_KEY_ID, frozenset())


def caller_of(request: Request[Any, Any, Any]) -> str | None:
    """The API key id of the request's authenticated caller (``None`` when unknown)."""
    principal = getattr(request.state, "principal", None)
    return principal.key_id if isinstance(principal, Principal) else None


def dependencies() -> dict[str, Provide]:
    """The app-level dependency map."""
    return {
        "app_state": Provide(provide_app_state, sync_to_thread=False),
        "services": Provide(provide_services, sync_to_thread=False),
        "current": Provide(provide_current),
        "principal": Provide(provide_principal, sync_to_thread=False),
    }

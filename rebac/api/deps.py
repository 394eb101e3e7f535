"""Litestar dependency providers. They read the per-app objects from ``app.state``; none is global."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from rebac.api.auth import PRESHARED_KEY_ID, Principal
from rebac.api.state import AppState
from rebac.services.core import Services
from rebac.services.types import Current

__all__ = ["caller_of", "dependencies", "provide_current", "provide_principal", "provide_services"]


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

"""Litestar dependency providers. They read the per-app objects from ``app.state``; none is global."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from rebac.api.auth import PRESHARED_KEY_ID, Principal
from rebac.api.services import Current, Services

__all__ = ["dependencies", "provide_current", "provide_principal", "provide_services"]


def provide_services(state: State) -> Services:
    """The app's :class:`Services`."""
    services: NamedDependency[Services] = state.services
    return services


async def provide_current(services: NamedDependency[Services]) -> Current:
    """The engine for the current schema version."""
    return await services.current()


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller authenticated by the route's guard."""
    principal = getattr(request.state, "principal", None)
    if isinstance(principal, Principal):
        return principal
    return Principal(PRESHARED_KEY_ID, frozenset())


def dependencies() -> dict[str, Provide]:
    """The app-level dependency map."""
    return {
        "services": Provide(provide_services, sync_to_thread=False),
        "current": Provide(provide_current),
        "principal": Provide(provide_principal, sync_to_thread=False),
    }

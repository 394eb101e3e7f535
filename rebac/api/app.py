"""The composition root of the HTTP API: :func:`create_app` builds one Litestar app per call.

This is the only module of ``rebac.api`` that knows the concrete stores: with no ``store`` given,
the lifespan opens the configured one (the embedded PostgreSQL when ``REBAC_DATABASE_URL`` is
unset, migrated to head) and closes it on shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from rebac import __version__
from rebac.api.auth import Authenticator, KeyLookup
from rebac.api.controllers import (
    AuthZenController,
    DecisionsController,
    HealthController,
    PermissionsController,
    RelationshipsController,
    SchemaController,
    WatchController,
    WellKnownController,
)
from rebac.api.controllers.blast_radius import BlastRadiusController
from rebac.api.controllers.identities import IdentitiesController
from rebac.api.deps import dependencies
from rebac.api.middleware import RequestIdMiddleware
from rebac.api.problems import exception_handlers
from rebac.api.services import Readiness, Services
from rebac.config import Settings
from rebac.engine.decisions import DecisionRecorder
from rebac.store.base import DecisionLog, TupleStore
from rebac.store.factory import open_store

__all__ = ["Seed", "create_app"]

Seed = Callable[[TupleStore], Awaitable[None]]
"""A startup hook that loads data into the freshly opened store."""


def create_app(
    settings: Settings,
    *,
    store: TupleStore | None = None,
    keys: KeyLookup | None = None,
    readiness: Readiness | None = None,
    schema_refresh_seconds: float = 1.0,
    seed: Seed | None = None,
    key_cache_seconds: float = 2.0,
) -> Litestar:
    """Build the app.

    Args:
        settings: Process settings (API limits, preshared key, engine limits, database).
        store: An open store to serve (the caller closes it); ``None`` opens the configured one.
        keys: The scoped-key table; ``None`` with ``store=None`` uses the database's key table.
        readiness: Probe for ``/readyz``; defaults to "migrations at head" for an opened store.
        schema_refresh_seconds: How stale the cached current-schema pointer may get.
        seed: Called with the open store at startup (``rebac serve --demo`` loads its data so).
        key_cache_seconds: How long a looked-up API key is reused (a revocation's delay).
    """
    services = Services(settings, readiness=readiness, schema_refresh_seconds=schema_refresh_seconds)
    services.authenticator = Authenticator(settings.api.preshared_key, keys, cache_seconds=key_cache_seconds)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if store is not None:
                services.attach(store)
            else:
                opened = await stack.enter_async_context(open_store(settings, index=settings.database.index))
                services.attach(opened)
                if readiness is None:
                    services.set_readiness(opened.ready)
                table = opened.roles.keys
                if keys is None and table is not None:
                    services.authenticator = Authenticator(
                        settings.api.preshared_key, table, cache_seconds=key_cache_seconds
                    )
            _start_decision_log(services, stack)
            if seed is not None:
                await seed(services.store)
            try:
                yield
            finally:
                services.attach(None)

    return Litestar(
        route_handlers=[
            HealthController,
            PermissionsController,
            RelationshipsController,
            SchemaController,
            WatchController,
            AuthZenController,
            WellKnownController,
            DecisionsController,
            IdentitiesController,
            BlastRadiusController,
        ],
        dependencies=dependencies(),
        exception_handlers=exception_handlers(),
        middleware=[RequestIdMiddleware],
        lifespan=[lifespan],
        state=State({"services": services}),
        openapi_config=_openapi(),
        request_max_body_size=settings.api.max_request_bytes,
        logging_config=None,
        debug=False,
    )


def _start_decision_log(services: Services, stack: AsyncExitStack) -> None:
    """Start the decision recorder; the stack drains it on shutdown, before the store closes."""
    store = services.store
    if not services.settings.decisions.enabled or not isinstance(store, DecisionLog):
        return
    recorder = DecisionRecorder(store, services.settings.decisions)
    recorder.start()
    services.decisions = recorder

    async def stop() -> None:
        await recorder.aclose()
        services.decisions = None

    stack.push_async_callback(stop)


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="rebac",
        version=__version__,
        description="Zanzibar-style authorization for AI agents: SpiceDB-shaped v1 API and AuthZEN 1.0.",
        path="/schema",
        components=Components(
            security_schemes={"apiKey": SecurityScheme(type="http", scheme="bearer", description="API key")}
        ),
        security=[{"apiKey": []}],
    )

"""The composition root of the HTTP API: :func:`create_app` builds one Litestar app per call.

This is the only module of ``rebac.api`` that knows the concrete stores: with no ``store`` given,
the lifespan opens the configured one (the embedded PostgreSQL when ``REBAC_DATABASE_URL`` is
unset, migrated to head) and closes it on shutdown.

For ``rebac serve``: :func:`serving_database` checks the configured database before the workers
start (one line per step, one sentence for a database that cannot serve), and
:func:`one_line_startup_failures` makes a lifespan that still fails report its reason as one line
instead of Litestar's traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any, Final

from litestar import Litestar
from litestar.datastructures import State

from rebac.api import dto
from rebac.api.auth import Authenticator, KeyLookup
from rebac.api.controllers import (
    AuthZenController,
    DecisionsController,
    HealthController,
    KeysController,
    PermissionsController,
    RelationshipsController,
    SchemaController,
    WatchController,
    WellKnownController,
)
from rebac.api.controllers.analysis import AnalysisController
from rebac.api.controllers.authzen_requests import AccessRequestsController
from rebac.api.controllers.blast_radius import BlastRadiusController
from rebac.api.controllers.identities import IdentitiesController
from rebac.api.controllers.permissions import check_response
from rebac.api.deps import dependencies
from rebac.api.hot import HotRoute
from rebac.api.metrics import Gather, MetricsController, gatherer
from rebac.api.middleware import ACCESS_LOGGER, AccessLog, BatchHandler, EdgeMiddleware
from rebac.api.openapi import complete_document, openapi_config
from rebac.api.problems import exception_handlers
from rebac.api.request import JsonRequest
from rebac.api.state import AppState, Readiness
from rebac.config import Settings
from rebac.console import console_router, console_templates
from rebac.errors import RebacError
from rebac.services.core import Services
from rebac.services.observability import Metrics
from rebac.services.tracing import open_tracing
from rebac.store.base import TupleStore
from rebac.store.factory import Say, checked_database, open_store
from rebac.store.postgres import PostgresTupleStore

CHECK_PATH: Final = "/v1/permissions/check"

__all__ = ["AsgiApp", "Seed", "access_logger", "create_app", "one_line_startup_failures", "serving_database"]


def _gatherer(services: Services, store: TupleStore) -> Gather:
    """``/metrics``' per-scrape reader: with a Postgres store, its index, pools and replicas too."""
    if not isinstance(store, PostgresTupleStore):
        return gatherer(services)
    router = store.replicas
    return gatherer(
        services,
        index_lag=store.index_lag,
        pool_stats=store.pool_stats,
        replica_stats=None if router is None else lambda: (router.stats(), router.up()),
    )


Seed = Callable[[Services], Awaitable[None]]
"""A startup hook that loads data through the services of the freshly opened store."""

AsgiApp = Callable[[Any, Any, Any], Awaitable[None]]
"""An ASGI application ``(scope, receive, send)``: any scope type, lifespan included."""


def create_app(
    settings: Settings,
    *,
    store: TupleStore | None = None,
    keys: KeyLookup | None = None,
    readiness: Readiness | None = None,
    schema_refresh_seconds: float = 1.0,
    seed: Seed | None = None,
    key_cache_seconds: float = 2.0,
    fast_path: bool | None = None,
) -> Litestar:
    """Build the app.

    Args:
        settings: Process settings (API limits, preshared key and subject, engine limits, database).
        store: An open store to serve (the caller closes it); ``None`` opens the configured one.
        keys: The scoped-key table; ``None`` uses the store's key table (``roles.keys``), the
            one ``/v1/keys`` administers.
        readiness: Probe for ``/readyz``; defaults to "migrations at head" for an opened store.
        schema_refresh_seconds: How stale the cached current-schema pointer may get.
        seed: Called with the services at startup (``rebac serve --demo`` loads its data so).
        key_cache_seconds: How long a looked-up API key is reused (a revocation's delay).
        fast_path: Serve ordinary ``POST /v1/permissions/check`` before Litestar's router
            (:class:`~rebac.api.middleware.EdgeMiddleware`); ``None`` reads
            ``REBAC_FAST_PATH`` (``off`` disables it; the answers are the same either way).
    """

    def authenticator(table: KeyLookup | None) -> Authenticator:
        return Authenticator(
            settings.api.preshared_key,
            table,
            cache_seconds=key_cache_seconds,
            preshared_subject=settings.api.preshared_subject,
        )

    given_keys = keys if keys is not None or store is None else store.roles.keys
    state = AppState(settings, authenticator(given_keys), readiness=readiness)

    logger = access_logger(settings.api.access_log)
    access_log = AccessLog(logger) if logger is not None else None
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if access_log is not None:
                stack.callback(access_log.close)  # the last lines are written at shutdown
            opened = store
            if opened is None:
                opened = await stack.enter_async_context(
                    open_store(settings, index=settings.database.index, check=True)
                )
                if readiness is None:
                    state.set_readiness(opened.ready)
                table = opened.roles.keys
                if keys is None and table is not None:
                    state.authenticator = authenticator(table)
            if isinstance(opened, PostgresTupleStore):
                state.set_index_report(opened.index_report)
                state.set_replica_report(None if opened.replicas is None else opened.replicas.report)
            services = Services(opened, settings, schema_refresh_seconds=schema_refresh_seconds)
            services.start()
            tracing = open_tracing(settings.api.otel, os.environ)
            if tracing is not None:
                services.decisions.tracing = tracing
                stack.callback(tracing.close)  # runs after the services' drain: the last spans go out
            if services.decisions.recorder is not None:
                services.decisions.recorder.on_record = metrics.count_decision
            state.observed = (metrics, _gatherer(services, opened))
            stack.push_async_callback(services.aclose)  # drains the decision log before the store closes
            state.attach(services)
            if seed is not None:
                await seed(services)
            try:
                yield
            finally:
                state.attach(None)
                state.set_index_report(None)
                state.set_replica_report(None)

    app = Litestar(
        route_handlers=[
            HealthController,
            PermissionsController,
            RelationshipsController,
            SchemaController,
            WatchController,
            AuthZenController,
            AccessRequestsController,
            WellKnownController,
            DecisionsController,
            MetricsController,
            IdentitiesController,
            BlastRadiusController,
            AnalysisController,
            KeysController,
            console_router(settings),
        ],
        template_config=console_templates(),
        dependencies=dependencies(),
        exception_handlers=exception_handlers(),
        lifespan=[lifespan],
        state=State({"app": state}),
        openapi_config=openapi_config(settings),
        request_class=JsonRequest,
        request_max_body_size=settings.api.max_request_bytes,
        logging_config=None,
        debug=False,
    )
    complete_document(app)
    front = None
    if fast_path if fast_path is not None else os.environ.get("REBAC_FAST_PATH", "on") != "off":
        front = {
            CHECK_PATH: HotRoute(app.asgi_handler, dto.CheckRequest, check_response, "check"),
        }
    # Around the router and its exception handling, so unknown routes and refused keys are seen too.
    app.asgi_handler = EdgeMiddleware(app.asgi_handler, access_log=access_log, metrics=metrics, front=front)
    return app


class _StandardError(BatchHandler):
    """Writes each record as one line to the current ``sys.stderr`` (looked up at each write)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never fail a request
            self.handleError(record)

    def write_lines(self, text: str) -> None:
        """Many access lines in one write."""
        with contextlib.suppress(Exception):  # logging must never fail a request
            sys.stderr.write(text)


def access_logger(enabled: bool) -> logging.Logger | None:
    """The ``rebac.access`` logger writing to standard error (``None`` when the log is off).

    Its standard-error handler is added once per process (the logging tree is the process's);
    records do not propagate, so a root handler (granian's) does not print them twice.
    """
    if not enabled:
        return None
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(h, _StandardError) for h in logger.handlers):
        logger.addHandler(_StandardError())
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


@contextmanager
def serving_database(settings: Settings, *, say: Say) -> Iterator[None]:
    """Check the configured database can serve before the workers start; keep it up meanwhile.

    The embedded server is started and migrated here (each step told to ``say``) and keeps
    running while the block runs, so the workers attach to it.

    Raises:
        RebacError: the database cannot serve; the message is one sentence saying what to do.
    """
    with checked_database(settings, say=say):
        yield


def _reason(exc: BaseException) -> RebacError | None:
    """The first rebac error in ``exc``, its exception groups and its causes."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, RebacError):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


def one_line_startup_failures(app: AsgiApp) -> AsgiApp:
    """``app``, whose startup refused with a rebac error is reported as one line, and no traceback.

    Litestar reports a failed lifespan with the whole formatted traceback (exception groups and
    driver causes: hundreds of lines in a server's log) and then raises, which granian logs again
    with the traceback. Here, when the failure's cause is a :class:`~rebac.errors.RebacError`
    (the database cannot serve, a bad setting), the server is told its message only and the
    lifespan returns, as ASGI allows after ``lifespan.startup.failed``; the server then stops
    without printing a traceback. Any other failure is a bug: its traceback is kept. Every other
    message and scope passes through unchanged.
    """

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        held: list[dict[str, Any]] = []

        async def hold_failure(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.failed":
                held.append(message)  # sent once the exception that caused it is known
                return
            await send(message)

        try:
            await app(scope, receive, hold_failure)
        except BaseException as exc:
            reason = _reason(exc) if held else None
            if reason is None:
                for message in held:
                    await send(message)
                raise
            await send({"type": "lifespan.startup.failed", "message": reason.message})
            return
        for message in held:
            await send(message)

    return wrapped

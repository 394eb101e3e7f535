"""Open the configured store: the one opener the CLI and the app use (the composition roots).

With ``settings.database.url`` unset, an embedded PostgreSQL is started under
``settings.database.home`` and migrated; with a URL, that server is used (migrated only on request:
``rebac migrate`` or ``migrate=True``). :func:`database_url` yields just the URL, for the commands
that need no store (``rebac migrate``). :func:`checked_database` is what ``rebac serve`` runs
before it starts its workers: it reports each step in one line and refuses a database that cannot
serve with one sentence saying what to do (see :mod:`rebac.store.postgres.probe`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager

from rebac.config import Settings
from rebac.store.base import TupleStore
from rebac.store.postgres import IndexSettings, PostgresTupleStore, ReplicaSettings
from rebac.store.postgres.capacity import check_capacity, read_capacity
from rebac.store.postgres.embedded import Say, embedded_postgres, to_stderr
from rebac.store.postgres.migrate import upgrade_to_head
from rebac.store.postgres.probe import check_url, preflight, where

__all__ = ["Say", "checked_database", "database_url", "open_store"]


@contextmanager
def database_url(settings: Settings, *, say: Say = to_stderr, starting: bool = False) -> Iterator[str]:
    """Yield the database URL: the configured one, or an embedded server's while it runs.

    ``say`` is told when a new embedded database is created (and, with ``starting``, when the
    embedded server is started).
    """
    if settings.database.url is not None:
        yield settings.database.url
        return
    with embedded_postgres(settings.database.home, say=say, starting=starting) as url:
        yield url


@contextmanager
def checked_database(settings: Settings, *, say: Say = to_stderr) -> Iterator[str]:
    """The configured database, checked to serve, for as long as the block runs; yield its URL.

    The embedded server is started (``say``: ``starting ...`` or ``creating a new ...``) and
    migrated (``migrating ...``), and it keeps running until the block ends, so the server's
    workers attach to it instead of starting it again. A configured URL must be a PostgreSQL
    URL of a reachable database migrated to the newest revision (``using the database at ...``).
    Either way, ``settings.api.workers`` processes with ``settings.database.pool_size`` must fit
    the server's ``max_connections`` (one line says how many connections they may use, of how many;
    see :mod:`rebac.store.postgres.capacity`).

    Raises:
        InvalidInputError: ``REBAC_DATABASE_URL`` is not a PostgreSQL URL, or the workers' pools
            do not fit the database's ``max_connections``.
        StoreUnavailableError: the database is not reachable, or the embedded one cannot start.
        StoreError: the database is not migrated.
    """
    with database_url(settings, say=say, starting=True) as url:
        if settings.database.url is None:
            say("migrating the embedded database to the newest revision")
            upgrade_to_head(url)
        else:
            preflight(url)
            say(f"using the database at {where(check_url(url))}")
        workers, pool_size = settings.api.workers, settings.database.pool_size
        place = where(check_url(url))
        say(check_capacity(read_capacity(url), workers=workers, pool_size=pool_size, place=place))
        yield url


@asynccontextmanager
async def open_store(
    settings: Settings, *, migrate: bool | None = None, index: bool = False, check: bool = False
) -> AsyncIterator[TupleStore]:
    """Open the store described by ``settings``; close it (and any embedded server) on exit.

    The store serves every optional role, ``roles.keys`` included (the database's key table).
    With ``settings.database.read_replica_urls``, its reads at a revision go to those replicas
    once they have replayed it (:mod:`rebac.store.postgres._replicas`).

    Args:
        settings: The process settings.
        migrate: Migrate to head first. ``None`` (default) migrates the embedded server only.
        index: Keep the in-memory relationship index (``IndexSettings()``). It loads in the
            background; until it has, reads go to the database and ``ready()`` is False.
        check: Run the preflight checks first (:func:`rebac.store.postgres.probe.preflight`), so
            a database that cannot serve fails with one sentence saying what to do.

    Raises:
        InvalidInputError: with ``check``, the URL is not a PostgreSQL URL; a replica URL is not.
        StoreUnavailableError: the database (or the embedded server) cannot be reached.
        StoreError: the database is not migrated.
    """
    async with AsyncExitStack() as stack:
        url = stack.enter_context(database_url(settings))
        migrating = bool(migrate or (migrate is None and settings.database.url is None))
        if check:
            await asyncio.to_thread(preflight, url, migrated=not migrating)
        if migrating:
            await asyncio.to_thread(upgrade_to_head, url)
        store = await PostgresTupleStore.connect(
            url,
            max_updates_per_write=settings.database.max_updates_per_write,
            quantization_seconds=settings.engine.quantization_seconds,
            pool_size=settings.database.pool_size,
            index=IndexSettings() if index else None,
            with_keys=True,
            replicas=ReplicaSettings(
                settings.database.read_replica_urls,
                wait_seconds=settings.database.read_replica_wait_seconds,
            ),
        )
        stack.push_async_callback(store.close)
        yield store

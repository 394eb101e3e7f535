"""Open the configured store: the one opener the CLI and the app use (the composition roots).

With ``settings.database.url`` unset, an embedded PostgreSQL is started under
``settings.database.home`` and migrated; with a URL, that server is used (migrated only on request:
``rebac migrate`` or ``migrate=True``). :func:`database_url` yields just the URL, for the commands
that need no store (``rebac migrate``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager

from rebac.config import Settings
from rebac.store.base import TupleStore
from rebac.store.postgres import IndexSettings, PostgresTupleStore
from rebac.store.postgres.embedded import embedded_postgres
from rebac.store.postgres.migrate import upgrade_to_head

__all__ = ["database_url", "open_store"]


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """Yield the database URL: the configured one, or an embedded server's while it runs."""
    if settings.database.url is not None:
        yield settings.database.url
        return
    with embedded_postgres(settings.database.home) as url:
        yield url


@asynccontextmanager
async def open_store(
    settings: Settings, *, migrate: bool | None = None, index: bool = False
) -> AsyncIterator[TupleStore]:
    """Open the store described by ``settings``; close it (and any embedded server) on exit.

    The store serves every optional role, ``roles.keys`` included (the database's key table).

    Args:
        settings: The process settings.
        migrate: Migrate to head first. ``None`` (default) migrates the embedded server only.
        index: Keep the in-memory relationship index (``IndexSettings()``). It loads in the
            background; until it has, reads go to the database and ``ready()`` is False.

    Raises:
        StoreUnavailableError: the database (or the embedded server) cannot be reached.
        StoreError: the database is not migrated.
    """
    async with AsyncExitStack() as stack:
        url = stack.enter_context(database_url(settings))
        if migrate or (migrate is None and settings.database.url is None):
            await asyncio.to_thread(upgrade_to_head, url)
        store = await PostgresTupleStore.connect(
            url,
            max_updates_per_write=settings.database.max_updates_per_write,
            quantization_seconds=settings.engine.quantization_seconds,
            pool_size=settings.database.pool_size,
            index=IndexSettings() if index else None,
            with_keys=True,
        )
        stack.push_async_callback(store.close)
        yield store

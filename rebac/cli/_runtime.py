"""The CLI's composition root: settings from the environment, the services of the store, errors.

Every command that needs the store goes through :func:`with_services` (or :func:`migrate_database`),
so each one uses the embedded PostgreSQL when ``REBAC_DATABASE_URL`` is unset, exactly as
``rebac serve`` does. Commands themselves only call the services.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Literal, TypeVar

import click

from rebac.config import Settings
from rebac.errors import RebacError, StoreError
from rebac.services.core import Services
from rebac.services.keys import Keys
from rebac.store.base import RelationshipFilter, TupleStore
from rebac.store.factory import database_url, open_store
from rebac.store.memory import MemoryTupleStore
from rebac.store.postgres.migrate import upgrade_to_head

__all__ = [
    "cli_errors",
    "load_settings",
    "migrate_database",
    "run",
    "scratch_stores",
    "with_keys",
    "with_services",
]

T = TypeVar("T")


def load_settings() -> Settings:
    """Settings from the process environment (the CLI is a composition root)."""
    return Settings.from_env()


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn rebac errors into a ``click.ClickException`` with the error's public message."""
    try:
        yield
    except RebacError as exc:
        raise click.ClickException(str(exc)) from exc


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion on a fresh event loop, translating rebac errors."""

    async def main() -> T:
        return await coro

    with cli_errors():
        return asyncio.run(main())


def with_services(settings: Settings, action: Callable[[Services], Awaitable[T]]) -> T:
    """Open the configured store (embedded when no URL is set), run ``action`` on its services."""

    async def main() -> T:
        async with open_store(settings) as store:
            return await action(Services(store, settings))

    return run(main())


def with_keys(settings: Settings, action: Callable[[Keys], Awaitable[T]]) -> T:
    """Open the configured store's key table (embedded when no URL is set), run ``action`` on it."""

    async def main() -> T:
        async with open_store(settings) as store:
            table = store.roles.keys
            if table is None:
                raise StoreError("this store keeps no API keys")
            return await action(Keys(table))

    return run(main())


def migrate_database(settings: Settings) -> None:
    """Migrate the configured database (the embedded one when no URL is set) to the newest revision."""
    with cli_errors(), database_url(settings) as url:
        upgrade_to_head(url)


ScratchStore = Callable[[], Awaitable[TupleStore]]
"""Returns an empty store for the next validation file."""


@asynccontextmanager
async def scratch_stores(kind: Literal["memory", "postgres"]) -> AsyncIterator[tuple[ScratchStore, bool]]:
    """Empty stores for ``rebac validate``, and whether each must be cleared after its file.

    ``memory``: a new in-memory store per file. ``postgres``: one PostgreSQL store
    (``REBAC_DATABASE_URL`` when set, which must hold no relationships, else a temporary embedded
    server), shared by every file and cleared after each.
    """
    if kind == "memory":

        async def fresh() -> TupleStore:
            return MemoryTupleStore(quantization_seconds=0)

        yield fresh, False
        return
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="rebac-validate-") as home:
        if settings.database.url is None:
            settings = replace(settings, database=replace(settings.database, home=Path(home)))
        async with open_store(settings, migrate=settings.database.url is None) as store:
            head = await store.head_revision()
            async for _ in store.query(RelationshipFilter(), revision=head, limit=1):
                raise click.ClickException(
                    "the PostgreSQL store already holds relationships; validate needs an empty database"
                )

            async def shared() -> TupleStore:
                return store

            yield shared, True

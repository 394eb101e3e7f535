"""Shared CLI plumbing: settings from the environment, the store, running async code, errors.

Every command that needs the store goes through :func:`with_store`, so each one uses the embedded
PostgreSQL when ``REBAC_DATABASE_URL`` is unset, exactly as ``rebac serve`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click

from rebac.config import Settings
from rebac.errors import RebacError
from rebac.store.base import TupleStore
from rebac.store.factory import open_store

__all__ = ["cli_errors", "load_settings", "run", "with_store"]

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


def with_store(settings: Settings, action: Callable[[TupleStore], Awaitable[T]]) -> T:
    """Open the configured store (embedded when no URL is set), run ``action`` on it, close it."""

    async def main() -> T:
        async with open_store(settings) as store:
            return await action(store)

    return run(main())

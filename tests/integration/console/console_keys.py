"""The key table the console's HTTP tests sign in with, for either store engine.

The memory store keeps its own table; for PostgreSQL the tests use the real ``api_key`` table
through :class:`api_helpers.KeyTable`, which runs the key store on its own loop (the app under
Litestar's test client runs on another one than the test).
"""

from __future__ import annotations

import asyncio
from typing import Any

from api_helpers import KeyTable

from rebac.services.keys import generate_key
from rebac.store.base import TupleStore


class TestKeys:
    """Make and revoke keys; :attr:`lookup` is what ``create_app(keys=...)`` takes."""

    __test__ = False  # not a test class

    def __init__(self, store: TupleStore, pg_url: str) -> None:
        self._memory = store.roles.keys
        self._table = None if self._memory is not None else KeyTable(pg_url)

    @property
    def lookup(self) -> Any:
        """The key lookup the app authenticates against."""
        return self._memory if self._memory is not None else self._table

    async def add(self, scopes: set[str], subject: str | None = None) -> tuple[str, str]:
        """A new key: its id and its text."""
        if self._table is not None:
            made = await asyncio.to_thread(self._table.add, *sorted(scopes), subject=subject)
            return made.key_id, made.text
        assert self._memory is not None
        key = generate_key()
        await self._memory.create_key(
            key.key_id, key.secret_hash, frozenset(scopes), "console", subject=subject
        )
        return key.key_id, key.text

    async def revoke(self, key_id: str) -> None:
        """Revoke a live key."""
        if self._table is not None:
            await asyncio.to_thread(self._table.revoke, key_id)
            return
        assert self._memory is not None
        assert await self._memory.revoke_key(key_id)

"""The API key table of the memory engine (the twin of the Postgres ``api_key`` table)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from rebac.errors import ConflictError
from rebac.store.base import ApiKey

__all__ = ["MemoryKeyStore"]


class MemoryKeyStore:
    """In-memory twin of :class:`rebac.store.postgres.PostgresKeyStore`."""

    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}

    async def close(self) -> None:
        """Nothing to release."""

    async def create_key(
        self,
        key_id: str,
        secret_hash: str,
        scopes: frozenset[str],
        name: str = "",
        subject: str | None = None,
    ) -> ApiKey:
        """Store a new key, acting for ``subject`` (canonical text) when given.

        Raises:
            ConflictError: the id exists.
        """
        if key_id in self._keys:
            raise ConflictError("an API key with this id already exists")
        key = ApiKey(key_id, secret_hash, frozenset(scopes), name, datetime.now(UTC), subject=subject)
        self._keys[key_id] = key
        return key

    async def find_key(self, key_id: str) -> ApiKey | None:
        """The key, or ``None``."""
        return self._keys.get(key_id)

    async def list_keys(self) -> list[ApiKey]:
        """Every key, oldest first."""
        return sorted(self._keys.values(), key=lambda key: key.created_at)

    async def revoke_key(self, key_id: str) -> bool:
        """Revoke a key; False when no live key has that id."""
        key = self._keys.get(key_id)
        if key is None or key.revoked:
            return False
        self._keys[key_id] = replace(key, revoked_at=datetime.now(UTC))
        return True

"""Scoped API keys: their text, their hash, their scopes, and the key table's administration.

A scoped key's text is ``rbk_<key id>_<secret>``; only ``sha256(secret)`` is stored, so a leaked
table yields no usable key. The text is shown once, when the key is created. Scopes: ``check``
(permissions and AuthZEN), ``write`` (relationships and watch), ``schema`` (schema endpoints),
``admin`` (everything). Nothing here logs or echoes a key.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from rebac.errors import InvalidInputError
from rebac.store.base import ApiKey, KeyStore

__all__ = [
    "KEY_PREFIX",
    "SCOPES",
    "GeneratedKey",
    "Keys",
    "Scope",
    "generate_key",
    "hash_secret",
    "validate_scopes",
]

Scope = Literal["check", "write", "schema", "admin"]
SCOPES: Final[tuple[Scope, ...]] = ("check", "write", "schema", "admin")
KEY_PREFIX: Final = "rbk_"


def hash_secret(secret: str) -> str:
    """Hex sha256 of a key secret (the secrets are 256-bit random, so no slow hash is needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_scopes(scopes: Collection[str]) -> frozenset[str]:
    """The scopes as a set.

    Raises:
        InvalidInputError: no scope, or an unknown one.
    """
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInputError(
            f"scopes must be among {', '.join(SCOPES)} (got {', '.join(unknown) or 'none'})"
        )
    return frozenset(scopes)


@dataclass(frozen=True, slots=True, repr=False)
class GeneratedKey:
    """A fresh key: give ``text`` to the caller once; store only ``key_id`` and ``secret_hash``."""

    key_id: str
    text: str
    secret_hash: str

    def __repr__(self) -> str:
        return f"GeneratedKey(key_id={self.key_id!r})"


def generate_key() -> GeneratedKey:
    """A new random key id and secret."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return GeneratedKey(key_id, f"{KEY_PREFIX}{key_id}_{secret}", hash_secret(secret))


class Keys:
    """Create, list and revoke scoped keys.

    Args:
        table: The key table.
    """

    __slots__ = ("_table",)

    def __init__(self, table: KeyStore) -> None:
        self._table = table

    async def create(self, scopes: Collection[str], name: str = "") -> tuple[GeneratedKey, ApiKey]:
        """A new key with ``scopes``: its text (show it once) and what was stored.

        Raises:
            InvalidInputError: no scope, or an unknown one.
        """
        granted = validate_scopes(scopes)
        key = generate_key()
        stored = await self._table.create_key(key.key_id, key.secret_hash, granted, name)
        return key, stored

    async def list(self) -> Sequence[ApiKey]:
        """Every key (ids, scopes, names, times; never secrets or hashes)."""
        return await self._table.list_keys()

    async def revoke(self, key_id: str) -> bool:
        """Revoke ``key_id``; False when no active key has that id."""
        return await self._table.revoke_key(key_id)

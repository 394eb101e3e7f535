"""Bearer API keys with scopes: a preshared admin key and scoped keys stored hashed.

A scoped key's text is ``rbk_<key id>_<secret>`` (see :mod:`rebac.services.keys`); only
``sha256(secret)`` is stored. Comparison is constant-time. The preshared key (``--preshared-key``
/ ``REBAC_PRESHARED_KEY``) has the ``admin`` scope. Nothing here logs or echoes a key.

Scopes: ``check`` (permissions and AuthZEN), ``write`` (relationships and watch), ``schema``
(schema endpoints), ``admin`` (everything).
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Any, Final, Protocol

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from rebac.errors import ForbiddenError, UnauthenticatedError
from rebac.services.keys import KEY_PREFIX, Scope, hash_secret

__all__ = ["PRESHARED_KEY_ID", "Authenticator", "KeyLookup", "Principal", "StoredKey", "require_scope"]

PRESHARED_KEY_ID: Final = "preshared"
_CACHE_ENTRIES: Final = 10_000


class StoredKey(Protocol):
    """What the key table stores for one key."""

    @property
    def key_id(self) -> str:
        """Public id."""
        ...

    @property
    def secret_hash(self) -> str:
        """Hex sha256 of the secret."""
        ...

    @property
    def scopes(self) -> frozenset[str]:
        """Granted scopes."""
        ...

    @property
    def revoked(self) -> bool:
        """True once revoked."""
        ...


class KeyLookup(Protocol):
    """Finds stored keys by id (implemented by the store's key table)."""

    async def find_key(self, key_id: str) -> StoredKey | None:
        """The key, or ``None``."""
        ...


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    key_id: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """``admin`` allows everything."""
        return "admin" in self.scopes or scope in self.scopes


class Authenticator:
    """Checks ``Authorization: Bearer <key>`` against the preshared key and the key table.

    Found keys are remembered for ``cache_seconds`` (so a revocation takes effect within that
    time, and a check costs no key-table read); unknown ids are never cached.

    Args:
        preshared_key: The admin key, or ``None``.
        keys: The key table, or ``None`` when scoped keys are not available.
        cache_seconds: How long a looked-up key is reused (0 disables the cache).
    """

    __slots__ = ("_cache", "_cache_seconds", "_keys", "_preshared_hash")

    def __init__(
        self, preshared_key: str | None, keys: KeyLookup | None = None, *, cache_seconds: float = 2.0
    ) -> None:
        self._preshared_hash = hash_secret(preshared_key) if preshared_key else None
        self._keys = keys
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, StoredKey]] = {}

    async def _find(self, key_id: str) -> StoredKey | None:
        if self._keys is None:
            return None
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        stored = await self._keys.find_key(key_id)
        if stored is not None and self._cache_seconds > 0:
            if len(self._cache) >= _CACHE_ENTRIES:
                self._cache.clear()
            self._cache[key_id] = (now + self._cache_seconds, stored)
        return stored

    async def authenticate(self, header: str | None) -> Principal:
        """The caller for an ``Authorization`` header value.

        Raises:
            UnauthenticatedError: no key, or an unknown or revoked one.
        """
        if not header:
            raise UnauthenticatedError("an API key is required (Authorization: Bearer <key>)")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise UnauthenticatedError("use the Bearer scheme: Authorization: Bearer <key>")
        presented = hash_secret(token)
        if self._preshared_hash is not None and hmac.compare_digest(presented, self._preshared_hash):
            return Principal(PRESHARED_KEY_ID, frozenset({"admin"}))
        if self._keys is not None and token.startswith(KEY_PREFIX):
            key_id, _, secret = token[len(KEY_PREFIX) :].partition("_")
            stored = await self._find(key_id) if key_id and secret else None
            if (
                stored is not None
                and hmac.compare_digest(hash_secret(secret), stored.secret_hash)
                and not stored.revoked
            ):
                return Principal(stored.key_id, frozenset(stored.scopes))
        raise UnauthenticatedError("the API key is unknown or revoked")


def require_scope(scope: Scope) -> Any:
    """A Litestar guard that authenticates the caller and requires ``scope``.

    The principal is left in ``connection.state.principal``.
    """

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        authenticator: Authenticator = connection.app.state.app.authenticator
        principal = await authenticator.authenticate(connection.headers.get("authorization"))
        if not principal.allows(scope):
            raise ForbiddenError(f"this endpoint needs an API key with the {scope!r} scope")
        connection.state.principal = principal

    return guard

"""Bearer API keys with scopes: a preshared admin key and scoped keys stored hashed.

A scoped key's text is ``rbk_<key id>_<secret>``; only ``sha256(secret)`` is stored, so a leaked
table yields no usable key. Comparison is constant-time. The preshared key (``--preshared-key`` /
``REBAC_PRESHARED_KEY``) has the ``admin`` scope. Nothing here logs or echoes a key.

Scopes: ``check`` (permissions and AuthZEN), ``write`` (relationships and watch), ``schema``
(schema endpoints), ``admin`` (everything).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from rebac.errors import ForbiddenError, InvalidInputError, UnauthenticatedError

__all__ = [
    "PRESHARED_KEY_ID",
    "SCOPES",
    "Authenticator",
    "GeneratedKey",
    "KeyLookup",
    "Principal",
    "Scope",
    "StoredKey",
    "generate_key",
    "hash_secret",
    "require_scope",
    "validate_scopes",
]

Scope = Literal["check", "write", "schema", "admin"]
SCOPES: Final[tuple[Scope, ...]] = ("check", "write", "schema", "admin")
PRESHARED_KEY_ID: Final = "preshared"
_PREFIX: Final = "rbk_"
_CACHE_ENTRIES: Final = 10_000


def hash_secret(secret: str) -> str:
    """Hex sha256 of a key secret (the secrets are 256-bit random, so no slow hash is needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_scopes(scopes: Collection[str]) -> frozenset[str]:
    """The scopes as a set; unknown names raise :class:`InvalidInputError`."""
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
    return GeneratedKey(key_id, f"{_PREFIX}{key_id}_{secret}", hash_secret(secret))


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
        if self._keys is not None and token.startswith(_PREFIX):
            key_id, _, secret = token[len(_PREFIX) :].partition("_")
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
        authenticator: Authenticator = connection.app.state.services.authenticator
        principal = await authenticator.authenticate(connection.headers.get("authorization"))
        if not principal.allows(scope):
            raise ForbiddenError(f"this endpoint needs an API key with the {scope!r} scope")
        connection.state.principal = principal

    return guard

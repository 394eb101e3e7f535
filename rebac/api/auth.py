"""Bearer API keys with scopes: a preshared admin key and scoped keys stored hashed.

A scoped key's text is ``rbk_<key id>_<secret>`` (see :mod:`rebac.services.keys`); only
``sha256(secret)`` is stored. Comparison is constant-time. The preshared key (``--preshared-key``
/ ``REBAC_PRESHARED_KEY``) has the ``admin`` scope. Nothing here logs or echoes a key.

A key may act for a subject (a plain object, ``user:alice``): a scoped key for the one stored with
it, the preshared key for ``REBAC_PRESHARED_SUBJECT``. The authenticated :class:`Principal` carries
it; endpoints that act in someone's name (recording a review) use it and refuse a key without one.

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

from rebac.errors import ForbiddenError, RefSyntaxError, UnauthenticatedError
from rebac.refs import SubjectRef, parse_subject
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

    @property
    def subject(self) -> str | None:
        """Canonical text of the subject the key acts for, or ``None``."""
        ...


class KeyLookup(Protocol):
    """Finds stored keys by id (implemented by the store's key table)."""

    async def find_key(self, key_id: str) -> StoredKey | None:
        """The key, or ``None``."""
        ...


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    Attributes:
        key_id: The key's id (``preshared`` for the preshared key).
        scopes: Its scopes.
        subject: The subject the key acts for (a plain object), or ``None``.
    """

    key_id: str
    scopes: frozenset[str]
    subject: SubjectRef | None = None

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
        preshared_subject: The subject the preshared key acts for (``None``: none).
    """

    __slots__ = ("_cache", "_cache_seconds", "_keys", "_preshared", "_preshared_hash")

    def __init__(
        self,
        preshared_key: str | None,
        keys: KeyLookup | None = None,
        *,
        cache_seconds: float = 2.0,
        preshared_subject: SubjectRef | None = None,
    ) -> None:
        self._preshared_hash = hash_secret(preshared_key) if preshared_key else None
        self._preshared = Principal(PRESHARED_KEY_ID, frozenset({"admin"}), preshared_subject)
        self._keys = keys
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, StoredKey, Principal | None]] = {}

    async def _find(self, key_id: str) -> tuple[StoredKey, Principal | None] | None:
        """The stored key and the principal it authenticates, parsed once per lookup.

        The principal is ``None`` when the stored subject is damaged (the key then fails closed).
        """
        if self._keys is None:
            return None
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        stored = await self._keys.find_key(key_id)
        if stored is None:
            return None
        principal = _principal_of(stored)
        if self._cache_seconds > 0:
            if len(self._cache) >= _CACHE_ENTRIES:
                self._cache.clear()
            self._cache[key_id] = (now + self._cache_seconds, stored, principal)
        return stored, principal

    async def live_key(self, key_id: str) -> tuple[str, Principal] | None:
        """The stored secret hash and principal of a key that still authenticates, else ``None``.

        For the console's sessions, which name a key by id: ``None`` for an unknown, revoked or
        damaged key (a session then ends at once, within the cache's ``cache_seconds``).
        """
        if key_id == PRESHARED_KEY_ID:
            if self._preshared_hash is None:
                return None
            return self._preshared_hash, self._preshared
        found = await self._find(key_id)
        if found is None or found[1] is None or found[0].revoked:
            return None
        return found[0].secret_hash, found[1]

    async def authenticate(self, header: str | None) -> Principal:
        """The caller for an ``Authorization`` header value.

        Raises:
            UnauthenticatedError: no key, an unknown or revoked one, or one whose stored subject
                is not a plain object reference (a damaged key row fails closed).
        """
        if not header:
            raise UnauthenticatedError("an API key is required (Authorization: Bearer <key>)")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise UnauthenticatedError("use the Bearer scheme: Authorization: Bearer <key>")
        presented = hash_secret(token)
        if self._preshared_hash is not None and hmac.compare_digest(presented, self._preshared_hash):
            return self._preshared
        if self._keys is not None and token.startswith(KEY_PREFIX):
            key_id, _, secret = token[len(KEY_PREFIX) :].partition("_")
            found = await self._find(key_id) if key_id and secret else None
            if found is not None:
                stored, principal = found
                if hmac.compare_digest(hash_secret(secret), stored.secret_hash) and not stored.revoked:
                    if principal is None:
                        raise UnauthenticatedError(
                            "the API key's stored subject is malformed; create a new key"
                        )
                    return principal
        raise UnauthenticatedError("the API key is unknown or revoked")


def _principal_of(stored: StoredKey) -> Principal | None:
    """The principal of a stored key; ``None`` when its stored subject is no plain object reference."""
    subject: SubjectRef | None = None
    if stored.subject is not None:
        try:
            subject = parse_subject(stored.subject)
        except RefSyntaxError:
            return None
        if subject.relation is not None or subject.is_wildcard:
            return None
    return Principal(stored.key_id, frozenset(stored.scopes), subject)


def require_scope(scope: Scope) -> Any:
    """A Litestar guard that authenticates the caller and requires ``scope``.

    The principal is left in ``connection.state.principal`` (also when its scope is refused, so the
    access log names the key).
    """

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        authenticator: Authenticator = connection.app.state.app.authenticator
        principal = await authenticator.authenticate(connection.headers.get("authorization"))
        connection.state.principal = principal  # before the scope check: a 403 is logged with its key id
        if not principal.allows(scope):
            raise ForbiddenError(f"this endpoint needs an API key with the {scope!r} scope")

    return guard

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
from datetime import datetime
from typing import Final, Literal

from rebac.errors import InvalidInputError, NotFoundError, RefSyntaxError
from rebac.refs import SubjectRef, parse_subject
from rebac.store.base import ApiKey, KeyStore

__all__ = [
    "KEY_PREFIX",
    "SCOPES",
    "GeneratedKey",
    "Keys",
    "Scope",
    "generate_key",
    "hash_secret",
    "validate_key_subject",
    "validate_scopes",
]

Scope = Literal["check", "write", "schema", "admin", "metrics"]
SCOPES: Final[tuple[Scope, ...]] = ("check", "write", "schema", "admin", "metrics")
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


def validate_key_subject(subject: SubjectRef) -> SubjectRef:
    """``subject`` when a key may act for it: one object with a well-formed type and id.

    Raises:
        InvalidInputError: a subject set (``#relation``), a wildcard, or a malformed type or id
            (``RefSyntaxError``, naming the bad part).
    """
    if subject.relation is not None or subject.is_wildcard:
        raise InvalidInputError(
            f"a key acts for one object such as user:alice, not {subject}", details={"field": "subject"}
        )
    try:
        parsed = parse_subject(f"{subject.type}:{subject.id}")
    except RefSyntaxError as exc:
        exc.details.setdefault("field", "subject")
        raise
    return parsed


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
        table: The key table (``None``: the store keeps none, and every operation says so).
    """

    __slots__ = ("_table",)

    def __init__(self, table: KeyStore | None) -> None:
        self._table = table

    def table(self) -> KeyStore:
        """The key table.

        Raises:
            NotFoundError: the store keeps no API keys.
        """
        if self._table is None:
            raise NotFoundError(
                "this server's store keeps no API key table: manage keys on a server (or with "
                "`rebac keys`) opened on the PostgreSQL database that holds them"
            )
        return self._table

    async def create(
        self, scopes: Collection[str], name: str = "", subject: SubjectRef | None = None
    ) -> tuple[GeneratedKey, ApiKey]:
        """A new key with ``scopes`` (acting for ``subject``): its text (show it once) and what was stored.

        Raises:
            InvalidInputError: no scope, an unknown one, or a subject that is not one object.
            NotFoundError: the store keeps no API keys.
        """
        granted = validate_scopes(scopes)
        acting = None if subject is None else str(validate_key_subject(subject))
        table = self.table()
        key = generate_key()
        stored = await table.create_key(key.key_id, key.secret_hash, granted, name, acting)
        return key, stored

    async def list(self) -> Sequence[ApiKey]:
        """Every key (ids, scopes, names, subjects, times; never secrets or hashes).

        Raises:
            NotFoundError: the store keeps no API keys.
        """
        return await self.table().list_keys()

    async def revoke(self, key_id: str) -> bool:
        """Revoke ``key_id``; False when no active key has that id.

        Raises:
            NotFoundError: the store keeps no API keys.
        """
        return await self.table().revoke_key(key_id)

    async def revoke_active(self, key_id: str) -> datetime:
        """Revoke the active key ``key_id``; return when it was revoked (as stored).

        Raises:
            NotFoundError: no active key has that id, or the store keeps no API keys.
        """
        table = self.table()
        revoked = await table.revoke_key(key_id) if key_id else False
        stored = await table.find_key(key_id) if revoked else None
        if stored is None or stored.revoked_at is None:
            raise NotFoundError("no active API key has this id", details={"keyId": key_id})
        return stored.revoked_at

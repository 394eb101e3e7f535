"""DTOs of ``/v1/keys``: scoped API keys over the API (scope ``admin``; a rebac addition).

A key's text (``rbk_<id>_<secret>``) appears in one response only, the one that creates it; lists
and revocations show ids, scopes, names, subjects and times, never secrets or hashes. ``subject``
is the canonical text of the subject the key acts for (``user:alice``), or ``null``.
"""

from __future__ import annotations

import msgspec

from rebac.api.dto._core import ObjectReference, _In, _Out

__all__ = ["KeyCreateRequest", "KeyCreated", "KeyInfo", "KeyRevoked", "KeysResponse"]


class KeyCreateRequest(_In):
    """``POST /v1/keys``: the scopes, a label, and optionally the subject the key acts for."""

    scopes: list[str]
    name: str = ""
    subject: ObjectReference | None = None


class KeyCreated(_Out):
    """The new key: ``key`` is its text, shown only here (store it now)."""

    key: str
    key_id: str
    scopes: list[str]
    name: str
    subject: str | None
    created_at: str


class KeyInfo(_Out):
    """One stored key (no secret, no hash); ``revokedAt`` is ``null`` while it is active."""

    key_id: str
    scopes: list[str]
    name: str
    subject: str | None
    created_at: str
    revoked_at: str | None


class KeysResponse(_Out):
    """``GET /v1/keys``: every key, oldest first."""

    keys: list[KeyInfo] = msgspec.field(default_factory=list)


class KeyRevoked(_Out):
    """``DELETE /v1/keys/{keyId}``: the key is revoked (servers stop accepting it within seconds)."""

    key_id: str
    revoked_at: str

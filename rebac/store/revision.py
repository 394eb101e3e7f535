"""Revisions and the opaque consistency tokens that carry them (SpiceDB's zedtoken analogue).

A :class:`Revision` is a totally ordered integer assigned to each committed write transaction;
revision order equals commit order as readers see it. Clients only ever see tokens: an opaque,
versioned, URL-safe string that names the store it came from, so a token from another store (or a
corrupted one) is rejected with :class:`rebac.errors.InvalidTokenError`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

from rebac import opaque
from rebac.errors import InvalidTokenError

__all__ = ["Revision", "decode_token", "encode_token"]

_TOKEN_VERSION: Final = 1


@dataclass(frozen=True, slots=True, order=True)
class Revision:
    """A committed store revision. Revision 0 is the empty store before any write."""

    value: int

    def __str__(self) -> str:
        return str(self.value)


def encode_token(revision: Revision, store_id: str) -> str:
    """Encode a revision of the store ``store_id`` as an opaque token."""
    return _encode(revision.value, store_id)


@functools.lru_cache(maxsize=64)
def _encode(value: int, store_id: str) -> str:
    """The token text (memoised: every answer carries one, and revisions change far less often)."""
    return opaque.encode({"v": _TOKEN_VERSION, "r": value, "s": store_id})


def decode_token(token: str, store_id: str) -> Revision:
    """Decode a token made by :func:`encode_token` for the same store.

    Raises:
        InvalidTokenError: if the token is malformed, of an unknown version, or from another store.
    """
    data = opaque.decode(token, "the consistency token")
    if data.get("v") != _TOKEN_VERSION:
        raise InvalidTokenError("the consistency token has an unknown format")
    value = data.get("r")
    if not opaque.natural(value):
        raise InvalidTokenError("the consistency token is malformed")
    if data.get("s") != store_id:
        raise InvalidTokenError("the consistency token was issued by another store")
    return Revision(value)

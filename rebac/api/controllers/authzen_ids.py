"""AuthZEN's free-string ids, mapped one-to-one onto the SpiceDB id grammar.

AuthZEN ids are any non-empty string (``rick@the-citadel.com``, a URL, ``mcp.tools.search``);
rebac's ids follow SpiceDB's grammar (letters, digits and ``/_|-=+``). The mapping:

- an id that fits the grammar and does not start with ``=`` is stored exactly as it is;
- any other id is stored as ``=`` followed by the unpadded base64url encoding of its UTF-8 bytes
  (base64url's alphabet is inside the grammar, and no plain id starts with ``=``).

So the mapping is one-to-one and reversible (:func:`decode_id` undoes :func:`encode_id`), and
relationships about ``rick@the-citadel.com`` are written with the id ``encode_id(...)``
(``=cmlja0B0aGUtY2l0YWRlbC5jb20``) through the v1 API, the CLI or an import.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from rebac.errors import InvalidInputError
from rebac.limits import MAX_OBJECT_ID_LENGTH
from rebac.refs import ID_RE

__all__ = ["ESCAPE", "MAX_FREE_ID_BYTES", "decode_id", "encode_id"]

ESCAPE: Final = "="
"""The first character of a mapped id."""
MAX_FREE_ID_BYTES: Final = (MAX_OBJECT_ID_LENGTH - len(ESCAPE)) * 3 // 4
"""Longest AuthZEN id (UTF-8 bytes) whose mapped form fits ``MAX_OBJECT_ID_LENGTH``."""


def encode_id(raw: str, *, what: str = "id") -> str:
    """The stored id of the AuthZEN id ``raw``.

    Raises:
        InvalidInputError: if ``raw`` is empty or longer than :data:`MAX_FREE_ID_BYTES`.
    """
    if not raw:
        raise InvalidInputError(f"{what} must be a non-empty string")
    if not raw.startswith(ESCAPE) and ID_RE.fullmatch(raw):
        return raw
    data = raw.encode("utf-8", "surrogatepass")
    if len(data) > MAX_FREE_ID_BYTES:
        raise InvalidInputError(f"{what} is longer than {MAX_FREE_ID_BYTES} bytes")
    return ESCAPE + base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def decode_id(stored: str) -> str:
    """The AuthZEN id of the stored id ``stored`` (the inverse of :func:`encode_id`).

    A stored id that starts with ``=`` but is not the canonical mapping of any id (written by
    hand) is returned unchanged, so two stored ids never decode to the same AuthZEN id.
    """
    if not stored.startswith(ESCAPE):
        return stored
    body = stored[len(ESCAPE) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
        canonical = encode_id(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return stored
    return raw if canonical == stored else stored

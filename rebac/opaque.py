"""The one codec of opaque texts: consistency tokens and page cursors.

Clients see tokens and cursors as opaque, URL-safe strings. Inside they are compact JSON objects in
unpadded URL-safe base64. :func:`encode` and :func:`decode` are the codec; :class:`Cursor` is the
shape every paginated read shares: the revision the first page read (so every page reads the same
snapshot), a digest of the request (so a cursor only resumes the query it came from) and the
position after which the next page starts. A text that is not one of ours, or belongs to another
request, is an :class:`~rebac.errors.InvalidTokenError`: never a crash, never a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from rebac.errors import InvalidTokenError

__all__ = ["Cursor", "decode", "encode", "natural"]


def encode(payload: Mapping[str, Any]) -> str:
    """The opaque text of a JSON object."""
    raw = json.dumps(payload, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(text: str, what: str) -> dict[str, Any]:
    """The JSON object inside an opaque text made by :func:`encode`.

    Args:
        text: The opaque text.
        what: Names the kind of text in the error (``"the lookup cursor"``).

    Raises:
        InvalidTokenError: ``text`` is not the encoding of a JSON object.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: JSON nested thousands deep (ours are flat), found by tests/fuzz.
        raise InvalidTokenError(f"{what} is malformed") from None
    if not isinstance(data, dict):
        raise InvalidTokenError(f"{what} is malformed")
    return data


def natural(value: object) -> TypeGuard[int]:
    """True for a JSON integer that is at least zero (a revision, a count); booleans are not."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True, slots=True)
class Cursor:
    """A page cursor: where the next page of one request starts.

    Attributes:
        revision: The revision every page reads (``None`` for reads that are not snapshots, such
            as the decision log).
        digest: Identifies the request; a cursor given to another request is refused.
        after: The position of the last item returned (its sort key, as strings).
    """

    revision: int | None
    digest: str
    after: tuple[str, ...]

    def encode(self) -> str:
        """The opaque text of this cursor."""
        payload: dict[str, Any] = {"q": self.digest, "a": list(self.after)}
        if self.revision is not None:
            payload["r"] = self.revision
        return encode(payload)

    @classmethod
    def decode(cls, text: str, digest: str, *, what: str = "the cursor", size: int = 1) -> Cursor:
        """The cursor ``text`` encodes, made for the request with ``digest``.

        Args:
            text: The opaque text.
            digest: The digest of the request being resumed.
            what: Names the cursor in the error.
            size: How many strings the position holds.

        Raises:
            InvalidTokenError: malformed, or made for another request.
        """
        data = decode(text, what)
        if data.get("q") != digest:
            raise InvalidTokenError(f"{what} is malformed or belongs to another request")
        after, revision = data.get("a"), data.get("r")
        if (
            not isinstance(after, list)
            or len(after) != size
            or not all(isinstance(part, str) for part in after)
            or not (revision is None or natural(revision))
        ):
            raise InvalidTokenError(f"{what} is malformed")
        return cls(revision, digest, tuple(after))

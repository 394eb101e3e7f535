"""Opaque cursors for reading relationships: bound to the revision and to the request's filter."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from rebac.errors import InvalidTokenError, RefSyntaxError
from rebac.refs import Relationship, parse_relationship
from rebac.store.base import RelationshipFilter
from rebac.store.revision import Revision

__all__ = ["decode_read_cursor", "encode_read_cursor", "filter_digest"]


def filter_digest(flt: RelationshipFilter) -> str:
    """A short digest of a filter (a cursor may only resume the same query)."""
    return hashlib.sha256(repr(flt).encode()).hexdigest()[:16]


def encode_read_cursor(revision: Revision, digest: str, after: Relationship) -> str:
    """The cursor resuming after ``after`` at ``revision``."""
    raw = json.dumps({"r": revision.value, "q": digest, "a": str(after)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_read_cursor(text: str, digest: str) -> tuple[Revision, Relationship]:
    """The revision and last relationship of a cursor made for the same filter.

    Raises:
        InvalidTokenError: malformed, or made for another query.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if not isinstance(data, dict) or data.get("q") != digest:
            raise InvalidTokenError("the cursor is malformed or belongs to another request")
        revision, after = data["r"], data["a"]
        if (
            not isinstance(revision, int)
            or isinstance(revision, bool)
            or revision < 0
            or not isinstance(after, str)
        ):
            raise InvalidTokenError("the cursor is malformed")
        return Revision(revision), parse_relationship(after)
    except (binascii.Error, ValueError, UnicodeDecodeError, KeyError, RefSyntaxError):
        raise InvalidTokenError("the cursor is malformed") from None

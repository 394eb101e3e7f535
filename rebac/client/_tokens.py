"""Read-your-writes: the newest consistency token a client wrote or received.

Tokens are opaque to callers; to pick the newer of two, the client reads the revision inside
(:mod:`rebac.opaque`, the server's codec). Two tokens of different stores, or ones it cannot read,
are ordered by arrival: the later one wins (the server it came from is the current one).
"""

from __future__ import annotations

import threading
from typing import Any

from rebac.client._encode import consistency_json
from rebac.client._models import Consistency
from rebac.errors import InvalidTokenError
from rebac.opaque import decode, natural

__all__ = ["AUTHZEN_TOKEN_HEADER", "Tokens", "newer"]

AUTHZEN_TOKEN_HEADER = "X-Rebac-Consistency-Token"  # noqa: S105 - a header name, not a secret
"""AuthZEN carries no consistency token; rebac reads this header instead."""


def _position(token: str) -> tuple[str, int] | None:
    try:
        data = decode(token, "the consistency token")
    except InvalidTokenError:
        return None
    store, revision = data.get("s"), data.get("r")
    if not isinstance(store, str) or not natural(revision):
        return None
    return store, revision


def newer(current: str | None, seen: str) -> str:
    """The newer of ``current`` and ``seen`` (``seen`` unless both are of one store and older)."""
    if current is None or current == seen:
        return seen
    old, new = _position(current), _position(seen)
    if old is not None and new is not None and old[0] == new[0] and old[1] > new[1]:
        return current
    return seen


class Tokens:
    """The token a client sends as ``atLeastAsFresh`` on reads (thread-safe).

    Args:
        enabled: Send the token on reads (read-your-writes); the token is tracked either way.
    """

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._token: str | None = None
        self._lock = threading.Lock()

    @property
    def token(self) -> str | None:
        """The newest token written or received, if any."""
        return self._token

    def observe(self, token: str | None) -> None:
        """Remember ``token`` if it is newer than the one held."""
        if not token:
            return
        with self._lock:
            self._token = newer(self._token, token)

    def forget(self, token: str) -> None:
        """Drop ``token`` if it is the one held (the server refused it)."""
        with self._lock:
            if self._token == token:
                self._token = None

    def reset(self) -> None:
        """Forget the token."""
        with self._lock:
            self._token = None

    def consistency(self, explicit: Consistency | None) -> tuple[dict[str, Any] | None, str | None]:
        """The ``consistency`` member to send, and the automatic token in it (``None`` if explicit)."""
        if explicit is not None:
            return consistency_json(explicit), None
        token = self._token
        if self.enabled and token:
            return {"atLeastAsFresh": {"token": token}}, token
        return None, None

    def header(self, explicit: Consistency | None) -> tuple[dict[str, str], str | None]:
        """The AuthZEN consistency header to send, and the automatic token in it."""
        if explicit is not None:
            if explicit.mode == "minimize_latency":
                return {}, None
            if explicit.mode != "at_least_as_fresh" or not explicit.token:
                raise ValueError("AuthZEN calls take Consistency.at_least_as_fresh or minimize_latency")
            return {AUTHZEN_TOKEN_HEADER: explicit.token}, None
        token = self._token
        if self.enabled and token:
            return {AUTHZEN_TOKEN_HEADER: token}, token
        return {}, None

"""Named defaults (timeouts, retries, page sizes) and the retry policy. Nothing here is mutable.

Which requests are retried:

- **reads** (check, bulk check, expand, lookups, relationship reads and exports, schema reads,
  watch, AuthZEN evaluations and searches, the decision log, identities, reviews, blast radius,
  key listing, health) are idempotent: retried on a 503 answer and on connection errors (refused,
  reset, closed before the answer), at most ``Retry.attempts`` tries in all;
- **writes** are never replayed when the server may have acted on them. They are retried only
  when it certainly did not: the connection could not be established (nothing was sent), or the
  server answered 503 ``serialization-failure`` (it rolled the transaction back and asks for a
  retry);
- **streamed uploads** (``import_relationships``) are never retried: the iterable is consumed;
- **timeouts** are not retried: the caller's time budget is spent (a read timeout of a check is a
  deny for :meth:`~rebac.client.Client.allowed`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import httpx

from rebac.limits import MAX_BULK_CHECK_ITEMS, MAX_UPDATES_PER_WRITE

__all__ = [
    "DEFAULT_BULK_TIMEOUT",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_POOL_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WRITE_TIMEOUT",
    "MAX_BULK_ITEMS",
    "MAX_WRITE_UPDATES",
    "STREAM_GRACE_SECONDS",
    "Idempotency",
    "Retry",
    "Timeouts",
]

DEFAULT_CONNECT_TIMEOUT: Final = 2.0
"""Seconds to establish a connection."""

DEFAULT_READ_TIMEOUT: Final = 10.0
"""Seconds to wait for (each chunk of) the answer; above the server's 5 s evaluation deadline."""

DEFAULT_WRITE_TIMEOUT: Final = 10.0
"""Seconds to send (each chunk of) the request."""

DEFAULT_POOL_TIMEOUT: Final = 2.0
"""Seconds to wait for a free connection of the pool."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds per phase of a request (``None``: no limit); ``httpx.Timeout`` is built from it when sending.

    httpx itself is imported on the client's first use, not by ``import rebac.client``.
    """

    connect: float | None
    read: float | None
    write: float | None
    pool: float | None

    def as_httpx(self) -> httpx.Timeout:
        """The same timeouts as an ``httpx.Timeout``."""
        import httpx  # noqa: PLC0415 - httpx loads with the first client, not with the SDK

        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


DEFAULT_TIMEOUT: Final = Timeouts(
    connect=DEFAULT_CONNECT_TIMEOUT,
    read=DEFAULT_READ_TIMEOUT,
    write=DEFAULT_WRITE_TIMEOUT,
    pool=DEFAULT_POOL_TIMEOUT,
)
"""The client's timeouts unless ``timeout=`` says otherwise (``timeout=None`` turns them off)."""

DEFAULT_BULK_TIMEOUT: Final = Timeouts(
    connect=DEFAULT_CONNECT_TIMEOUT, read=300.0, write=60.0, pool=DEFAULT_POOL_TIMEOUT
)
"""Timeouts of bulk import and export: the server loads a whole import before it answers."""

STREAM_GRACE_SECONDS: Final = 10.0
"""A watch waits this much longer than the server's watch timeout for the next line."""

MAX_BULK_ITEMS: Final = MAX_BULK_CHECK_ITEMS
"""``check_bulk`` sends at most this many items per request (more are split, at one snapshot)."""

MAX_WRITE_UPDATES: Final = MAX_UPDATES_PER_WRITE
"""Most updates one write may carry (the server's default); ``spawn_agent`` refuses more."""


class Idempotency(Enum):
    """How safe it is to send a request again."""

    READ = "read"
    """Idempotent: retried on 503 and on connection errors."""

    WRITE = "write"
    """Retried only when the server certainly did not act (no connection; a rolled-back write)."""

    NEVER = "never"
    """Never retried (a streamed upload)."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Bounded exponential backoff with jitter.

    The n-th retry waits ``d/2 + uniform(0, d/2)`` seconds, ``d = min(max_backoff, backoff * 2**(n-1))``;
    a ``Retry-After`` header of a 503 is honoured up to ``max_backoff``.

    Attributes:
        attempts: Tries in all, the first included (``1`` turns retries off).
        backoff: The first retry's nominal delay, in seconds.
        max_backoff: The longest delay between two tries, in seconds.
    """

    attempts: int = 3
    backoff: float = 0.1
    max_backoff: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("Retry.attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("Retry delays must not be negative")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before the ``retry``-th retry (1-based)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_backoff)
        nominal = min(self.max_backoff, self.backoff * 2.0 ** (retry - 1))
        return nominal / 2 + random.uniform(0, nominal / 2)  # noqa: S311 - jitter, not a secret


DEFAULT_RETRY: Final = Retry()
"""Three tries in all: two retries after about 0.1 s and 0.2 s."""

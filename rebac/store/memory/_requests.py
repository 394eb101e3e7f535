"""Access requests of the memory engine (the twin of the Postgres ``access_request`` table).

A decision takes the twin's lock, checks that the request is still pending and unexpired (and
that the new status is one the table allows), writes the approval's grant through the store's own
write (a TOUCH at a new revision), and only then changes the request: a grant that fails to write
leaves the request pending, and a refused state change writes no grant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Final

from rebac.errors import ConflictError, NotFoundError, StoreError
from rebac.refs import Relationship
from rebac.store.base import AccessRequest

__all__ = ["MemoryAccessRequestStore"]

_PENDING: Final = "pending"
_EXPIRED: Final = "expired"
_DECIDED: Final = frozenset({"approved", "denied", "cancelled", _EXPIRED})
"""The statuses a decision may set (the Postgres table's check constraint)."""


class MemoryAccessRequestStore:
    """In-memory :class:`rebac.store.base.AccessRequestStore`.

    Args:
        write_grant: Writes one relationship (TOUCH) atomically and returns its revision.
    """

    def __init__(self, write_grant: Callable[[Relationship], Awaitable[int]]) -> None:
        self._write_grant = write_grant
        self._requests: dict[str, AccessRequest] = {}
        self._lock = asyncio.Lock()

    async def add_access_request(self, request: AccessRequest) -> AccessRequest:
        """Store a new (pending) request.

        Raises:
            ConflictError: the id exists.
        """
        async with self._lock:
            if request.request_id in self._requests:
                raise ConflictError("an access request with this id already exists")
            self._requests[request.request_id] = request
        return request

    async def get_access_request(self, request_id: str) -> AccessRequest | None:
        """The request with ``request_id``, or ``None``."""
        return self._requests.get(request_id)

    async def list_access_requests(
        self, *, status: str | None = None, before: tuple[datetime, str] | None = None, limit: int
    ) -> list[AccessRequest]:
        """Requests newest first (of ``status`` only, when given), strictly after the ``before`` position."""
        found = [
            r
            for r in self._requests.values()
            if (status is None or r.status == status)
            and (before is None or (r.created_at, r.request_id) < before)
        ]
        found.sort(key=lambda r: (r.created_at, r.request_id), reverse=True)
        return found[:limit]

    async def decide_access_request(
        self,
        request_id: str,
        *,
        status: str,
        decided_by: str | None,
        now: datetime,
        reason: str = "",
        grant: Relationship | None = None,
    ) -> AccessRequest:
        """Move a pending, unexpired request to ``status``; with ``grant``, write it first.

        Raises:
            NotFoundError: no such request.
            ConflictError: the request is no longer pending, or expired (for any other status).
            StoreError: ``status`` is not one a decision may set (nothing is written).
        """
        async with self._lock:
            found = self._requests.get(request_id)
            if found is None:
                raise NotFoundError(f"no access request {request_id!r}")
            if found.status != _PENDING:
                raise ConflictError(
                    f"the access request is already {found.status}", details={"status": found.status}
                )
            expired = found.expires_at <= now
            if expired != (status == _EXPIRED):
                what = "has expired" if expired else "has not expired"
                raise ConflictError(f"the access request {what}", details={"status": found.status})
            if status not in _DECIDED:
                raise StoreError(f"an access request cannot become {status!r}")
            decided = replace(found, status=status, decided_by=decided_by, decided_at=now, reason=reason)
            if grant is not None:
                revision = await self._write_grant(grant)
                decided = replace(decided, grant_revision=revision, grant_expires_at=grant.expires_at)
            self._requests[request_id] = decided
            return decided

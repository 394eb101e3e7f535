"""Access requests in PostgreSQL: the ``access_request`` table, and approvals that write their grant.

:class:`PostgresAccessRequestMixin` is the :class:`rebac.store.base.AccessRequestStore` half of
:class:`rebac.store.postgres.PostgresTupleStore`. A decision locks the request's row
(``SELECT ... FOR UPDATE``), checks that it is still pending and unexpired, and, for an approval,
writes the grant as a TOUCH at a new revision in the *same* transaction, so either both the grant
and the request's new state commit or neither does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from rebac.errors import ConflictError, NotFoundError
from rebac.refs import Relationship
from rebac.store.base import AccessRequest
from rebac.store.postgres._write import KILL, insert_params, key_arrays
from rebac.store.postgres.models import access_request, relation_tuple

__all__ = ["PostgresAccessRequestMixin"]

R = TypeVar("R")
_A = access_request.c
PENDING = "pending"
EXPIRED = "expired"


def _row(row: sa.Row[Any]) -> AccessRequest:
    return AccessRequest(
        request_id=row.request_id,
        status=row.status,
        subject=row.subject,
        chain=tuple(row.chain or ()),
        resource=row.resource,
        action=row.action,
        relation=row.relation,
        justification=row.justification,
        requested_until=row.requested_until,
        requester=row.requester,
        evaluation_id=row.evaluation_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
        grant_revision=row.grant_revision,
        grant_expires_at=row.grant_expires_at,
    )


class PostgresAccessRequestMixin:
    """``AccessRequestStore`` for :class:`rebac.store.postgres.PostgresTupleStore`."""

    async def _read(self, body: Callable[[AsyncConnection], Awaitable[R]]) -> R:  # pragma: no cover
        raise NotImplementedError  # provided by the store class

    async def _write(self, body: Callable[[AsyncConnection], Awaitable[R]]) -> R:  # pragma: no cover
        raise NotImplementedError  # provided by the store class

    async def _begin_revision(self, conn: AsyncConnection) -> int:  # pragma: no cover
        raise NotImplementedError  # provided by the write mixin

    async def add_access_request(self, request: AccessRequest) -> AccessRequest:
        """Store a new (pending) request.

        Raises:
            ConflictError: the id exists.
        """
        values = {
            "request_id": request.request_id,
            "status": request.status,
            "subject": request.subject,
            "chain": list(request.chain),
            "resource": request.resource,
            "action": request.action,
            "relation": request.relation,
            "justification": request.justification,
            "requested_until": request.requested_until,
            "requester": request.requester,
            "evaluation_id": request.evaluation_id,
            "created_at": request.created_at,
            "expires_at": request.expires_at,
        }

        async def txn(conn: AsyncConnection) -> None:
            try:
                await conn.execute(access_request.insert().values(**values))
            except IntegrityError:
                raise ConflictError("an access request with this id already exists") from None

        await self._write(txn)
        return request

    async def get_access_request(self, request_id: str) -> AccessRequest | None:
        """The request with ``request_id``, or ``None``."""

        async def body(conn: AsyncConnection) -> sa.Row[Any] | None:
            return (await conn.execute(sa.select(access_request).where(_A.request_id == request_id))).first()

        row = await self._read(body)
        return None if row is None else _row(row)

    async def list_access_requests(
        self, *, status: str | None = None, before: tuple[datetime, str] | None = None, limit: int
    ) -> list[AccessRequest]:
        """Requests newest first (of ``status`` only, when given), strictly after the ``before`` position."""
        stmt = sa.select(access_request)
        if status is not None:
            stmt = stmt.where(_A.status == status)
        if before is not None:
            stmt = stmt.where(sa.tuple_(_A.created_at, _A.request_id) < sa.tuple_(*before))
        stmt = stmt.order_by(_A.created_at.desc(), _A.request_id.desc()).limit(limit)

        async def body(conn: AsyncConnection) -> list[sa.Row[Any]]:
            return list((await conn.execute(stmt)).all())

        return [_row(row) for row in await self._read(body)]

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
        """Move a pending, unexpired request to ``status``; with ``grant``, write it atomically.

        Raises:
            NotFoundError: no such request.
            ConflictError: the request is no longer pending, or expired (for any other status).
        """

        async def txn(conn: AsyncConnection) -> sa.Row[Any]:
            lock = sa.select(access_request).where(_A.request_id == request_id).with_for_update()
            row = (await conn.execute(lock)).first()
            if row is None:
                raise NotFoundError(f"no access request {request_id!r}")
            if row.status != PENDING:
                raise ConflictError(
                    f"the access request is already {row.status}", details={"status": row.status}
                )
            expired = row.expires_at <= now
            if expired != (status == EXPIRED):
                what = "has expired" if expired else "has not expired"
                raise ConflictError(f"the access request {what}", details={"status": row.status})
            values: dict[str, Any] = {
                "status": status,
                "decided_by": decided_by,
                "decided_at": now,
                "reason": reason,
            }
            if grant is not None:
                value = await self._begin_revision(conn)
                await conn.execute(KILL, {"rev": value, **key_arrays([grant])})
                await conn.execute(relation_tuple.insert(), [insert_params(grant, value)])
                values |= {"grant_revision": value, "grant_expires_at": grant.expires_at}
            stmt = access_request.update().where(_A.request_id == request_id).values(**values)
            return (await conn.execute(stmt.returning(*access_request.c))).one()

        return _row(await self._write(txn))

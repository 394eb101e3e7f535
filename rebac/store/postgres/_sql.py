"""SQL building blocks of the Postgres store: filters, visibility, row conversion, error translation.

Statements are SQLAlchemy Core with a *constant text per shape*: id lists are bound as one array
parameter (``= ANY(:ids)``), so a shape compiles once (SQLAlchemy's compiled cache) and psycopg
prepares it server-side after ``prepare_threshold`` executions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

import psycopg
import sqlalchemy as sa
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql

from rebac.errors import (
    RebacError,
    SerializationFailureError,
    StoreError,
    StoreUnavailableError,
)
from rebac.refs import CaveatRef, ObjectRef, Relationship, SubjectRef
from rebac.store.base import ANY_RELATION, RelationshipFilter
from rebac.store.postgres.models import LIVE_REVISION, relation_tuple

__all__ = [
    "KEY_COLUMNS",
    "ROW_COLUMNS",
    "filter_conditions",
    "filter_params",
    "live_now",
    "not_expired",
    "relationship_from_row",
    "row_values",
    "select_relationships",
    "translate_errors",
    "visible_at",
]

_T: Final = relation_tuple.c
KEY_COLUMNS: Final = (
    _T.resource_type,
    _T.resource_id,
    _T.relation,
    _T.subject_type,
    _T.subject_id,
    _T.subject_relation,
)
ROW_COLUMNS: Final = (*KEY_COLUMNS, _T.caveat_name, _T.caveat_context, _T.expires_at)
_TEXT_ARRAY: Final = postgresql.ARRAY(sa.Text())


def not_expired() -> sa.ColumnElement[bool]:
    return sa.or_(_T.expires_at.is_(None), _T.expires_at > sa.func.now())


def visible_at(revision: int) -> list[sa.ColumnElement[bool]]:
    """Rows live at ``revision`` and not expired now."""
    at = sa.bindparam("at_rev", revision, type_=sa.BigInteger())
    return [_T.created_rev <= at, _T.deleted_rev > at, not_expired()]


def live_now() -> list[sa.ColumnElement[bool]]:
    """Rows live at the head (inside the writer's lock) and not expired now."""
    return [_T.deleted_rev == LIVE_REVISION, not_expired()]


def _any_id(name: str, ids: tuple[str, ...]) -> sa.ColumnElement[Any]:
    param: sa.BindParameter[Any] = sa.bindparam(name, list(ids), type_=_TEXT_ARRAY)
    return sa.any_(param)


def filter_conditions(flt: RelationshipFilter) -> list[sa.ColumnElement[bool]]:
    """WHERE conditions selecting ``flt``, with the named parameters of :func:`filter_params`.

    Id lists are one array parameter each, so the SQL text depends only on which fields are set.
    """
    params = filter_params(flt)
    conds: list[sa.ColumnElement[bool]] = []
    if "rt" in params:
        conds.append(_T.resource_type == sa.bindparam("rt", params["rt"], type_=sa.Text()))
    if "rids" in params:
        conds.append(_T.resource_id == _any_id("rids", flt.resource_ids))
    if "rel" in params:
        conds.append(_T.relation == sa.bindparam("rel", params["rel"], type_=sa.Text()))
    if "st" in params:
        conds.append(_T.subject_type == sa.bindparam("st", params["st"], type_=sa.Text()))
    if "sids" in params:
        conds.append(_T.subject_id == _any_id("sids", flt.subject_ids))
    if "sr" in params:
        conds.append(_T.subject_relation == sa.bindparam("sr", params["sr"], type_=sa.Text()))
    return conds


def filter_params(flt: RelationshipFilter) -> dict[str, Any]:
    """The parameter values of :func:`filter_conditions` for ``flt``, by parameter name."""
    params: dict[str, Any] = {}
    if flt.resource_type is not None:
        params["rt"] = flt.resource_type
    if flt.resource_ids:
        params["rids"] = list(flt.resource_ids)
    if flt.relation is not None:
        params["rel"] = flt.relation
    if flt.subject_type is not None:
        params["st"] = flt.subject_type
    if flt.subject_ids:
        params["sids"] = list(flt.subject_ids)
    if flt.subject_relation is not ANY_RELATION:
        params["sr"] = flt.subject_relation or ""
    return params


def select_relationships(flt: RelationshipFilter, revision: int) -> sa.Select[Any]:
    """The read statement of ``query``: ``flt`` at ``revision``, in key order (no limit yet)."""
    stmt = sa.select(*ROW_COLUMNS).where(*filter_conditions(flt), *visible_at(revision))
    return stmt.order_by(*KEY_COLUMNS)


def relationship_from_row(row: Sequence[Any]) -> Relationship:
    """Build a relationship from a row in ``ROW_COLUMNS`` order."""
    rtype, rid, relation, stype, sid, srel, caveat_name, caveat_context, expires_at = row[:9]
    caveat = CaveatRef(caveat_name, dict(caveat_context or {})) if caveat_name else None
    return Relationship(
        ObjectRef(rtype, rid),
        relation,
        SubjectRef(stype, sid, srel or None),
        caveat,
        expires_at,
    )


def row_values(
    rel: Relationship,
) -> tuple[str, str, str, str, str, str, str | None, str | None, datetime | None]:
    """The ``ROW_COLUMNS`` values of ``rel`` (caveat context as JSON text, for COPY)."""
    caveat = rel.caveat
    return (
        *rel.key(),
        caveat.name if caveat else None,
        caveat.context_json() if caveat else None,
        rel.expires_at,
    )


_SERIALIZATION: Final = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)


def unavailable(exc: BaseException | None) -> str:
    """Why the database is unavailable, in words that name no DSN.

    A pool that had no connection free in time, a server refusing clients, or (anything else) the
    database itself.
    """
    if isinstance(exc, PoolTimeout | sa_exc.TimeoutError):
        return (
            "the database is unavailable: no connection was free in time"
            " (the pool is exhausted or cannot connect)"
        )
    if isinstance(exc, pg_errors.TooManyConnections):
        return "the database is unavailable: it refused the connection (too many clients)"
    return "the database is unavailable"


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors into ``StoreError`` subclasses; messages never carry DSNs or SQL.

    Raises:
        SerializationFailureError: a concurrent transaction won; safe to retry.
        StoreUnavailableError: the database cannot be reached or dropped the connection.
        StoreError: any other driver failure.
    """
    try:
        yield
    except RebacError:
        raise
    except sa_exc.DBAPIError as exc:
        orig = exc.orig
        if isinstance(orig, _SERIALIZATION):
            raise SerializationFailureError("the transaction conflicted with another one; retry") from exc
        if exc.connection_invalidated or isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
            raise StoreUnavailableError(unavailable(orig)) from exc
        if isinstance(orig, pg_errors.UndefinedTable):
            raise StoreError("the database is not migrated; run `rebac migrate`") from exc
        raise StoreError("the datastore failed") from exc
    except (sa_exc.SQLAlchemyError, psycopg.Error, OSError) as exc:
        if isinstance(exc, psycopg.OperationalError | OSError | sa_exc.TimeoutError):
            raise StoreUnavailableError(unavailable(exc)) from exc
        raise StoreError("the datastore failed") from exc

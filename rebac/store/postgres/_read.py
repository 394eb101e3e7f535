"""The hot read path of the Postgres store: one prepared statement per filter shape.

``query`` is what check, expand and lookups call on every dispatch, so it skips per-call statement
building: the SQL for each *shape* (which filter fields are set, with or without a cursor) is
compiled once from SQLAlchemy Core by the engine's own dialect and cached on the store; each call
binds values only and runs it on the pooled psycopg connection with ``prepare=True``, so Postgres
plans it once per connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from rebac.store.base import RelationshipFilter
from rebac.store.postgres._sql import KEY_COLUMNS, filter_params, select_relationships

__all__ = ["ReadStatements"]

_CURSOR: Final = tuple(f"after_{i}" for i in range(6))


class ReadStatements:
    """Compiled ``query`` statements of one store, keyed by filter shape.

    Args:
        dialect: The engine's dialect (so the SQL is exactly what SQLAlchemy would send).
    """

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._cache: dict[tuple[frozenset[str], bool], str] = {}

    def sql(self, flt: RelationshipFilter, *, with_cursor: bool) -> str:
        """The SQL text for ``flt``'s shape (values come from :meth:`params`)."""
        shape = (frozenset(filter_params(flt)), with_cursor)
        text = self._cache.get(shape)
        if text is None:
            stmt = select_relationships(flt, 0)
            if with_cursor:
                bound = [sa.bindparam(name, type_=sa.Text()) for name in _CURSOR]
                stmt = stmt.where(sa.tuple_(*KEY_COLUMNS) > sa.tuple_(*bound))
            stmt = stmt.limit(sa.bindparam("page_size", type_=sa.Integer()))
            text = str(stmt.compile(dialect=self._dialect))
            self._cache[shape] = text
        return text

    @staticmethod
    def params(
        flt: RelationshipFilter, *, revision: int, page_size: int, cursor: Sequence[str] | None
    ) -> dict[str, Any]:
        """Parameter values for :meth:`sql`."""
        params = filter_params(flt)
        params["at_rev"] = revision
        params["page_size"] = page_size
        if cursor is not None:
            params.update(zip(_CURSOR, cursor, strict=True))
        return params

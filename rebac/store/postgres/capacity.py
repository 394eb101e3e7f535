"""How many connections one server process may open, and whether ``N`` of them fit the database.

One process of ``rebac serve`` (one worker) opens, at most:

=============================== ===================== ============================================
the SQLAlchemy engine           ``2 * pool_size``     ``pool_size`` kept, as many again overflow
the hot read path (psycopg)     ``pool_size``         :mod:`rebac.store.postgres._fast`
the API key table               4                     :class:`~rebac.store.postgres.keys.PostgresKeyStore`
the change-log listener         1                     ``LISTEN`` (:mod:`rebac.store.postgres._listen`)
the index snapshot              1                     while the index loads
the decision-log writer         1                     its thread's COPY connection
the readiness probe             1                     ``/readyz``'s migration check, while it runs
=============================== ===================== ============================================

That is ``3 * pool_size + 8``: 38 with the default pool size of 10. ``N`` workers need ``N`` times
that, and PostgreSQL accepts ``max_connections`` minus the slots it reserves for superusers
(``superuser_reserved_connections``, and ``reserved_connections`` from version 16 on).
:func:`check_capacity` refuses a worker count that cannot fit before any worker starts, with one
sentence saying what to change, so a busy server never meets ``too many clients`` mid-flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import psycopg

from rebac.errors import InvalidInputError, StoreUnavailableError
from rebac.store.postgres.probe import check_url, where

__all__ = ["DatabaseCapacity", "check_capacity", "connections_per_process", "read_capacity"]

_FIXED_CONNECTIONS: Final = 4 + 1 + 1 + 1 + 1
"""The key table's pool (2 kept + 2 overflow), the listener, the snapshot, the decision writer, the probe."""

_CAPACITY_SQL: Final = (
    "SELECT current_setting('max_connections')::int, "
    "current_setting('superuser_reserved_connections')::int, "
    "coalesce(current_setting('reserved_connections', true), '0')::int, "
    "(SELECT count(*) FROM pg_stat_activity "
    " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())::int"
)


def connections_per_process(pool_size: int) -> int:
    """The most connections one process with ``pool_size`` may open (see the module docstring)."""
    return 3 * pool_size + _FIXED_CONNECTIONS


@dataclass(frozen=True, slots=True)
class DatabaseCapacity:
    """What the database accepts.

    Attributes:
        max_connections: Its ``max_connections``.
        reserved: Slots kept for superusers (and ``pg_use_reserved_connections``).
        in_use: Client connections open now, other than the one that asked.
    """

    max_connections: int
    reserved: int
    in_use: int

    @property
    def available(self) -> int:
        """Connections an ordinary role may open in all."""
        return self.max_connections - self.reserved


def read_capacity(url: str) -> DatabaseCapacity:
    """The connection limits of the database at ``url`` (synchronous; one short connection).

    Raises:
        InvalidInputError: not a PostgreSQL URL.
        StoreUnavailableError: the database cannot be reached.
    """
    parsed = check_url(url)
    libpq = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(libpq, connect_timeout=5) as conn:
            row = conn.execute(_CAPACITY_SQL).fetchone()
    except psycopg.Error:
        raise StoreUnavailableError(
            f"the database at {where(parsed)} did not say its max_connections: check REBAC_DATABASE_URL"
        ) from None
    if row is None:  # pragma: no cover - a SELECT without FROM always returns its row
        raise StoreUnavailableError(f"the database at {where(parsed)} did not say its max_connections")
    max_connections, superuser, reserved, in_use = (int(value) for value in row)
    return DatabaseCapacity(max_connections, superuser + reserved, in_use)


def check_capacity(capacity: DatabaseCapacity, *, workers: int, pool_size: int, place: str) -> str:
    """The line to print when ``workers`` processes fit ``capacity``; else raise.

    Args:
        capacity: What the database accepts (:func:`read_capacity`).
        workers: Worker processes about to start.
        pool_size: Each one's ``REBAC_POOL_SIZE``.
        place: Where the database is, for people (``host:port/database``).

    Returns:
        A line saying how many connections the workers may use, of how many; it says so too when
        the connections already open leave too few.

    Raises:
        InvalidInputError: ``workers`` times :func:`connections_per_process` is more than the
            database accepts; the message says what to lower or raise.
    """
    each = connections_per_process(pool_size)
    need = workers * each
    of = (
        f"{workers} worker{'s' if workers != 1 else ''} x up to {each} connections "
        f"(REBAC_POOL_SIZE {pool_size}: 3 x {pool_size} + {_FIXED_CONNECTIONS}) = {need}"
    )
    limit = (
        f"the {capacity.available} the database at {place} accepts "
        f"(max_connections {capacity.max_connections}, {capacity.reserved} reserved)"
    )
    if need > capacity.available:
        fits = max(0, capacity.available // each)
        raise InvalidInputError(
            f"{of} connections is more than {limit}: use --workers {fits} or fewer, "
            "a smaller REBAC_POOL_SIZE, or raise max_connections",
            details={"setting": "REBAC_WORKERS", "need": need, "available": capacity.available},
        )
    line = f"{of} connections, of {limit}"
    if need + capacity.in_use > capacity.available:
        line += f"; {capacity.in_use} are open already, so a busy server may be refused some"
    return line

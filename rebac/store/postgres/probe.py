"""Preflight checks of a PostgreSQL database before a server uses it: one sentence per failure.

``rebac serve`` runs :func:`preflight` before it starts its workers (and the app's lifespan runs it
before opening the store), so a database that cannot serve is reported as one line that says what
is wrong and what to do, instead of a driver traceback::

    the database at 127.0.0.1:5999 is not reachable: start PostgreSQL or set REBAC_DATABASE_URL
    the database at 127.0.0.1:5432/test is not migrated: run `rebac migrate`

Messages name the host, port, database and user, never the password or the whole URL.
"""

from __future__ import annotations

from typing import Final

import psycopg
from sqlalchemy import URL, make_url
from sqlalchemy.exc import ArgumentError

from rebac.errors import InvalidInputError, StoreError, StoreUnavailableError
from rebac.store.postgres.migrate import is_at_head

__all__ = ["check_migrated", "check_reachable", "check_url", "preflight", "where"]

_CONNECT_TIMEOUT_SECONDS: Final = 5
_SHAPE: Final = "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"


def check_url(url: str, *, setting: str = "REBAC_DATABASE_URL") -> URL:
    """``url`` parsed, when it is a PostgreSQL URL (``setting``: the variable named in errors).

    Raises:
        InvalidInputError: it does not parse, or names another database system.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise InvalidInputError(
            f"{setting} is not a database URL: set it to {_SHAPE}",
            details={"setting": setting},
        ) from None
    if parsed.get_backend_name() != "postgresql":
        raise InvalidInputError(
            f"{setting} is a {parsed.drivername}:// URL, and rebac needs PostgreSQL: set it to {_SHAPE}",
            details={"setting": setting},
        )
    return parsed


def where(url: URL, *, database: bool = True) -> str:
    """Where ``url`` points, for people: ``host:port/database`` (or the socket directory); no secrets."""
    host = url.host or str(url.query.get("host") or "") or "localhost"
    place = host if url.port is None or host.startswith("/") else f"{host}:{url.port}"
    return f"{place}/{url.database}" if database and url.database else place


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def check_reachable(url: URL) -> None:
    """Connect once to ``url`` and disconnect.

    Raises:
        StoreUnavailableError: no server answers there, the database does not exist, or the
            server refuses the login (each with its own sentence).
    """
    try:
        with psycopg.connect(_libpq(url), connect_timeout=_CONNECT_TIMEOUT_SECONDS):
            return
    except psycopg.Error as exc:
        text = str(exc)
    place = where(url)
    server = where(url, database=False)
    if "FATAL" not in text:  # no server answered: refused, timed out, unknown host
        raise StoreUnavailableError(
            f"the database at {server} is not reachable: start PostgreSQL or set REBAC_DATABASE_URL"
        )
    if "database" in text and "does not exist" in text:
        raise StoreUnavailableError(
            f"the database {url.database!r} does not exist on {server}: create it "
            f"(createdb {url.database}) and run `rebac migrate`, or set REBAC_DATABASE_URL"
        )
    if "authentication" in text or "role" in text or "password" in text:
        raise StoreUnavailableError(
            f"the database at {place} refused the login of {url.username or 'the default user'!r}: "
            "check the user and password in REBAC_DATABASE_URL"
        )
    raise StoreUnavailableError(f"the database at {place} refused the connection: check REBAC_DATABASE_URL")


def check_migrated(url: URL) -> None:
    """Raise unless the database at ``url`` is migrated to the newest revision.

    Raises:
        StoreError: it is not (or only partly) migrated.
        StoreUnavailableError: it cannot be reached.
    """
    if not is_at_head(_libpq(url)):
        raise StoreError(f"the database at {where(url)} is not migrated: run `rebac migrate`")


def preflight(url: str, *, migrated: bool = True) -> None:
    """Check that the database at ``url`` can serve (synchronous: call it in a thread from async code).

    That is: a PostgreSQL URL, reachable, and (with ``migrated``) migrated to the newest revision.

    Raises:
        InvalidInputError: not a PostgreSQL URL.
        StoreUnavailableError: not reachable, no such database, or the login is refused.
        StoreError: not migrated.
    """
    parsed = check_url(url)
    check_reachable(parsed)
    if migrated:
        check_migrated(parsed)

"""The embedded default: a PostgreSQL server (PyPI ``pgserver``) in a local data directory.

With no ``REBAC_DATABASE_URL``, the CLI and the app start one under ``REBAC_HOME`` (``pgdata/``),
migrate it and use it. pgserver bundles the server binaries, runs as root too (it drops to a
system user), and listens on a Unix socket only, so nothing is exposed on the network.

A data directory that holds no database yet is initialised, and that is said in one line
(``creating a new embedded database in /path/pgdata``), so a mistyped ``REBAC_HOME`` shows.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from rebac.errors import StoreUnavailableError

__all__ = ["Say", "embedded_postgres", "to_stderr"]

Say = Callable[[str], None]
"""Reports one step of starting a server, as one line for people."""


def to_stderr(line: str) -> None:
    """Write ``rebac: <line>`` to standard error (the default way a step is said)."""
    sys.stderr.write(f"rebac: {line}\n")
    sys.stderr.flush()


def _pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
        warnings.simplefilter("ignore")
        import pgserver  # noqa: PLC0415 - optional at import time; only the embedded path needs it

    return pgserver


def _sqlalchemy_url(uri: str) -> str:
    return make_url(uri).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@contextmanager
def embedded_postgres(
    home: Path, *, database: str = "postgres", say: Say = to_stderr, starting: bool = False
) -> Iterator[str]:
    """Run an embedded server with its data in ``home / "pgdata"``; yield a SQLAlchemy URL.

    The server stops when the last user of this data directory (in any process) leaves.

    Args:
        home: ``REBAC_HOME``.
        database: The database of the URL.
        say: Told ``creating a new embedded database in ...`` when the data directory holds no
            database yet (and, with ``starting``, ``starting the embedded database in ...``).
        starting: Also say that the server is being started.

    Raises:
        StoreUnavailableError: the server could not be started.
    """
    pgserver = _pgserver()
    data = home / "pgdata"
    if not (data / "PG_VERSION").exists():
        say(f"creating a new embedded database in {data}")
    elif starting:
        say(f"starting the embedded database in {data}")
    try:
        data.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(data, cleanup_mode="stop")
    except Exception as exc:
        raise StoreUnavailableError(
            f"the embedded PostgreSQL server in {data} could not be started: check that the "
            "directory is writable, or set REBAC_DATABASE_URL to use another server"
        ) from exc
    try:
        yield _sqlalchemy_url(server.get_uri(database))
    finally:
        server.cleanup()

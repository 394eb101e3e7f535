"""The embedded default: a PostgreSQL server (PyPI ``pgserver``) in a local data directory.

With no ``REBAC_DATABASE_URL``, the CLI and the app start one under ``REBAC_HOME`` (``pgdata/``),
migrate it and use it. pgserver bundles the server binaries, runs as root too (it drops to a
system user), and listens on a Unix socket only, so nothing is exposed on the network.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from rebac.errors import StoreUnavailableError

__all__ = ["embedded_postgres"]


def _pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
        warnings.simplefilter("ignore")
        import pgserver  # noqa: PLC0415 - optional at import time; only the embedded path needs it

    return pgserver


def _sqlalchemy_url(uri: str) -> str:
    return make_url(uri).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@contextmanager
def embedded_postgres(home: Path, *, database: str = "postgres") -> Iterator[str]:
    """Run an embedded server with its data in ``home / "pgdata"``; yield a SQLAlchemy URL.

    The server stops when the last user of this data directory (in any process) leaves.

    Raises:
        StoreUnavailableError: the server could not be started.
    """
    pgserver = _pgserver()
    data = home / "pgdata"
    data.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(data, cleanup_mode="stop")
    except Exception as exc:
        raise StoreUnavailableError("the embedded PostgreSQL server could not be started") from exc
    try:
        yield _sqlalchemy_url(server.get_uri(database))
    finally:
        server.cleanup()

"""Exit 0 when a PostgreSQL server answers at the given SQLAlchemy URL, else 1 (used by scripts/test)."""

from __future__ import annotations

import sys

import psycopg
from sqlalchemy.engine import make_url


def main(argv: list[str]) -> int:
    """Try one short connection; never print the password."""
    url = make_url(argv[1])
    try:
        with psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database,
            connect_timeout=3,
        ) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Alembic environment: migrates the store tables described by ``rebac.store.postgres.models.metadata``.

The database URL comes from, in order: ``-x url=...`` on the alembic command line, the ``url``
attribute set by :func:`rebac.store.postgres.migrate.upgrade_to_head` (programmatic use), then the
``REBAC_DATABASE_URL`` environment variable. ``postgresql://`` URLs are run with psycopg 3.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

from rebac.store.postgres.migrate import sync_url
from rebac.store.postgres.models import DECISION_PARTITION_PREFIX, metadata

config = context.config
target_metadata = metadata


def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Leave the store's daily ``decision_log`` partitions (made on demand) out of autogenerate."""
    return not (type_ == "table" and name is not None and name.startswith(DECISION_PARTITION_PREFIX))


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.attributes.get("url")
    url = url or os.environ.get("REBAC_DATABASE_URL")
    if not url:
        msg = "no database URL: pass -x url=... or set REBAC_DATABASE_URL"
        raise RuntimeError(msg)
    return sync_url(str(url))


def run_migrations_offline() -> None:
    """Emit SQL without a connection (``alembic upgrade --sql``)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations over a connection (an existing one when the caller passed it)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            include_name=_include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            context.configure(
                connection=conn,
                target_metadata=target_metadata,
                compare_type=True,
                include_name=_include_name,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

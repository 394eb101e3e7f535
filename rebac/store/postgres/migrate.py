"""Run Alembic migrations the one way the CLI, the app and the tests share.

These functions are synchronous (Alembic is); call them with ``asyncio.to_thread`` from async code.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, make_url, pool
from sqlalchemy.exc import SQLAlchemyError

from rebac.errors import StoreUnavailableError

__all__ = ["alembic_config", "async_url", "downgrade_to_base", "is_at_head", "sync_url", "upgrade_to_head"]

_MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def _with_driver(url: str, driver: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("only PostgreSQL URLs are supported")
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """``url`` with the psycopg 3 driver (``postgresql+psycopg://``), for Alembic and admin work."""
    return _with_driver(url, "psycopg")


def async_url(url: str) -> str:
    """``url`` with the async psycopg 3 driver (the same dialect name; SQLAlchemy picks async)."""
    return _with_driver(url, "psycopg")


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at this repository's ``migrations/`` and at ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def upgrade_to_head(url: str) -> None:
    """Migrate the database at ``url`` to the newest revision.

    Raises:
        StoreUnavailableError: the database cannot be reached (the message carries no DSN).
    """
    try:
        command.upgrade(alembic_config(url), "head")
    except SQLAlchemyError as exc:
        raise StoreUnavailableError("could not migrate the database: it is unreachable or refused") from exc


def downgrade_to_base(url: str) -> None:
    """Undo every migration (tests and disaster recovery only)."""
    command.downgrade(alembic_config(url), "base")


def is_at_head(url: str) -> bool:
    """True when the database at ``url`` is migrated to the newest revision.

    Raises:
        StoreUnavailableError: the database cannot be reached.
    """
    script = ScriptDirectory.from_config(alembic_config(url))
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        raise StoreUnavailableError("the database is unreachable") from exc
    finally:
        engine.dispose()
    return current == set(script.get_heads())

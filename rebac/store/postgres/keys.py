"""API keys in PostgreSQL: scoped, revocable, stored hashed (only ``sha256(secret)``; never the key text).

:class:`PostgresKeyStore` is the :class:`rebac.store.base.KeyStore` of the Postgres engine (a store
opened by :func:`rebac.store.factory.open_store` serves it as ``roles.keys``). The HTTP API
authenticates callers through :meth:`PostgresKeyStore.find_key`; the ``rebac keys`` commands
create, list and revoke keys. :class:`rebac.store.memory.MemoryKeyStore` is the in-memory twin.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from rebac.errors import ConflictError, StoreError, StoreUnavailableError
from rebac.store.base import ApiKey
from rebac.store.postgres.migrate import async_url
from rebac.store.postgres.models import api_key

__all__ = ["PostgresKeyStore"]


@contextmanager
def _translate() -> Iterator[None]:
    try:
        yield
    except IntegrityError:
        raise ConflictError("an API key with this id already exists") from None
    except DBAPIError as exc:
        if exc.connection_invalidated or isinstance(exc.orig, OSError):
            raise StoreUnavailableError("the database is unreachable") from None
        raise StoreError("the key table could not be read or written") from None
    except SQLAlchemyError:
        raise StoreError("the key table could not be read or written") from None
    except OSError:
        raise StoreUnavailableError("the database is unreachable") from None


def _row(row: sa.Row[tuple[str, str, list[str], str, datetime, datetime | None, str | None]]) -> ApiKey:
    return ApiKey(
        row.key_id,
        row.secret_hash,
        frozenset(row.scopes),
        row.name,
        row.created_at,
        row.revoked_at,
        row.subject,
    )


class PostgresKeyStore:
    """The ``api_key`` table (a :class:`rebac.store.base.KeyStore`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 2) -> PostgresKeyStore:
        """A key store on the migrated database at ``url`` (connections open lazily)."""
        engine = create_async_engine(
            async_url(url), pool_size=pool_size, max_overflow=pool_size, connect_args={"connect_timeout": 5}
        )
        return cls(engine)

    async def close(self) -> None:
        """Close the pool."""
        await self._engine.dispose()

    async def create_key(
        self,
        key_id: str,
        secret_hash: str,
        scopes: frozenset[str],
        name: str = "",
        subject: str | None = None,
    ) -> ApiKey:
        """Store a new key (its hash only), acting for ``subject`` (canonical text) when given.

        Raises:
            ConflictError: the id exists.
        """
        key = ApiKey(key_id, secret_hash, frozenset(scopes), name, datetime.now(UTC), subject=subject)
        with _translate():
            async with self._engine.begin() as conn:
                await conn.execute(
                    api_key.insert().values(
                        key_id=key.key_id,
                        secret_hash=key.secret_hash,
                        scopes=sorted(key.scopes),
                        name=key.name,
                        created_at=key.created_at,
                        subject=key.subject,
                    )
                )
        return key

    async def find_key(self, key_id: str) -> ApiKey | None:
        """The key with ``key_id``, or ``None``."""
        with _translate():
            async with self._engine.connect() as conn:
                row = (await conn.execute(sa.select(api_key).where(api_key.c.key_id == key_id))).first()
        return None if row is None else _row(row)

    async def list_keys(self) -> list[ApiKey]:
        """Every key, oldest first (hashes included; never print them)."""
        with _translate():
            async with self._engine.connect() as conn:
                rows = (await conn.execute(sa.select(api_key).order_by(api_key.c.created_at))).all()
        return [_row(row) for row in rows]

    async def revoke_key(self, key_id: str) -> bool:
        """Revoke a key; False when no live key has that id."""
        with _translate():
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    api_key.update()
                    .where(api_key.c.key_id == key_id, api_key.c.revoked_at.is_(None))
                    .values(revoked_at=datetime.now(UTC))
                )
        return bool(result.rowcount)

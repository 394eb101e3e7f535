"""Shared constants and builders of the API tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from litestar.testing import AsyncTestClient

from rebac.config import ApiSettings, DatabaseSettings, Settings
from rebac.services.keys import GeneratedKey, generate_key
from rebac.store.postgres import PostgresKeyStore
from rebac.store.records import ApiKey

T = TypeVar("T")

PRESHARED = "test-preshared-key-9f8e7d6c5b4a"
AUTH = {"Authorization": f"Bearer {PRESHARED}"}

SCHEMA = """
definition user {}

definition team {
    relation member: user | team#member
}

caveat on_weekday(day string) {
    day != "sat" && day != "sun"
}

definition document {
    relation owner: user
    relation viewer: user | team#member | user:* | user with on_weekday
    relation banned: user
    permission edit = owner
    permission view = (viewer + edit) - banned
}
"""

Client = AsyncTestClient[Any]
"""The test client type (Litestar's async test client)."""

LIMITS = ApiSettings(preshared_key=PRESHARED, max_bulk_items=5, max_page_size=50)
MAX_UPDATES = 10


class KeyTable:
    """The real PostgreSQL key table (``api_key``, :class:`PostgresKeyStore`) of the API tests' database.

    ``add`` and ``revoke`` run the key store on a thread of their own (its own event loop), so they
    stay plain calls and the test's loop does not run in between (the app under Litestar's test
    client runs on another loop). The app reads the same table through its store's ``roles.keys``.

    Args:
        url: SQLAlchemy URL of the migrated test database.
    """

    def __init__(self, url: str) -> None:
        self._url = url

    def _run(self, work: Callable[[PostgresKeyStore], Awaitable[T]]) -> T:
        async def main() -> T:
            table = PostgresKeyStore.connect(self._url)
            try:
                return await work(table)
            finally:
                await table.close()

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, main()).result(timeout=60)

    def add(self, *scopes: str, subject: str | None = None) -> GeneratedKey:
        """Store a new key with ``scopes`` (acting for ``subject``); its text is ``.text``."""
        key = generate_key()
        self._run(lambda t: t.create_key(key.key_id, key.secret_hash, frozenset(scopes), subject=subject))
        return key

    def revoke(self, key_id: str) -> None:
        """Revoke a live key."""
        assert self._run(lambda t: t.revoke_key(key_id))

    async def find_key(self, key_id: str) -> ApiKey | None:
        """The stored key, or ``None`` (so the table can be given to ``create_app(keys=...)``)."""
        return await asyncio.to_thread(self._run, lambda t: t.find_key(key_id))


def settings(**api: Any) -> Settings:
    base: dict[str, Any] = {
        "preshared_key": PRESHARED,
        "max_bulk_items": LIMITS.max_bulk_items,
        "max_page_size": LIMITS.max_page_size,
    }
    base.update(api)
    return Settings(api=ApiSettings(**base), database=DatabaseSettings(max_updates_per_write=MAX_UPDATES))


async def flush_decisions(client: Client) -> None:
    """Wait until the recorder has written everything (it runs on the test client's own loop)."""
    for _ in range(100):
        stats = (await client.get("/v1/decisions/stats", headers=AUTH)).json()
        if stats["queued"] == 0:
            return
        await asyncio.sleep(0.05)
    msg = "the decision recorder did not flush"
    raise AssertionError(msg)


def obj(type_: str, id_: str) -> dict[str, str]:
    return {"objectType": type_, "objectId": id_}


def subj(type_: str, id_: str, relation: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"object": obj(type_, id_)}
    if relation:
        out["optionalRelation"] = relation
    return out


def rel(  # noqa: PLR0917 - mirrors the text syntax, left to right
    rtype: str, rid: str, relation: str, stype: str, sid: str, srel: str = ""
) -> dict[str, Any]:
    return {"resource": obj(rtype, rid), "relation": relation, "subject": subj(stype, sid, srel)}


def touch(  # noqa: PLR0917 - mirrors the text syntax, left to right
    rtype: str, rid: str, relation: str, stype: str, sid: str, srel: str = ""
) -> dict[str, Any]:
    return {"operation": "OPERATION_TOUCH", "relationship": rel(rtype, rid, relation, stype, sid, srel)}


def check_body(rid: str, permission: str, sid: str, **extra: Any) -> dict[str, Any]:
    return {"resource": obj("document", rid), "permission": permission, "subject": subj("user", sid), **extra}


FULL = {"consistency": {"fullyConsistent": True}}


def create_database(server_url: str, prefix: str) -> str:
    """A new empty database on the test server; returns its SQLAlchemy URL."""
    import uuid  # noqa: PLC0415 - helpers for a few fixtures only

    import psycopg  # noqa: PLC0415
    from sqlalchemy import make_url  # noqa: PLC0415

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    libpq = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    """Drop a database made by :func:`create_database`."""
    import psycopg  # noqa: PLC0415
    from sqlalchemy import make_url  # noqa: PLC0415

    libpq = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

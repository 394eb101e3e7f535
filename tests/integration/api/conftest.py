"""Fixtures for the API tests: a real PostgreSQL store behind the app, via Litestar's test client.

The store keeps the in-memory relationship index, as ``rebac serve`` does by default, so the API
tests exercise the index-served read path (with database fallback) end to end. API keys live in
the same database's real key table (``api_key``, :class:`~rebac.store.postgres.PostgresKeyStore`),
which the app authenticates against (given as ``keys``; the store itself is opened without the key
table role, so ``/v1/keys`` says it has none; ``test_keys_api`` covers the store that has it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_helpers import AUTH, SCHEMA, Client, KeyTable, settings, touch
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.store.base import TupleStore


@pytest.fixture
async def pg_store(store_factory: Any) -> AsyncIterator[TupleStore]:
    async with store_factory("indexed", quantization_seconds=0) as store:
        yield store


@pytest.fixture
def keys(pg_store: TupleStore, pg_url: str) -> KeyTable:
    """The database's real key table (``pg_store`` truncated it); the app authenticates against it."""
    return KeyTable(pg_url)


@pytest.fixture
async def client(pg_store: TupleStore, keys: KeyTable) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(settings(), store=pg_store, keys=keys, schema_refresh_seconds=0, key_cache_seconds=0)
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture
async def seeded(client: Client) -> AsyncTestClient[Any]:
    """A client whose store has SCHEMA and a few relationships."""
    response = await client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)
    assert response.status_code == 200, response.text
    response = await client.post(
        "/v1/relationships/write",
        json={
            "updates": [
                touch("document", "d1", "viewer", "team", "eng", "member"),
                touch("team", "eng", "member", "user", "tom"),
                touch("document", "d1", "owner", "user", "ann"),
                touch("document", "d2", "viewer", "user", "tom"),
                touch("document", "d1", "banned", "user", "bob"),
                touch("document", "d1", "viewer", "user", "bob"),
            ]
        },
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    return client

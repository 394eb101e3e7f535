"""``/readyz`` reports the in-memory index: ready, and degraded (still 200) while its follower fails."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from api_helpers import Client

from rebac.store.base import TupleStore
from rebac.store.postgres import PostgresTupleStore

pytestmark = pytest.mark.integration


async def readyz_until(client: Client, state: str) -> Any:
    """Poll ``/readyz`` (bounded) until the index reports ``state``."""
    body: Any = None
    for _ in range(500):
        body = (await client.get("/readyz")).json()
        if body.get("index", {}).get("state") == state:
            return body
        await asyncio.sleep(0.02)
    pytest.fail(f"/readyz never said {state}: {body}")


async def test_readyz_reports_the_index(client: Client) -> None:
    body = await readyz_until(client, "ready")
    assert body["status"] == "ready"
    assert body["index"]["reason"] is None
    assert body["index"]["since"]
    assert body["index"]["applied"] >= body["index"]["floor"]


async def test_a_degraded_index_is_visible_and_recovers(
    client: Client, pg_store: TupleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(pg_store, PostgresTupleStore)
    await readyz_until(client, "ready")
    follower = pg_store._follower
    assert follower is not None
    listener = follower._listener
    real_start = listener.start
    broken = True

    async def failing_start() -> None:
        if broken:
            raise psycopg.OperationalError("terminating connection due to administrator command")
        await real_start()

    monkeypatch.setattr(listener, "start", failing_start)
    follower._wake.set()
    body = await readyz_until(client, "degraded")
    response = await client.get("/readyz")
    assert response.status_code == 200  # reads fall back to the database: stay in rotation
    assert body["status"] == "degraded"
    assert body["index"]["reason"] == "the database is unavailable"
    broken = False
    body = await readyz_until(client, "ready")
    assert body["status"] == "ready"

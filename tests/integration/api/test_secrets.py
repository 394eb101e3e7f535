"""Internal failures answer a bare 500, and neither logs nor responses carry secrets."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from api_helpers import AUTH, PRESHARED, SCHEMA, check_body, settings
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.store.base import Consistency
from rebac.store.memory import MemoryTupleStore
from rebac.store.revision import Revision

DSN = "postgresql+psycopg://rebac:pw-0f9e8d7c@db.internal:5432/rebac"


class BrokenStore(MemoryTupleStore):
    """A store whose reads fail with a driver-like error quoting a DSN."""

    async def resolve(self, consistency: Consistency) -> Revision:  # noqa: ARG002 - fails for any mode
        msg = f"connection to {DSN} failed"
        raise RuntimeError(msg)


async def test_unexpected_errors_are_bare_500s_and_logs_hold_no_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = BrokenStore()
    await store.write_schema(SCHEMA, author="test")
    app = create_app(settings(), store=store)
    caplog.set_level(logging.DEBUG)
    async with AsyncTestClient(app) as client:
        response = await client.post(
            "/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=AUTH
        )
        unauthenticated = await client.post(
            "/v1/permissions/check", json={}, headers={"Authorization": f"Bearer {PRESHARED}x"}
        )
    assert response.status_code == 500
    assert response.json() == {
        "type": "urn:rebac:problem:internal",
        "title": "Internal server error",
        "status": 500,
        "detail": "internal server error",
    }
    assert unauthenticated.status_code == 401
    everything: list[Any] = [response.text, unauthenticated.text, caplog.text]
    everything += [r.getMessage() for r in caplog.records]
    for text in everything:
        assert "pw-0f9e8d7c" not in text
        assert PRESHARED not in text
    assert "unhandled RuntimeError" in caplog.text

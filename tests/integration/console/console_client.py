"""Litestar test-client helpers of the console's HTTP tests: sign in, and seed through the API."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from console_keys import TestKeys
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.config import ApiSettings, Settings

Client = AsyncTestClient[Any]
_RELATIONSHIP = re.compile(r"(\w+):([\w-]+)#(\w+)@(\w+):([\w*-]+)(?:#(\w+))?")


@asynccontextmanager
async def console_app(store_factory: Any, pg_url: str, key: str) -> AsyncIterator[Client]:
    """The app on a memory store (these tests are about the console's pages; the live-server
    browser tests run them on PostgreSQL), ``key`` its preshared key, under Litestar's test client."""
    async with store_factory("memory", quantization_seconds=0) as store:
        settings = Settings(api=ApiSettings(preshared_key=key, access_log=False))
        keys = TestKeys(store, pg_url)
        app = create_app(
            settings, store=store, keys=keys.lookup, schema_refresh_seconds=0, key_cache_seconds=0
        )
        async with AsyncTestClient(app) as client:
            yield client


async def sign_in(client: Client, key: str, page: str = "/console/requests") -> str:
    """Sign in as ``key`` (dropping any earlier session); the session's CSRF token, read on ``page``."""
    client.cookies.clear()
    form = await client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    signed = await client.post("/console/login", data={"csrf": token[1], "key": key}, follow_redirects=False)
    assert signed.status_code == 303
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', (await client.get(page)).text)
    assert found is not None
    return found[1]


async def seed(client: Client, headers: dict[str, str], schema: str, lines: list[str]) -> None:
    """Write ``schema`` and touch the relationships ``lines`` (``doc:1#viewer@team:t#member``)."""
    written = await client.post("/v1/schema/write", json={"schema": schema}, headers=headers)
    assert written.status_code == 200, written.text
    updates = []
    for line in lines:
        match = _RELATIONSHIP.fullmatch(line)
        assert match, line
        subject: dict[str, Any] = {"object": {"objectType": match[4], "objectId": match[5]}}
        if match[6]:
            subject["optionalRelation"] = match[6]
        resource = {"objectType": match[1], "objectId": match[2]}
        updates.append(
            {
                "operation": "OPERATION_TOUCH",
                "relationship": {"resource": resource, "relation": match[3], "subject": subject},
            }
        )
    response = await client.post("/v1/relationships/write", json={"updates": updates}, headers=headers)
    assert response.status_code == 200, response.text


async def evaluate(client: Client, headers: dict[str, str], text: str) -> bool:
    """An AuthZEN evaluation of ``document:a#view@user:alice`` (a recorded decision); its decision."""
    left, _, subject = text.partition("@")
    resource, _, action = left.partition("#")
    rtype, _, rid = resource.partition(":")
    stype, _, sid = subject.partition(":")
    body = {
        "subject": {"type": stype, "id": sid},
        "action": {"name": action},
        "resource": {"type": rtype, "id": rid},
    }
    response = await client.post("/access/v1/evaluation", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return bool(response.json()["decision"])


async def logged(client: Client, headers: dict[str, str], count: int) -> None:
    """Wait (bounded) until the decision log holds ``count`` decisions: the recorder writes in batches."""
    for _ in range(200):
        found = await client.get("/v1/decisions", params={"limit": count + 1}, headers=headers)
        assert found.status_code == 200, found.text
        if len(found.json()["decisions"]) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the decision log did not reach {count} decisions")

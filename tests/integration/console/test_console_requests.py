"""The access-request pages over HTTP: deny, the approver rules, and a bad duration.

The browser test approves; these deny, and check that the console applies the service's rules
(no one decides her own agent's request, a key acting for no one decides nothing) and writes
nothing when it refuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from console_client import sign_in
from console_keys import TestKeys
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.config import ApiSettings, Settings
from rebac.store.base import TupleStore

pytestmark = pytest.mark.integration

KEY = "console-requests-preshared-0123456789"
ADMIN = {"Authorization": f"Bearer {KEY}"}
SCHEMA = """
use expiration
definition user {}
definition agent {
    relation principal: user
    acts_for principal
}
definition document {
    relation owner: user
    relation viewer: user | agent | agent with expiration
    permission view = viewer + owner
    permission approve_access = owner
}
"""
Client = AsyncTestClient[Any]


@pytest.fixture
async def store(store_factory: Any) -> AsyncIterator[TupleStore]:
    """The memory store: these tests are about the console's rules. The live-server browser tests
    run the same pages on PostgreSQL (an indexed store opened by a test's fixture can be bound to
    another event loop than Litestar's test client serves on, which fails a read at random)."""
    async with store_factory("memory", quantization_seconds=0) as opened:
        yield opened


@pytest.fixture
def keys(store: TupleStore, pg_url: str) -> TestKeys:
    return TestKeys(store, pg_url)


@pytest.fixture
async def client(store: TupleStore, keys: TestKeys) -> AsyncIterator[Client]:
    settings = Settings(api=ApiSettings(preshared_key=KEY, access_log=False))
    app = create_app(settings, store=store, keys=keys.lookup, schema_refresh_seconds=0, key_cache_seconds=0)
    async with AsyncTestClient(app) as test_client:
        yield test_client


async def _key(keys: TestKeys, scopes: set[str], subject: str) -> str:
    _, text = await keys.add(scopes, subject)
    return text


async def _seed(client: Client, keys: TestKeys) -> tuple[str, str, str]:
    """The request id, bob's (approver) and alice's (the agent's principal) admin keys."""
    assert (await client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=ADMIN)).status_code == 200
    updates = [
        ("document", "plan", "owner", "user", "bob"),
        ("document", "plan", "viewer", "user", "alice"),
        ("agent", "bot", "principal", "user", "alice"),
    ]
    body = {
        "updates": [
            {
                "operation": "OPERATION_TOUCH",
                "relationship": {
                    "resource": {"objectType": rt, "objectId": ri},
                    "relation": rel,
                    "subject": {"object": {"objectType": st, "objectId": si}},
                },
            }
            for rt, ri, rel, st, si in updates
        ]
    }
    assert (await client.post("/v1/relationships/write", json=body, headers=ADMIN)).status_code == 200
    bot = {"Authorization": f"Bearer {await _key(keys, {'check'}, 'agent:bot')}"}
    asked = {
        "subject": {"type": "agent", "id": "bot"},
        "action": {"name": "view"},
        "resource": {"type": "document", "id": "plan"},
        "justification": "read the plan",
        "requested_access": {"relation": "viewer", "duration_seconds": 600},
    }
    created = await client.post("/access/v1/requests", json=asked, headers=bot)
    assert created.status_code == 202, created.text
    bob = await _key(keys, {"admin"}, "user:bob")
    alice = await _key(keys, {"admin"}, "user:alice")
    return str(created.json()["task"]["id"]), bob, alice


async def _status(client: Client, request_id: str) -> dict[str, Any]:
    found = await client.get(f"/access/v1/requests/{request_id}", headers=ADMIN)
    assert found.status_code == 200
    request: dict[str, Any] = found.json()["request"]
    return {**request, "status": found.json()["task"]["status"]}


async def test_the_agents_principal_cannot_decide_and_a_key_for_no_one_cannot_either(
    client: Client, keys: TestKeys
) -> None:
    request_id, _, alice = await _seed(client, keys)
    csrf = await sign_in(client, alice)
    refused = await client.post(f"/console/requests/{request_id}/approve", data={"csrf": csrf})
    assert refused.status_code == 403
    assert "own request or her agent" in refused.text
    csrf = await sign_in(client, KEY)  # the preshared key acts for no subject here
    refused = await client.post(f"/console/requests/{request_id}/deny", data={"csrf": csrf})
    assert refused.status_code == 403
    assert (await _status(client, request_id))["status"] == "pending"


async def test_a_bad_duration_is_refused_and_nothing_is_granted(client: Client, keys: TestKeys) -> None:
    request_id, bob, _ = await _seed(client, keys)
    csrf = await sign_in(client, bob)
    for duration in ("0", "-5", "soon"):
        refused = await client.post(
            f"/console/requests/{request_id}/approve", data={"csrf": csrf, "duration": duration}
        )
        assert refused.status_code == 400, duration
        assert "duration" in refused.text
    assert (await _status(client, request_id))["status"] == "pending"


async def test_deny_with_a_reason(client: Client, keys: TestKeys) -> None:
    request_id, bob, _ = await _seed(client, keys)
    csrf = await sign_in(client, bob)
    page = await client.get("/console/requests")
    assert f'data-request="{request_id}"' in page.text
    denied = await client.post(
        f"/console/requests/{request_id}/deny",
        data={"csrf": csrf, "reason": "not needed"},
        follow_redirects=False,
    )
    assert denied.status_code == 303
    assert denied.headers["location"] == f"/console/requests?done={request_id}"
    status = await _status(client, request_id)
    assert status["status"] == "denied"
    assert status["decided_by"] == "user:bob"
    assert status["reason"] == "not needed"
    assert status.get("grant") is None
    again = await client.post(f"/console/requests/{request_id}/approve", data={"csrf": csrf})
    assert again.status_code == 409
    queue = await client.get("/console/requests")
    pending = queue.text.split('id="recent"')[0]
    assert f'data-request="{request_id}"' not in pending

"""Access requests and approvals (AuthZEN ARAP) end to end through the API, on PostgreSQL.

``agent:bot`` acts for ``user:alice``. Alice may view ``document:plan`` but her bot may not (no
grant); bob owns it and may approve (``permission approve_access = owner``). ``document:shared``
is owned by alice and bob (alice may not approve her own agent's request). ``note`` has no
approval permission.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from api_helpers import AUTH, Client, KeyTable, settings
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.config import AccessRequestSettings
from rebac.store.base import TupleStore

pytestmark = pytest.mark.integration

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

definition note {
    relation viewer: user | agent with expiration
    permission view = viewer
}
"""

RELATIONSHIPS = """
agent:bot#principal@user:alice
document:plan#owner@user:bob
document:plan#viewer@user:alice
document:shared#owner@user:alice
document:shared#owner@user:bob
note:n1#viewer@user:alice
"""

SECRET = "s3cret"  # noqa: S105 - the webhook test's own HMAC key
BOT = {"type": "agent", "id": "bot"}
ALICE = {"type": "user", "id": "alice"}
VIEW = {"name": "view"}
PLAN = {"type": "document", "id": "plan"}


def _bearer(key: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.text}"}


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A loopback webhook receiver: its URL and what it received."""
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


async def _app(pg_store: TupleStore, keys: KeyTable, requests: AccessRequestSettings) -> AsyncTestClient[Any]:
    app = create_app(
        replace(settings(), requests=requests),
        store=pg_store,
        keys=keys,
        schema_refresh_seconds=0,
        key_cache_seconds=0,
    )
    client = AsyncTestClient(app)
    await client.__aenter__()
    assert (await client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)).status_code == 200
    body = RELATIONSHIPS.strip().encode()
    response = await client.post("/v1/relationships/importbulk", content=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return client


@pytest.fixture
async def flow(pg_store: TupleStore, keys: KeyTable, receiver: tuple[str, list[Any]]) -> Any:
    url, _ = receiver
    client = await _app(
        pg_store,
        keys,
        AccessRequestSettings(max_grant_seconds=3600, webhook_urls=(url,), webhook_secret=SECRET),
    )
    yield client
    await client.__aexit__(None, None, None)


async def _evaluate(client: Client, resource: Any = PLAN) -> dict[str, Any]:
    body = {"subject": ALICE, "action": VIEW, "resource": resource, "context": {"agent": "bot"}}
    response = await client.post("/access/v1/evaluation", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _submission(resource: Any = PLAN, requested_access: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "subject": ALICE,
        "resource": resource,
        "action": VIEW,
        "context": {"agent": "bot", "business_justification": "summarise the plan"},
        "requested_access": {"relation": "viewer", **(requested_access or {})},
        **extra,
    }


async def _assert_webhooks(received: list[tuple[dict[str, str], bytes]]) -> None:
    """Created and decided were delivered, signed with HMAC-SHA256."""
    for _ in range(50):
        if len(received) >= 2:
            break
        await asyncio.sleep(0.1)
    events = [json.loads(body)["event"] for _, body in received]
    assert events[:2] == ["access_request.created", "access_request.decided"]
    headers, body = received[0]
    timestamp = headers["X-Rebac-Timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Rebac-Signature"] == f"sha256={expected}"


async def _assert_logged(client: Client) -> None:
    """The request's own check and the approver's check are recorded decisions."""
    sources: set[str] = set()
    for _ in range(50):
        page = await client.get("/v1/decisions", params={"limit": 100}, headers=AUTH)
        assert page.status_code == 200, page.text
        sources = {d["source"] for d in page.json()["decisions"]}
        if {"access_request", "access_approval"} <= sources:
            break
        await asyncio.sleep(0.1)
    assert {"access_request", "access_approval", "authzen"} <= sources


async def test_deny_request_approve_grant_and_expiry(flow: Client, keys: KeyTable, receiver: Any) -> None:
    denied = await _evaluate(flow)
    assert denied["decision"] is False
    hint = denied["context"]
    assert hint["evaluation_id"] == hint["decision_id"]
    assert "expires_at" in hint["access_request"]
    meta = (await flow.get("/.well-known/authzen-configuration")).json()
    assert meta["access_request_endpoint"].endswith("/access/v1/requests")
    assert "urn:openid:authzen:capability:access-request" in meta["capabilities"]

    bot = _bearer(keys.add("check", subject="agent:bot"))
    until = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    created = await flow.post(
        "/access/v1/requests",
        json=_submission(
            requested_access={"requested_until": until},
            denial={
                "evaluation_id": hint["evaluation_id"],
                "expires_at": hint["access_request"]["expires_at"],
            },
        ),
        headers=bot,
    )
    assert created.status_code == 202, created.text
    task = created.json()["task"]
    assert task["status"] == "pending"
    assert created.headers["location"] == task["status_endpoint"]
    assert int(created.headers["retry-after"]) > 0
    assert task["links"]["cancel"].endswith(f"/{task['id']}/cancel")
    request = created.json()["request"]
    assert request["subject"] == BOT
    assert request["chain"] == [ALICE]
    assert request["relation"] == "viewer"
    assert request["evaluation_id"] == hint["evaluation_id"]
    assert request["justification"] == "summarise the plan"

    status = await flow.get(task["status_endpoint"], headers=bot)
    assert status.json()["task"]["status"] == "pending"
    assert "retry-after" in status.headers

    bob = _bearer(keys.add("check", subject="user:bob"))
    approved = await flow.post(
        f"/access/v1/requests/{task['id']}/approve", json={"reason": "ok"}, headers=bob
    )
    assert approved.status_code == 200, approved.text
    view = approved.json()["request"]
    assert approved.json()["task"]["status"] == "approved"
    assert view["decided_by"] == "user:bob"
    assert view["grant"]["revision"] > 0
    assert (await _evaluate(flow))["decision"] is True

    again = await flow.post(f"/access/v1/requests/{task['id']}/approve", headers=bob)
    assert again.status_code == 409
    for _ in range(80):  # the grant expires (bounded wait)
        if (await _evaluate(flow))["decision"] is False:
            break
        await asyncio.sleep(0.1)
    assert (await _evaluate(flow))["decision"] is False

    await _assert_webhooks(receiver[1])

    await _assert_logged(flow)


async def test_refusals_change_nothing(flow: Client, keys: KeyTable) -> None:
    bot = _bearer(keys.add("check", subject="agent:bot"))
    mallory = _bearer(keys.add("check", subject="user:mallory"))
    nobody = _bearer(keys.add("check"))
    viewers = await _viewers(flow)
    too_long = await flow.post(
        "/access/v1/requests", json=_submission(requested_access={"duration_seconds": 7200}), headers=bot
    )
    assert too_long.status_code == 400
    assert too_long.json()["type"] == "urn:rebac:problem:limit-exceeded"
    past = await flow.post(
        "/access/v1/requests",
        json=_submission(requested_access={"requested_until": "2020-01-01T00:00:00Z"}),
        headers=bot,
    )
    assert past.status_code == 400
    stranger = await flow.post("/access/v1/requests", json=_submission(), headers=mallory)
    assert stranger.status_code == 403
    assert stranger.json()["type"] == "urn:rebac:problem:not-permitted"
    no_subject = await flow.post("/access/v1/requests", json=_submission(), headers=nobody)
    assert no_subject.status_code == 403
    forged = await flow.post(
        "/access/v1/requests",
        json={**_submission(), "context": {"agent": "bot"}, "subject": {"type": "user", "id": "bob"}},
        headers=bot,
    )
    assert forged.status_code == 400
    stale = await flow.post(
        "/access/v1/requests", json=_submission(denial={"expires_at": "2020-01-01T00:00:00Z"}), headers=bot
    )
    assert stale.status_code == 400
    as_text = await flow.post(
        "/access/v1/requests",
        content=json.dumps(_submission()).encode(),
        headers={**bot, "Content-Type": "text/plain"},
    )
    assert as_text.status_code == 400
    unknown = await flow.post(
        "/access/v1/requests/ar_nope/approve", headers=_bearer(keys.add("check", subject="user:bob"))
    )
    assert unknown.status_code == 404
    no_relation = await flow.post(
        "/access/v1/requests", json={**_submission(), "requested_access": {}}, headers=bot
    )
    assert no_relation.status_code == 400  # view is a permission: the grant's relation must be named
    listed = await flow.get("/access/v1/requests", headers=AUTH)
    assert listed.json()["requests"] == []
    assert await _viewers(flow) == viewers
    assert (await _evaluate(flow))["decision"] is False


async def test_who_may_approve(flow: Client, keys: KeyTable) -> None:
    bot = _bearer(keys.add("check", subject="agent:bot"))
    alice = _bearer(keys.add("check", subject="user:alice"))
    bob = _bearer(keys.add("check", subject="user:bob"))
    carol = _bearer(keys.add("check", subject="user:carol"))
    shared = {"type": "document", "id": "shared"}
    created = await flow.post("/access/v1/requests", json=_submission(shared), headers=alice)
    assert created.status_code == 202, created.text
    request_id = created.json()["task"]["id"]
    own = await flow.post(f"/access/v1/requests/{request_id}/approve", headers=alice)
    assert own.status_code == 403  # her own agent's request, though she owns the document
    outsider = await flow.post(f"/access/v1/requests/{request_id}/approve", headers=carol)
    assert outsider.status_code == 403
    assert (await flow.get(f"/access/v1/requests/{request_id}", headers=carol)).status_code == 404
    pending = await flow.get("/access/v1/requests", params={"status": "pending"}, headers=bob)
    assert [r["task"]["id"] for r in pending.json()["requests"]] == [request_id]
    denied = await flow.post(f"/access/v1/requests/{request_id}/deny", json={"reason": "no"}, headers=bob)
    assert denied.json()["task"]["status"] == "denied"
    assert (await _evaluate(flow, shared))["decision"] is False
    cancel = await flow.post(f"/access/v1/requests/{request_id}/cancel", headers=bot)
    assert cancel.status_code == 409

    # a type without the approval permission: the request is taken, nobody can approve it
    note = {"type": "note", "id": "n1"}
    hint = await _evaluate(flow, note)
    assert "access_request" not in hint.get("context", {})
    taken = await flow.post("/access/v1/requests", json=_submission(note), headers=bot)
    assert taken.status_code == 202
    refused = await flow.post(f"/access/v1/requests/{taken.json()['task']['id']}/approve", headers=bob)
    assert refused.status_code == 403
    withdrawn = await flow.post(f"/access/v1/requests/{taken.json()['task']['id']}/cancel", headers=bot)
    assert withdrawn.json()["task"]["status"] == "cancelled"


async def _touch(client: Client, relationship: dict[str, Any], operation: str) -> None:
    body = {"updates": [{"operation": operation, "relationship": relationship}]}
    response = await client.post("/v1/relationships/write", json=body, headers=AUTH)
    assert response.status_code == 200, response.text


async def test_the_queue_follows_the_approver_right_at_once(flow: Client, keys: KeyTable) -> None:
    """An approver granted a moment ago sees the request; one revoked a moment ago no longer does.

    The queue reads who may approve at full consistency: a snapshot a moment old would hide the
    request from the new approver (and show it to the old one) until the snapshot moved on.
    """
    bot = _bearer(keys.add("check", subject="agent:bot"))
    carol = _bearer(keys.add("check", subject="user:carol"))
    bob = _bearer(keys.add("check", subject="user:bob"))
    created = await flow.post("/access/v1/requests", json=_submission(), headers=bot)
    assert created.status_code == 202, created.text
    request_id = created.json()["task"]["id"]
    carol_owns = {
        "resource": {"objectType": "document", "objectId": "plan"},
        "relation": "owner",
        "subject": {"object": {"objectType": "user", "objectId": "carol"}},
    }
    bob_owns = {**carol_owns, "subject": {"object": {"objectType": "user", "objectId": "bob"}}}
    for attempt in range(5):  # each round writes and reads within one snapshot interval
        await _touch(flow, carol_owns, "OPERATION_TOUCH")
        await _touch(flow, bob_owns, "OPERATION_DELETE")
        as_carol = await flow.get("/access/v1/requests", params={"status": "pending"}, headers=carol)
        as_bob = await flow.get("/access/v1/requests", params={"status": "pending"}, headers=bob)
        assert [r["task"]["id"] for r in as_carol.json()["requests"]] == [request_id], attempt
        assert as_bob.json()["requests"] == [], attempt
        assert (await flow.get(f"/access/v1/requests/{request_id}", headers=bob)).status_code == 404
        await _touch(flow, bob_owns, "OPERATION_TOUCH")
        await _touch(flow, carol_owns, "OPERATION_DELETE")
        as_carol = await flow.get("/access/v1/requests", params={"status": "pending"}, headers=carol)
        as_bob = await flow.get(f"/access/v1/requests/{request_id}", headers=bob)
        assert as_carol.json()["requests"] == [], attempt
        assert as_bob.status_code == 200, attempt


async def _viewers(client: Client) -> list[str]:
    """Every ``viewer`` relationship (what a refusal must leave as it was)."""
    body = {"consistency": {"fullyConsistent": True}, "relationshipFilter": {"resourceType": "document"}}
    response = await client.post("/v1/relationships/read", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    return sorted(json.dumps(line.get("relationship", line), sort_keys=True) for line in lines)


async def _steps(client: Client, subject: str, wanted: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The decision log's access-request records of ``subject`` by source, once ``wanted`` are in."""
    found: dict[str, list[dict[str, Any]]] = {}
    for _ in range(100):  # the recorder writes in batches: a bounded poll
        page = await client.get("/v1/decisions", params={"subject": subject, "limit": 100}, headers=AUTH)
        assert page.status_code == 200, page.text
        found = {}
        for record in page.json()["decisions"]:
            found.setdefault(record["source"], []).append(record)
        if wanted <= set(found):
            break
        await asyncio.sleep(0.1)
    assert wanted <= set(found), sorted(found)
    return found


async def test_unattended_requests_expire(pg_store: TupleStore, keys: KeyTable) -> None:
    client = await _app(pg_store, keys, AccessRequestSettings(pending_seconds=1))
    try:
        bot = _bearer(keys.add("check", subject="agent:bot"))
        bob = _bearer(keys.add("check", subject="user:bob"))
        created = await client.post("/access/v1/requests", json=_submission(), headers=bot)
        assert created.status_code == 202, created.text
        request_id = created.json()["task"]["id"]
        status: dict[str, Any] = {}
        for _ in range(100):  # bounded poll: expired once nobody acted for pending_seconds
            status = (await client.get(f"/access/v1/requests/{request_id}", headers=bot)).json()
            if status["task"]["status"] != "pending":
                break
            await asyncio.sleep(0.1)
        assert status["task"]["status"] == "expired"
        viewers = await _viewers(client)
        assert any("alice" in line for line in viewers), viewers
        late = await client.post(f"/access/v1/requests/{request_id}/approve", headers=bob)
        assert late.status_code == 409
        assert late.headers["content-type"].startswith("application/problem+json")
        assert late.json()["status"] == 409
        after = (await client.get(f"/access/v1/requests/{request_id}", headers=bot)).json()
        assert (after["task"]["status"], after["request"].get("decided_by")) == ("expired", None)
        assert await _viewers(client) == viewers
        assert (await _evaluate(client))["decision"] is False
        steps = await _steps(client, "agent:bot", {"access_request.created", "access_request.expired"})
        assert "access_request.approved" not in steps
        expired = steps["access_request.expired"][0]
        assert (expired["result"], expired["resource"], expired["permission"]) == (
            "denied",
            "document:plan",
            "view",
        )
        assert expired["context"]["access_request"]["id"] == request_id
    finally:
        await client.__aexit__(None, None, None)


async def test_a_listing_of_expired_requests_finds_the_ones_nobody_read_since(
    pg_store: TupleStore, keys: KeyTable
) -> None:
    client = await _app(pg_store, keys, AccessRequestSettings(pending_seconds=1))
    try:
        bot = _bearer(keys.add("check", subject="agent:bot"))
        created = await client.post("/access/v1/requests", json=_submission(), headers=bot)
        assert created.status_code == 202, created.text
        request_id = created.json()["task"]["id"]
        listed: list[str] = []
        for _ in range(100):  # bounded poll; only the listing reads the request, nothing else expires it
            page = await client.get("/access/v1/requests", params={"status": "expired"}, headers=bot)
            assert page.status_code == 200, page.text
            listed = [r["task"]["id"] for r in page.json()["requests"]]
            if listed:
                break
            await asyncio.sleep(0.1)
        assert listed == [request_id]
        pending = await client.get("/access/v1/requests", params={"status": "pending"}, headers=bot)
        assert pending.json()["requests"] == []
    finally:
        await client.__aexit__(None, None, None)


async def test_every_step_is_in_the_decision_log(flow: Client, keys: KeyTable) -> None:
    """Created, approved, denied and cancelled: one record each, whatever the sampling rate."""
    bot_key = keys.add("check", subject="agent:bot")
    bot, bob = _bearer(bot_key), _bearer(keys.add("check", subject="user:bob"))
    made = []
    for resource in (PLAN, {"type": "document", "id": "shared"}, PLAN):
        created = await flow.post("/access/v1/requests", json=_submission(resource), headers=bot)
        assert created.status_code == 202, created.text
        made.append(created.json()["task"]["id"])
    approve, deny, cancel = made
    assert (await flow.post(f"/access/v1/requests/{approve}/approve", headers=bob)).status_code == 200
    denied = await flow.post(f"/access/v1/requests/{deny}/deny", json={"reason": "no"}, headers=bob)
    assert denied.status_code == 200
    assert (await flow.post(f"/access/v1/requests/{cancel}/cancel", headers=bot)).status_code == 200

    wanted = {f"access_request.{step}" for step in ("created", "approved", "denied", "cancelled")}
    steps = await _steps(flow, "agent:bot", wanted)
    assert sorted(r["context"]["access_request"]["id"] for r in steps["access_request.created"]) == sorted(
        made
    )
    (approved,) = steps["access_request.approved"]
    assert approved["result"] == "allowed"
    assert approved["context"]["access_request"]["actor"] == "user:bob"
    assert approved["revision"] == approved["context"]["access_request"]["grant_revision"]
    assert f"access request {approve} approved by user:bob" in approved["reason"]
    assert approved["chain"] == [{"subject": "user:alice"}]
    (refused,) = steps["access_request.denied"]
    assert (refused["result"], refused["context"]["access_request"]["id"]) == ("denied", deny)
    (withdrawn,) = steps["access_request.cancelled"]
    assert withdrawn["context"]["access_request"]["actor"] == "agent:bot"
    assert withdrawn["caller"] == bot_key.key_id
    created_by = {r["caller"] for r in steps["access_request.created"]}
    assert created_by == {bot_key.key_id}

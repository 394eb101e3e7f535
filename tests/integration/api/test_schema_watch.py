"""``/v1/schema/*`` and ``/v1/watch`` through the test client against PostgreSQL."""

from __future__ import annotations

import json

import pytest
from api_helpers import AUTH, SCHEMA, Client, touch

pytestmark = pytest.mark.integration


async def test_schema_write_read_versions_diff(client: Client) -> None:
    first = await client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)
    assert first.status_code == 200
    assert first.json()["version"] == 1
    read = await client.post("/v1/schema/read", headers=AUTH)
    assert read.status_code == 200
    assert "definition document" in read.json()["schemaText"]
    changed = SCHEMA.replace("permission edit = owner", "permission edit = owner + viewer")
    diff = await client.post("/v1/schema/diffschema", json={"comparisonSchema": changed}, headers=AUTH)
    assert diff.status_code == 200
    assert diff.json()["changed"] is True
    assert "+    permission edit = owner + viewer" in diff.json()["diff"]
    second = await client.post("/v1/schema/write", json={"schema": changed}, headers=AUTH)
    assert second.json()["version"] == 2
    versions = await client.get("/v1/schema/versions", headers=AUTH)
    assert [v["version"] for v in versions.json()["versions"]] == [1, 2]
    assert [v["current"] for v in versions.json()["versions"]] == [False, True]
    between = await client.post(
        "/v1/schema/diffschema", json={"optionalFromVersion": 1, "optionalToVersion": 2}, headers=AUTH
    )
    assert between.json()["fromVersion"] == "version 1"


async def test_schema_errors(client: Client) -> None:
    bad = await client.post("/v1/schema/write", json={"schema": "definition {"}, headers=AUTH)
    assert bad.status_code == 400
    assert bad.json()["type"] == "urn:rebac:problem:schema-invalid"
    assert bad.json()["errors"][0]["line"] == 1
    missing = await client.post("/v1/schema/read", headers=AUTH)
    assert missing.status_code == 404


async def test_schema_change_that_orphans_is_refused(seeded: Client) -> None:
    narrowed = SCHEMA.replace("relation banned: user\n", "")
    narrowed = narrowed.replace(" - banned", "")
    refused = await seeded.post("/v1/schema/write", json={"schema": narrowed}, headers=AUTH)
    assert refused.status_code == 409
    assert refused.json()["type"] == "urn:rebac:problem:unsafe-schema-change"
    assert refused.json()["count"] == 1
    forced = await seeded.post("/v1/schema/write", json={"schema": narrowed, "force": True}, headers=AUTH)
    assert forced.status_code == 200


async def test_watch_streams_changes_after_a_token(seeded: Client) -> None:
    start = await seeded.post(
        "/v1/relationships/write",
        json={"updates": [touch("document", "w1", "viewer", "user", "tom")]},
        headers=AUTH,
    )
    token = start.json()["writtenAt"]
    await seeded.post(
        "/v1/relationships/write",
        json={"updates": [touch("document", "w2", "viewer", "user", "tom")]},
        headers=AUTH,
    )
    response = await seeded.post(
        "/v1/watch", json={"optionalStartCursor": token, "optionalTimeoutSeconds": 0.2}, headers=AUTH
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line)["result"] for line in response.text.splitlines()]
    assert len(lines) == 2
    assert lines[0]["updates"][0]["relationship"]["resource"]["objectId"] == "w2"
    assert lines[0]["updates"][0]["operation"] == "OPERATION_TOUCH"
    assert lines[-1]["isCheckpoint"] is True


async def test_watch_bad_token(seeded: Client) -> None:
    response = await seeded.post("/v1/watch", json={"optionalStartCursor": {"token": "nope"}}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["type"] == "urn:rebac:problem:invalid-token"


async def test_schema_compare_and_set(client: Client) -> None:
    first = await client.post(
        "/v1/schema/write", json={"schema": SCHEMA, "optionalExpectedVersion": 0}, headers=AUTH
    )
    assert first.status_code == 200, first.text
    stale = await client.post(
        "/v1/schema/write", json={"schema": SCHEMA, "optionalExpectedVersion": 0}, headers=AUTH
    )
    assert stale.status_code == 409
    assert stale.json()["type"] == "urn:rebac:problem:schema-version-conflict"
    ok = await client.post(
        "/v1/schema/write", json={"schema": SCHEMA, "optionalExpectedVersion": 1}, headers=AUTH
    )
    assert ok.status_code == 200


async def test_watch_as_server_sent_events(seeded: Client) -> None:
    start = await seeded.post(
        "/v1/relationships/write",
        json={"updates": [touch("document", "e1", "viewer", "user", "tom")]},
        headers=AUTH,
    )
    await seeded.post(
        "/v1/relationships/write",
        json={"updates": [touch("document", "e2", "viewer", "user", "tom")]},
        headers=AUTH,
    )
    response = await seeded.post(
        "/v1/watch",
        json={"optionalStartCursor": start.json()["writtenAt"], "optionalTimeoutSeconds": 0.1},
        headers={**AUTH, "Accept": "text/event-stream"},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block for block in response.text.split("\n\n") if block]
    assert events[0].startswith("event: result\ndata: ")
    first = json.loads(events[0].split("data: ", 1)[1])
    assert first["updates"][0]["relationship"]["resource"]["objectId"] == "e2"
    assert json.loads(events[-1].split("data: ", 1)[1])["isCheckpoint"] is True

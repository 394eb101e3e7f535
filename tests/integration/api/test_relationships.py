"""``/v1/relationships/*`` through the test client against PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_helpers import AUTH, FULL, MAX_UPDATES, Client, KeyTable, obj, rel, settings, touch
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.store.base import TupleStore

pytestmark = pytest.mark.integration

READ_ALL = {"relationshipFilter": {"resourceType": "document"}, **FULL}


async def _read(client: Client, body: dict[str, Any] | None = None) -> Any:
    response = await client.post("/v1/relationships/read", json=body or READ_ALL, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


async def test_write_then_read(seeded: Client) -> None:
    page = await _read(seeded)
    assert len(page["results"]) == 5
    first = page["results"][0]["relationship"]
    assert set(first) >= {"resource", "relation", "subject"}


async def test_read_paginates_with_cursor(seeded: Client) -> None:
    body = {**READ_ALL, "optionalLimit": 2}
    seen: list[str] = []
    for _ in range(5):
        page = await _read(seeded, body)
        seen += [json.dumps(r["relationship"], sort_keys=True) for r in page["results"]]
        cursor = page.get("afterResultCursor")
        if not cursor:
            break
        body = {**READ_ALL, "optionalLimit": 2, "optionalCursor": cursor}
    assert len(seen) == len(set(seen)) == 5


async def test_read_bad_cursor_and_page_too_large(seeded: Client) -> None:
    bad = await seeded.post(
        "/v1/relationships/read", json={**READ_ALL, "optionalCursor": {"token": "zzz"}}, headers=AUTH
    )
    assert bad.status_code == 400
    assert bad.json()["type"] == "urn:rebac:problem:invalid-token"
    big = await seeded.post(
        "/v1/relationships/read", json={**READ_ALL, "optionalLimit": 10_000}, headers=AUTH
    )
    assert big.status_code == 400
    assert big.json()["type"] == "urn:rebac:problem:limit-exceeded"


@pytest.mark.parametrize(
    ("relationship", "kind"),
    [
        (rel("document", "", "viewer", "user", "tom"), "malformed-reference"),
        (rel("document", "d9", "Viewer", "user", "tom"), "malformed-reference"),
        (rel("folder", "f1", "viewer", "user", "tom"), "unknown-type"),
        (rel("document", "d9", "nope", "user", "tom"), "unknown-relation"),
        (rel("document", "d9", "view", "user", "tom"), "unknown-relation"),
        (rel("document", "d9", "owner", "team", "eng"), "invalid-input"),
    ],
)
async def test_write_refuses_bad_relationships_whole(seeded: Client, relationship: Any, kind: str) -> None:
    before = await _read(seeded)
    good = touch("document", "d8", "viewer", "user", "zed")
    response = await seeded.post(
        "/v1/relationships/write",
        json={"updates": [good, {"operation": "OPERATION_TOUCH", "relationship": relationship}]},
        headers=AUTH,
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == f"urn:rebac:problem:{kind}"
    after = await _read(seeded)
    assert len(after["results"]) == len(before["results"])  # nothing written, not even the good one


async def test_oversized_write_is_refused_and_nothing_written(seeded: Client) -> None:
    updates = [touch("document", f"big{i}", "viewer", "user", "tom") for i in range(MAX_UPDATES + 1)]
    response = await seeded.post("/v1/relationships/write", json={"updates": updates}, headers=AUTH)
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "urn:rebac:problem:limit-exceeded"
    assert problem["maximum"] == MAX_UPDATES
    assert problem["actual"] == MAX_UPDATES + 1
    ids = {r["relationship"]["resource"]["objectId"] for r in (await _read(seeded))["results"]}
    assert not any(i.startswith("big") for i in ids)


async def test_create_duplicate_and_failed_precondition_conflict(seeded: Client) -> None:
    dup = await seeded.post(
        "/v1/relationships/write",
        json={
            "updates": [
                {
                    "operation": "OPERATION_CREATE",
                    "relationship": rel("document", "d2", "viewer", "user", "tom"),
                }
            ]
        },
        headers=AUTH,
    )
    assert dup.status_code == 409
    assert dup.json()["type"] == "urn:rebac:problem:duplicate-relationship"
    pre = await seeded.post(
        "/v1/relationships/write",
        json={
            "updates": [touch("document", "d7", "viewer", "user", "tom")],
            "optionalPreconditions": [
                {
                    "operation": "OPERATION_MUST_MATCH",
                    "filter": {"resourceType": "document", "optionalResourceId": "nope"},
                }
            ],
        },
        headers=AUTH,
    )
    assert pre.status_code == 409
    assert pre.json()["type"] == "urn:rebac:problem:precondition-failed"


async def test_write_with_expiration_round_trips(seeded: Client) -> None:
    body = {**rel("document", "d5", "viewer", "user", "tom"), "optionalExpiresAt": "2099-01-01T00:00:00Z"}
    schema = await seeded.post("/v1/schema/read", headers=AUTH)
    assert schema.status_code == 200
    response = await seeded.post(
        "/v1/relationships/write",
        json={"updates": [{"operation": "OPERATION_TOUCH", "relationship": body}]},
        headers=AUTH,
    )
    # The test schema does not allow expiring viewers: refused, with the reason.
    assert response.status_code == 400
    assert "expiration" in response.json()["detail"]


async def test_delete_by_filter(seeded: Client) -> None:
    response = await seeded.post(
        "/v1/relationships/delete",
        json={"relationshipFilter": {"resourceType": "document", "optionalResourceId": "d1"}},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["relationshipsDeletedCount"] == "4"
    assert body["deletionProgress"] == "DELETION_PROGRESS_COMPLETE"
    remaining = await _read(seeded, {**READ_ALL, "consistency": {"atLeastAsFresh": body["deletedAt"]}})
    assert [r["relationship"]["resource"]["objectId"] for r in remaining["results"]] == ["d2"]


async def test_delete_with_limit_refuses_partial_unless_allowed(seeded: Client) -> None:
    flt = {"relationshipFilter": {"resourceType": "document"}, "optionalLimit": 2}
    refused = await seeded.post("/v1/relationships/delete", json=flt, headers=AUTH)
    assert refused.status_code == 400
    partial = await seeded.post(
        "/v1/relationships/delete", json={**flt, "optionalAllowPartialDeletions": True}, headers=AUTH
    )
    assert partial.status_code == 200
    assert partial.json()["deletionProgress"] == "DELETION_PROGRESS_PARTIAL"


async def test_import_and_export_ndjson(seeded: Client) -> None:
    lines = [
        '{"relationship": "document:i1#viewer@user:tom"}',
        "document:i2#viewer@team:eng#member",
        json.dumps({"relationship": rel("document", "i3", "owner", "user", "ann")}),
        "// a comment",
        "",
    ]
    response = await seeded.post(
        "/v1/relationships/importbulk",
        content="\n".join(lines).encode(),
        headers={**AUTH, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["numLoaded"] == "3"
    token = response.json()["writtenAt"]["token"]
    export = await seeded.post(
        "/v1/relationships/exportbulk",
        json={"consistency": {"atLeastAsFresh": {"token": token}}},
        headers=AUTH,
    )
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    exported = {json.loads(line)["relationship"] for line in export.text.splitlines()}
    assert {
        "document:i1#viewer@user:tom",
        "document:i2#viewer@team:eng#member",
        "document:i3#owner@user:ann",
    } <= exported
    assert len(exported) == 9  # six seeded (incl. team:eng) + three imported


async def test_import_bad_line_writes_nothing(seeded: Client) -> None:
    body = b"document:j1#viewer@user:tom\ndocument:j2#viewer@@user:tom\n"
    response = await seeded.post("/v1/relationships/importbulk", content=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["type"] == "urn:rebac:problem:malformed-reference"
    assert "line 2" in response.json()["detail"]
    ids = {r["relationship"]["resource"]["objectId"] for r in (await _read(seeded))["results"]}
    assert "j1" not in ids


async def test_import_unknown_type_writes_nothing(seeded: Client) -> None:
    body = b"document:j1#viewer@user:tom\nfolder:x#viewer@user:tom\n"
    response = await seeded.post("/v1/relationships/importbulk", content=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["type"] == "urn:rebac:problem:unknown-type"


async def test_body_too_large_is_413(pg_store: TupleStore, keys: KeyTable) -> None:
    app = create_app(settings(max_request_bytes=1000), store=pg_store, keys=keys)
    async with AsyncTestClient(app) as small:
        updates = [touch("document", f"x{i}", "viewer", "user", "tom") for i in range(40)]
        response = await small.post("/v1/relationships/write", json={"updates": updates}, headers=AUTH)
        assert response.status_code == 413
        assert response.json()["type"] == "urn:rebac:problem:limit-exceeded"


async def test_object_reference_shapes(seeded: Client) -> None:
    # SpiceDB's field names are the contract: an unknown one is refused, naming it
    # (more cases: test_robustness.py)
    flt = {"resourceType": "document", "optionalResourceId": "d2"}
    refused = await seeded.post(
        "/v1/relationships/read", json={"relationshipFilter": {**flt, "extra": 1}, **FULL}, headers=AUTH
    )
    assert refused.status_code == 400
    assert "`extra`" in refused.json()["detail"]
    response = await seeded.post(
        "/v1/relationships/read", json={"relationshipFilter": flt, **FULL}, headers=AUTH
    )
    assert response.json()["results"][0]["relationship"]["resource"] == obj("document", "d2")

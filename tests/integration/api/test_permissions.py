"""``/v1/permissions/*`` through the test client against PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from api_helpers import AUTH, FULL, SCHEMA, Client, check_body, obj, rel, settings, subj, touch
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.config import EngineSettings
from rebac.store.base import TupleStore

pytestmark = pytest.mark.integration

HAS = "PERMISSIONSHIP_HAS_PERMISSION"
NO = "PERMISSIONSHIP_NO_PERMISSION"
CONDITIONAL = "PERMISSIONSHIP_CONDITIONAL_PERMISSION"


async def test_check_allowed_and_denied(seeded: Client) -> None:
    allowed = await seeded.post(
        "/v1/permissions/check", json=check_body("d1", "view", "tom", **FULL), headers=AUTH
    )
    assert allowed.status_code == 200
    assert allowed.json()["permissionship"] == HAS
    assert allowed.json()["checkedAt"]["token"]
    denied = await seeded.post(
        "/v1/permissions/check", json=check_body("d1", "view", "bob", **FULL), headers=AUTH
    )
    assert denied.status_code == 200
    assert denied.json()["permissionship"] == NO


async def test_write_token_is_honoured_new_enemy(seeded: Client) -> None:
    """Revoke, then check with the revoke's token: the revoked subject must be denied."""
    revoke = await seeded.post(
        "/v1/relationships/write",
        json={
            "updates": [
                {"operation": "OPERATION_DELETE", "relationship": rel("team", "eng", "member", "user", "tom")}
            ]
        },
        headers=AUTH,
    )
    token = revoke.json()["writtenAt"]["token"]
    check = await seeded.post(
        "/v1/permissions/check",
        json=check_body("d1", "view", "tom", consistency={"atLeastAsFresh": {"token": token}}),
        headers=AUTH,
    )
    assert check.status_code == 200
    assert check.json()["permissionship"] == NO


async def test_caveat_context_feeds_the_check(seeded: Client) -> None:
    write = await seeded.post(
        "/v1/relationships/write",
        json={
            "updates": [
                {
                    "operation": "OPERATION_TOUCH",
                    "relationship": {
                        **rel("document", "d3", "viewer", "user", "cat"),
                        "optionalCaveat": {"caveatName": "on_weekday"},
                    },
                }
            ]
        },
        headers=AUTH,
    )
    assert write.status_code == 200, write.text
    partial = await seeded.post(
        "/v1/permissions/check", json=check_body("d3", "view", "cat", **FULL), headers=AUTH
    )
    assert partial.json()["permissionship"] == CONDITIONAL
    assert partial.json()["partialCaveatInfo"] == {"missingRequiredContext": ["day"]}
    yes = await seeded.post(
        "/v1/permissions/check",
        json=check_body("d3", "view", "cat", context={"day": "mon"}, **FULL),
        headers=AUTH,
    )
    assert yes.json()["permissionship"] == HAS
    no = await seeded.post(
        "/v1/permissions/check",
        json=check_body("d3", "view", "cat", context={"day": "sun"}, **FULL),
        headers=AUTH,
    )
    assert no.json()["permissionship"] == NO


async def test_with_tracing_returns_the_deciding_path(seeded: Client) -> None:
    response = await seeded.post(
        "/v1/permissions/check", json=check_body("d1", "view", "tom", withTracing=True, **FULL), headers=AUTH
    )
    trace = response.json()["debugTrace"]["check"]
    assert trace["result"] == HAS
    text = json.dumps(trace)
    assert '"permission": "viewer"' in text
    assert '"objectId": "eng"' in text  # the path runs through team:eng#member
    assert "definition document" in response.json()["debugTrace"]["schemaUsed"]


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (check_body("d1", "nope", "tom"), "unknown-relation"),
        ({**check_body("d1", "view", "tom"), "resource": obj("folder", "x")}, "unknown-type"),
        ({**check_body("d1", "view", "tom"), "resource": obj("document", "*")}, "malformed-reference"),
        (
            check_body("d1", "view", "tom", consistency={"atLeastAsFresh": {"token": "garbage"}}),
            "invalid-token",
        ),
        ({"permission": "view"}, "invalid-request"),
    ],
)
async def test_check_bad_input_is_a_problem(seeded: Client, body: Any, kind: str) -> None:
    response = await seeded.post("/v1/permissions/check", json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == f"urn:rebac:problem:{kind}"
    assert response.json()["status"] == 400


async def test_check_bulk_with_per_item_errors(seeded: Client) -> None:
    items = [
        {"resource": obj("document", "d1"), "permission": "view", "subject": subj("user", "tom")},
        {"resource": obj("document", "d1"), "permission": "view", "subject": subj("user", "bob")},
        {"resource": obj("document", "d1"), "permission": "nope", "subject": subj("user", "tom")},
    ]
    response = await seeded.post(
        "/v1/permissions/checkbulk", json={"items": items, "withTracing": True, **FULL}, headers=AUTH
    )
    assert response.status_code == 200
    pairs = response.json()["pairs"]
    assert pairs[0]["item"]["permissionship"] == HAS
    assert pairs[0]["item"]["debugTrace"]["check"]["result"] == HAS
    assert pairs[1]["item"]["permissionship"] == NO
    assert pairs[2]["error"]["code"] == 400
    assert "item" not in pairs[2]
    assert pairs[2]["request"]["permission"] == "nope"


async def test_check_bulk_over_the_limit_is_refused(seeded: Client) -> None:
    item = {"resource": obj("document", "d1"), "permission": "view", "subject": subj("user", "tom")}
    response = await seeded.post("/v1/permissions/checkbulk", json={"items": [item] * 6}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["type"] == "urn:rebac:problem:limit-exceeded"
    assert response.json()["maximum"] == 5


async def test_expand(seeded: Client) -> None:
    response = await seeded.post(
        "/v1/permissions/expand",
        json={"resource": obj("document", "d1"), "permission": "view", **FULL},
        headers=AUTH,
    )
    assert response.status_code == 200
    root = response.json()["treeRoot"]
    assert root["expandedRelation"] == "view"
    assert root["intermediate"]["operation"] == "OPERATION_EXCLUSION"
    assert "team" in json.dumps(root)


async def test_lookup_resources_pages_with_cursors(seeded: Client) -> None:
    body = {"resourceObjectType": "document", "permission": "view", "subject": subj("user", "tom"), **FULL}
    first = await seeded.post("/v1/permissions/resources", json={**body, "optionalLimit": 1}, headers=AUTH)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [r["resourceObjectId"] for r in page["results"]] == ["d1"]
    cursor = page["afterResultCursor"]
    assert cursor["token"]
    second = await seeded.post(
        "/v1/permissions/resources", json={**body, "optionalLimit": 1, "optionalCursor": cursor}, headers=AUTH
    )
    ids = [r["resourceObjectId"] for r in second.json()["results"]]
    assert ids == ["d2"]
    rest = second.json().get("afterResultCursor")
    if rest:
        third = await seeded.post(
            "/v1/permissions/resources",
            json={**body, "optionalLimit": 1, "optionalCursor": rest},
            headers=AUTH,
        )
        assert third.json()["results"] == []


async def test_lookup_resources_ndjson_streams_everything(seeded: Client) -> None:
    body = {"resourceObjectType": "document", "permission": "view", "subject": subj("user", "tom"), **FULL}
    response = await seeded.post(
        "/v1/permissions/resources", json=body, headers={**AUTH, "Accept": "application/x-ndjson"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert sorted(line["result"]["resourceObjectId"] for line in lines) == ["d1", "d2"]


async def test_lookup_page_too_large_and_bad_cursor(seeded: Client) -> None:
    body = {"resourceObjectType": "document", "permission": "view", "subject": subj("user", "tom")}
    big = await seeded.post("/v1/permissions/resources", json={**body, "optionalLimit": 51}, headers=AUTH)
    assert big.status_code == 400
    assert big.json()["type"] == "urn:rebac:problem:limit-exceeded"
    bad = await seeded.post(
        "/v1/permissions/resources", json={**body, "optionalCursor": {"token": "not-a-cursor"}}, headers=AUTH
    )
    assert bad.status_code == 400
    assert bad.json()["type"] == "urn:rebac:problem:invalid-token"


async def test_lookup_subjects(seeded: Client) -> None:
    body = {"resource": obj("document", "d1"), "permission": "view", "subjectObjectType": "user", **FULL}
    response = await seeded.post("/v1/permissions/subjects", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    ids = sorted(r["subject"]["subjectObjectId"] for r in response.json()["results"])
    assert ids == ["ann", "tom"]
    streamed = await seeded.post(
        "/v1/permissions/subjects", json=body, headers={**AUTH, "Accept": "application/x-ndjson"}
    )
    assert sorted(
        json.loads(x)["result"]["subject"]["subjectObjectId"] for x in streamed.text.splitlines()
    ) == [
        "ann",
        "tom",
    ]


async def test_no_schema_yet_is_a_problem(client: Client) -> None:
    response = await client.post("/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=AUTH)
    assert response.status_code == 404
    assert response.json()["type"] == "urn:rebac:problem:schema-not-found"


async def test_depth_limit_is_a_problem_not_a_deny(pg_store: TupleStore) -> None:
    app = create_app(
        replace(settings(), engine=EngineSettings(max_depth=3, cache_enabled=False)), store=pg_store
    )
    async with AsyncTestClient(app) as shallow:
        await shallow.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)
        chain = [touch("team", f"t{i}", "member", "team", f"t{i + 1}", "member") for i in range(6)]
        chain.append(touch("team", "t6", "member", "user", "deep"))
        chain.append(touch("document", "deep", "viewer", "team", "t0", "member"))
        written = await shallow.post("/v1/relationships/write", json={"updates": chain}, headers=AUTH)
        assert written.status_code == 200, written.text
        response = await shallow.post(
            "/v1/permissions/check", json=check_body("deep", "view", "deep", **FULL), headers=AUTH
        )
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "urn:rebac:problem:max-depth-exceeded"

"""The AuthZEN 1.0 certification scenario (openid/authzen ``certification/``), against a live app.

The fixture (alice, bob, record-1, record-2; read, write, delete) and its eight decision rules are
written here as a rebac schema; the cases are written from the scenario's stated rules (the
scenario's text has no license that would let us copy its cases). Properties reach caveats as the
``subject``, ``resource`` and ``action`` parameters.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_helpers import AUTH, Client, rel

pytestmark = pytest.mark.integration

SCHEMA = """
definition user {}

caveat not_archived(resource map<any>) {
    !("status" in resource.properties) || resource.properties.status != "archived"
}

caveat is_admin(subject map<any>) {
    "role" in subject.properties && subject.properties.role == "admin"
}

caveat soft_only(action map<any>) {
    "soft" in action.properties && action.properties.soft == true
}

definition record {
    relation reader: user
    relation writer: user with not_archived
    relation admin: user | user:* with is_admin
    relation deleter: user with soft_only
    permission read = reader + admin
    permission write = writer + admin
    permission delete = deleter
}
"""

ALICE = {"type": "user", "id": "alice"}
BOB = {"type": "user", "id": "bob"}
BOB_ADMIN = {**BOB, "properties": {"role": "admin"}}
R1 = {"type": "record", "id": "record-1"}
R2 = {"type": "record", "id": "record-2"}
R2_ARCHIVED = {**R2, "properties": {"status": "archived"}}


def _caveated(relationship: dict[str, Any], caveat: str) -> dict[str, Any]:
    return {
        "operation": "OPERATION_TOUCH",
        "relationship": {**relationship, "optionalCaveat": {"caveatName": caveat}},
    }


def _plain(relationship: dict[str, Any]) -> dict[str, Any]:
    return {"operation": "OPERATION_TOUCH", "relationship": relationship}


@pytest.fixture
async def fixture(client: Client) -> Client:
    response = await client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)
    assert response.status_code == 200, response.text
    updates = [
        _plain(rel("record", "record-1", "reader", "user", "alice")),
        _plain(rel("record", "record-1", "reader", "user", "bob")),
        _caveated(rel("record", "record-1", "writer", "user", "alice"), "not_archived"),
        _caveated(rel("record", "record-2", "writer", "user", "alice"), "not_archived"),
        _plain(rel("record", "record-2", "admin", "user", "bob")),
        _caveated(rel("record", "record-1", "admin", "user", "*"), "is_admin"),
        _caveated(rel("record", "record-2", "admin", "user", "*"), "is_admin"),
        _caveated(rel("record", "record-1", "deleter", "user", "alice"), "soft_only"),
    ]
    response = await client.post("/v1/relationships/write", json={"updates": updates}, headers=AUTH)
    assert response.status_code == 200, response.text
    return client


RULES = [
    # (subject, action, resource, decision): the scenario's eight rules
    (ALICE, {"name": "read"}, R1, True),
    (ALICE, {"name": "write"}, R1, True),
    (BOB, {"name": "read"}, R1, True),
    (BOB, {"name": "write"}, R1, False),
    (ALICE, {"name": "write"}, R2_ARCHIVED, False),
    (BOB_ADMIN, {"name": "write"}, R2_ARCHIVED, True),
    (ALICE, {"name": "delete", "properties": {"soft": True}}, R1, True),
    (ALICE, {"name": "delete", "properties": {"soft": False}}, R1, False),
]


@pytest.mark.parametrize(("subject", "action", "resource", "expected"), RULES)
async def test_fixture_rules(
    fixture: Client, subject: Any, action: Any, resource: Any, expected: bool
) -> None:
    for _ in range(2):  # idempotent
        response = await fixture.post(
            "/access/v1/evaluation",
            json={"subject": subject, "action": action, "resource": resource},
            headers=AUTH,
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["decision"] is expected


async def test_context_extra_properties_and_unknown_fields_change_nothing(fixture: Client) -> None:
    bodies = [
        {"subject": ALICE, "action": {"name": "read"}, "resource": R1, "context": {"ip": "192.168.1.1"}},
        {
            "subject": {**ALICE, "properties": {"department": "Sales", "role": "manager"}},
            "action": {"name": "read", "properties": {"method": "GET"}},
            "resource": {**R1, "properties": {"status": "active", "owner": "bob"}},
        },
        {"subject": ALICE, "action": {"name": "read"}, "resource": R1, "foo": "bar", "futureField": {"n": 1}},
    ]
    for body in bodies:
        response = await fixture.post("/access/v1/evaluation", json=body, headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.json()["decision"] is True


BAD_BODIES = [
    {"action": {"name": "read"}, "resource": R1},
    {"subject": ALICE, "resource": R1},
    {"subject": ALICE, "action": {"name": "read"}},
    {"subject": {"id": "alice"}, "action": {"name": "read"}, "resource": R1},
    {"subject": {"type": "user"}, "action": {"name": "read"}, "resource": R1},
    {"subject": ALICE, "action": {}, "resource": R1},
    {"subject": ALICE, "action": {"name": "read"}, "resource": {"id": "record-1"}},
    {"subject": ALICE, "action": {"name": "read"}, "resource": {"type": "record"}},
    {"subject": "alice", "action": {"name": "read"}, "resource": R1},
    {"subject": ALICE, "action": {"name": 123}, "resource": R1},
]


@pytest.mark.parametrize("body", BAD_BODIES)
async def test_missing_or_mistyped_fields_are_400(fixture: Client, body: Any) -> None:
    response = await fixture.post("/access/v1/evaluation", json=body, headers={**AUTH, "X-Request-ID": "r-1"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["x-request-id"] == "r-1"


@pytest.mark.parametrize(
    "path",
    [
        "/access/v1/evaluation",
        "/access/v1/evaluations",
        "/access/v1/search/subject",
        "/access/v1/search/action",
    ],
)
@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"subject": {"type": "user", "id": "alice"}}', {"Content-Type": "text/plain"}),
        (b'{"subject": {"type": "user", "id": "alice"}}', {}),
        (b"{not json", {"Content-Type": "application/json"}),
        (b"", {"Content-Type": "application/json"}),
    ],
)
async def test_transport_errors_are_400(fixture: Client, path: str, content: bytes, headers: Any) -> None:
    response = await fixture.post(path, content=content, headers={**AUTH, **headers, "X-Request-ID": "t-9"})
    assert response.status_code == 400, response.text
    assert response.headers["x-request-id"] == "t-9"


async def test_valid_body_as_text_plain_is_refused_not_decided(fixture: Client) -> None:
    body = json.dumps({"subject": ALICE, "action": {"name": "read"}, "resource": R1}).encode()
    refused = await fixture.post(
        "/access/v1/evaluation", content=body, headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert refused.status_code == 400
    assert "decision" not in refused.json()
    typed = await fixture.post(
        "/access/v1/evaluation",
        content=body,
        headers={**AUTH, "Content-Type": "application/json; charset=utf-8"},
    )
    assert typed.json()["decision"] is True


async def _batch(client: Client, body: dict[str, Any]) -> list[bool]:
    response = await client.post("/access/v1/evaluations", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    assert "decision" not in response.json()
    return [item["decision"] for item in response.json()["evaluations"]]


async def test_batches(fixture: Client) -> None:
    read, write = {"name": "read"}, {"name": "write"}
    assert await _batch(
        fixture, {"subject": ALICE, "action": read, "evaluations": [{"resource": R1}, {"resource": R2}]}
    ) == [True, False]
    assert await _batch(
        fixture, {"subject": BOB, "resource": R1, "evaluations": [{"action": read}, {"action": write}]}
    ) == [True, False]
    assert await _batch(
        fixture,
        {
            "subject": ALICE,
            "action": write,
            "evaluations": [
                {"resource": {**R1, "properties": {"status": "active"}}},
                {"resource": R2_ARCHIVED},
            ],
        },
    ) == [True, False]
    assert await _batch(
        fixture,
        {
            "action": write,
            "resource": R2_ARCHIVED,
            "evaluations": [{"subject": ALICE}, {"subject": BOB_ADMIN}],
        },
    ) == [False, True]
    assert await _batch(
        fixture,
        {
            "evaluations": [
                {"subject": ALICE, "action": read, "resource": R1},
                {"subject": BOB, "action": write, "resource": R1},
            ]
        },
    ) == [True, False]
    assert await _batch(
        fixture,
        {
            "subject": ALICE,
            "action": read,
            "context": {"time": "2025-06-27T18:03-07:00"},
            "evaluations": [{"resource": R1}, {"resource": R2, "context": {"source": "batch-override"}}],
        },
    ) == [True, False]


async def test_batch_default_merging_fills_type_and_id(fixture: Client) -> None:
    decisions = await _batch(
        fixture,
        {
            "subject": ALICE,
            "action": {"name": "write"},
            "resource": {"type": "record"},
            "evaluations": [
                {"resource": {"id": "record-1", "properties": {"status": "active"}}},
                {"resource": R2_ARCHIVED},
            ],
        },
    )
    assert decisions == [True, False]


async def test_batch_item_errors_are_failed_items_and_empty_batches_are_single(fixture: Client) -> None:
    response = await fixture.post(
        "/access/v1/evaluations",
        json={"subject": ALICE, "action": {"name": "read"}, "evaluations": [{"resource": R1}, {}]},
        headers=AUTH,
    )
    assert response.status_code == 200
    items = response.json()["evaluations"]
    assert [i["decision"] for i in items] == [True, False]
    assert items[1]["context"]["error"]["status"] == 400
    choices: tuple[list[Any] | None, ...] = (None, [])
    for evaluations in choices:
        body: dict[str, Any] = {"subject": ALICE, "action": {"name": "read"}, "resource": R1}
        if evaluations is not None:
            body["evaluations"] = evaluations
        single = await fixture.post("/access/v1/evaluations", json=body, headers=AUTH)
        assert single.status_code == 200
        assert single.json()["decision"] is True


def _ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {r.get("id", r.get("name")) for r in response.json()["results"]}


async def test_searches(fixture: Client) -> None:
    read = {"name": "read"}
    subjects = await fixture.post(
        "/access/v1/search/subject",
        json={"subject": {"type": "user"}, "action": read, "resource": R1, "context": {"x": 1}},
        headers=AUTH,
    )
    assert {"alice", "bob"} <= _ids(subjects)
    assert all(r["type"] == "user" for r in subjects.json()["results"])
    resources = await fixture.post(
        "/access/v1/search/resource",
        json={"subject": ALICE, "action": read, "resource": {"type": "record"}},
        headers=AUTH,
    )
    assert "record-1" in _ids(resources)
    actions = await fixture.post(
        "/access/v1/search/action", json={"subject": ALICE, "resource": R1}, headers=AUTH
    )
    assert {"read", "write"} <= _ids(actions)
    write = {"name": "write"}
    archived = await fixture.post(
        "/access/v1/search/subject",
        json={"subject": {"type": "user"}, "action": write, "resource": R2_ARCHIVED},
        headers=AUTH,
    )
    assert _ids(archived) == {"bob"}
    admin = await fixture.post(
        "/access/v1/search/resource",
        json={"subject": BOB_ADMIN, "action": write, "resource": {"type": "record"}},
        headers=AUTH,
    )
    assert "record-2" in _ids(admin)
    admin_actions = await fixture.post(
        "/access/v1/search/action", json={"subject": BOB_ADMIN, "resource": R2_ARCHIVED}, headers=AUTH
    )
    assert "write" in _ids(admin_actions)


async def test_search_pagination_tokens(fixture: Client) -> None:
    body = {"subject": {"type": "user"}, "action": {"name": "read"}, "resource": R1, "page": {"limit": 1}}
    seen: list[str] = []
    for _ in range(5):
        response = await fixture.post("/access/v1/search/subject", json=body, headers=AUTH)
        assert response.status_code == 200, response.text
        page = response.json()["page"]
        assert isinstance(page["next_token"], str)
        seen += [r["id"] for r in response.json()["results"]]
        if not page["next_token"]:
            break
        body = {**body, "page": {"token": page["next_token"], "limit": 1}}
    assert sorted(seen) == ["alice", "bob"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/access/v1/search/action", {"subject": {"type": "user", "id": "nonexistent-user"}, "resource": R1}),
        (
            "/access/v1/search/subject",
            {"subject": {"type": "spaceship"}, "action": {"name": "read"}, "resource": R1},
        ),
        (
            "/access/v1/search/subject",
            {"subject": {"type": "user"}, "action": {"name": "fly"}, "resource": R1},
        ),
        (
            "/access/v1/search/resource",
            {"subject": ALICE, "action": {"name": "read"}, "resource": {"type": "spaceship"}},
        ),
        (
            "/access/v1/search/resource",
            {"subject": ALICE, "action": {"name": "fly"}, "resource": {"type": "record"}},
        ),
        ("/access/v1/search/action", {"subject": ALICE, "resource": {"type": "spaceship", "id": "x"}}),
        (
            "/access/v1/search/resource",
            {
                "subject": {"type": "Space Ship", "id": "x"},
                "action": {"name": "read"},
                "resource": {"type": "record"},
            },
        ),
    ],
)
async def test_unknown_names_search_to_empty_results(fixture: Client, path: str, body: Any) -> None:
    response = await fixture.post(path, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"subject": ALICE, "action": {"name": "fly"}, "resource": R1}, "unknown_action"),
        (
            {"subject": ALICE, "action": {"name": "read"}, "resource": {"type": "spaceship", "id": "x"}},
            "unknown_type",
        ),
        ({"subject": {"type": "robot", "id": "r2"}, "action": {"name": "read"}, "resource": R1}, None),
        ({"subject": {"type": "Robot Type", "id": "r2"}, "action": {"name": "read"}, "resource": R1}, None),
    ],
)
async def test_unknown_names_evaluate_to_a_deny(fixture: Client, body: Any, reason: str | None) -> None:
    response = await fixture.post("/access/v1/evaluation", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["decision"] is False
    if reason is not None:
        assert response.json()["context"]["reason"] == reason


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/access/v1/search/subject", {"subject": {"type": "user"}, "resource": R1}),
        ("/access/v1/search/resource", {"action": {"name": "read"}, "resource": {"type": "record"}}),
        ("/access/v1/search/action", {"subject": ALICE}),
        (
            "/access/v1/search/subject",
            {"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "record"}},
        ),
        (
            "/access/v1/search/resource",
            {"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "record"}},
        ),
    ],
)
async def test_search_missing_fields_are_400(fixture: Client, path: str, body: Any) -> None:
    response = await fixture.post(path, json=body, headers=AUTH)
    assert response.status_code == 400, response.text


async def test_discovery_metadata(client: Client) -> None:
    response = await client.get("/.well-known/authzen-configuration")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    meta = response.json()
    base = meta["policy_decision_point"]
    assert base == str(client.base_url).rstrip("/")
    for key, path in [
        ("access_evaluation_endpoint", "/access/v1/evaluation"),
        ("access_evaluations_endpoint", "/access/v1/evaluations"),
        ("search_subject_endpoint", "/access/v1/search/subject"),
        ("search_resource_endpoint", "/access/v1/search/resource"),
        ("search_action_endpoint", "/access/v1/search/action"),
    ]:
        assert meta[key] == base + path
    assert isinstance(meta["capabilities"], list)
    assert all(isinstance(c, str) for c in meta["capabilities"])

"""The AuthZEN todo interop scenario (openid/authzen ``interop/authzen-todo-backend``), live.

Five users with e-mail ids hold one role each in the todo app (rick admin, morty and summer
editors, beth and jerry viewers). Every user may read users and todos; admins and editors may
create; an admin may update or delete any todo and an editor only the todos it owns
(``resource.properties.ownerID == subject.id``); viewers may do nothing else. The policy is the
rebac schema below; the cases are generated from those rules (every user, action and resource of
the scenario), one evaluation each and all of them again as boxcarred batches.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import AUTH, Client, rel

from rebac.refs import decode_id, encode_id

pytestmark = pytest.mark.integration

SCHEMA = """
definition app {
    relation admin: user
    relation editor: user
    relation viewer: user
    permission member = admin + editor + viewer
    permission create = admin + editor
}

definition user {
    relation app: app
    permission can_read_user = app->member
}

caveat is_owner(subject map<any>, resource map<any>) {
    "ownerID" in resource.properties && resource.properties.ownerID == subject.id
}

definition todo {
    relation app: app
    relation owned: user:* with is_owner
    permission can_read_todos = app->member
    permission can_create_todo = app->create
    permission can_update_todo = app->admin + (app->editor & owned)
    permission can_delete_todo = app->admin + (app->editor & owned)
}
"""

ROLES = {
    "rick@the-citadel.com": "admin",
    "morty@the-citadel.com": "editor",
    "summer@the-smiths.com": "editor",
    "beth@the-smiths.com": "viewer",
    "jerry@the-smiths.com": "viewer",
}
TODOS = {f"7240d0db-8ff0-41ec-98b2-34a096273b9{n}": owner for n, owner in enumerate(ROLES, start=1)}


def _touch(relationship: dict[str, Any], caveat: str | None = None) -> dict[str, Any]:
    if caveat is not None:
        relationship = {**relationship, "optionalCaveat": {"caveatName": caveat}}
    return {"operation": "OPERATION_TOUCH", "relationship": relationship}


@pytest.fixture
async def todo_app(client: Client) -> Client:
    response = await client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)
    assert response.status_code == 200, response.text
    updates = [_touch(rel("app", "todo", role, "user", user)) for user, role in ROLES.items()]
    updates += [_touch(rel("user", user, "app", "app", "todo")) for user in ROLES]
    for todo in [*TODOS, "todo-1"]:
        updates += [
            _touch(rel("todo", todo, "app", "app", "todo")),
            _touch(rel("todo", todo, "owned", "user", "*"), "is_owner"),
        ]
    for start in range(0, len(updates), 10):
        response = await client.post(
            "/v1/relationships/write", json={"updates": updates[start : start + 10]}, headers=AUTH
        )
        assert response.status_code == 200, response.text
    return client


def _expected(user: str, action: str, owner: str | None) -> bool:
    role = ROLES[user]
    if action in {"can_read_user", "can_read_todos"}:
        return True
    if action == "can_create_todo":
        return role in {"admin", "editor"}
    return role == "admin" or (role == "editor" and owner == user)


def _cases() -> list[tuple[dict[str, Any], bool]]:
    cases: list[tuple[dict[str, Any], bool]] = []
    for user in ROLES:
        subject = {"type": "user", "id": user, "properties": {"identity": f"id-{user.split('@')[0]}"}}
        for other in (user, "beth@the-smiths.com"):
            request = {
                "subject": subject,
                "action": {"name": "can_read_user"},
                "resource": {"type": "user", "id": other},
            }
            cases.append((request, _expected(user, "can_read_user", None)))
        for action in ("can_read_todos", "can_create_todo"):
            request = {
                "subject": subject,
                "action": {"name": action},
                "resource": {"type": "todo", "id": "todo-1"},
            }
            cases.append((request, _expected(user, action, None)))
        for todo, owner in TODOS.items():
            for action in ("can_update_todo", "can_delete_todo"):
                resource = {"type": "todo", "id": todo, "properties": {"ownerID": owner}}
                request = {"subject": subject, "action": {"name": action}, "resource": resource}
                cases.append((request, _expected(user, action, owner)))
    return cases


CASES = _cases()


async def test_todo_decisions(todo_app: Client) -> None:
    assert len(CASES) == 70
    wrong = []
    for request, expected in CASES:
        response = await todo_app.post("/access/v1/evaluation", json=request, headers=AUTH)
        assert response.status_code == 200, response.text
        if response.json()["decision"] is not expected:
            wrong.append((request, expected))
    assert wrong == []
    assert sum(1 for _, expected in CASES if expected) == 32


async def test_todo_batches(todo_app: Client) -> None:
    for start in range(0, len(CASES), 5):
        chunk = CASES[start : start + 5]
        body = {"evaluations": [request for request, _ in chunk]}
        response = await todo_app.post("/access/v1/evaluations", json=body, headers=AUTH)
        assert response.status_code == 200, response.text
        assert [d["decision"] for d in response.json()["evaluations"]] == [e for _, e in chunk]


async def test_email_ids_map_one_to_one_and_come_back_from_searches(todo_app: Client) -> None:
    for user in ROLES:
        assert decode_id(encode_id(user)) == user
        assert encode_id(user) != user
    assert encode_id("todo-1") == "todo-1"
    assert encode_id("=x") != "=x"
    assert decode_id(encode_id("=x")) == "=x"
    assert len({encode_id(u) for u in ROLES}) == len(ROLES)
    response = await todo_app.post(
        "/access/v1/search/subject",
        json={
            "subject": {"type": "user"},
            "action": {"name": "can_update_todo"},
            "resource": {
                "type": "todo",
                "id": "7240d0db-8ff0-41ec-98b2-34a096273b92",
                "properties": {"ownerID": "morty@the-citadel.com"},
            },
        },
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    assert sorted(r["id"] for r in response.json()["results"]) == [
        "morty@the-citadel.com",
        "rick@the-citadel.com",
    ]
    readers = await todo_app.post(
        "/access/v1/search/resource",
        json={
            "subject": {"type": "user", "id": "jerry@the-smiths.com"},
            "action": {"name": "can_read_user"},
            "resource": {"type": "user"},
        },
        headers=AUTH,
    )
    assert sorted(r["id"] for r in readers.json()["results"]) == sorted(ROLES)


@pytest.mark.parametrize(
    "free_id",
    [
        "https://example.com/a?b=c",
        "mcp.tools.search",
        "Ünïcode id",
        "a b",
        "#hash@at:colon",
        "=starts-with-equals",
    ],
)
async def test_free_string_ids_are_accepted(todo_app: Client, free_id: str) -> None:
    response = await todo_app.post(
        "/access/v1/evaluation",
        json={
            "subject": {"type": "user", "id": free_id},
            "action": {"name": "can_read_todos"},
            "resource": {"type": "todo", "id": free_id},
        },
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    assert response.json()["decision"] is False


async def test_an_id_over_the_length_limit_is_a_400(todo_app: Client) -> None:
    response = await todo_app.post(
        "/access/v1/evaluation",
        json={
            "subject": {"type": "user", "id": "@" * 800},
            "action": {"name": "can_read_todos"},
            "resource": {"type": "todo", "id": "todo-1"},
        },
        headers=AUTH,
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:rebac:problem:malformed-reference"

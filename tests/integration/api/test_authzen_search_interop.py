"""The AuthZEN search interop scenario (openid/authzen ``interop/``, "Search"), live.

Six users (alice, bob, carol, dan, erin, felix) with a role and a department, and twenty records
(101-120) with a department and an owner. The scenario's rules:

- a user can view any record they own, or any record in their department; a manager any record;
- a user can edit any record they own; a manager any record in their department;
- a user can delete any record they own.

The policy is the rebac schema below. The expected answers are computed from those rules, for
every subject search (record x action), resource search (user x action) and action search
(user x record), and a few are checked against the scenario's published examples. Unknown records,
users and actions give ``{"results": []}``. The whole scenario runs twice: with the scenario's
ids, and with every id made a free string (``alice@search.test``, ``record/101 §``), so searches
give back the ids exactly as they were written.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import AUTH, Client, rel

pytestmark = pytest.mark.integration

SCHEMA = """
definition user {}

definition department {
    relation member: user
    relation manager: user
}

definition company {
    relation manager: user
}

definition record {
    relation owner: user
    relation department: department
    relation company: company
    permission view = owner + department->member + company->manager
    permission edit = owner + department->manager
    permission delete = owner
}
"""

USERS = {  # id: (role, department)
    "alice": ("manager", "Sales"),
    "bob": ("employee", "Legal"),
    "carol": ("contractor", "Legal"),
    "dan": ("manager", "Finance"),
    "erin": ("employee", "Finance"),
    "felix": ("contractor", "Accounting"),
}
_DEPARTMENTS = ["Legal", "Legal", "Legal", "Accounting", "Legal", "Accounting", "Sales", "Legal"]
_DEPARTMENTS += ["Accounting", "Sales", "Accounting", "Legal", "Sales", "Accounting", "Finance", "Legal"]
_DEPARTMENTS += ["Legal", "Accounting", "Legal", "Accounting"]
_OWNERS = ["alice", "bob", "carol", "dan", "erin", "felix"] * 3 + ["alice", "bob"]
RECORDS = {
    str(101 + n): (dept, owner) for n, (dept, owner) in enumerate(zip(_DEPARTMENTS, _OWNERS, strict=True))
}
ACTIONS = ("view", "edit", "delete")

IdStyle = dict[str, str]
"""The scenario's id of a user or record → the id the run writes and expects back."""


def _plain(ids: list[str]) -> IdStyle:
    return {i: i for i in ids}


def _free(ids: list[str]) -> IdStyle:
    return {i: (f"{i}@search.test" if i.isalpha() else f"record/{i} §") for i in ids}


STYLES = {"scenario": _plain, "free": _free}


def allowed(user: str, action: str, record: str) -> bool:
    """The scenario's rules, as stated."""
    role, department = USERS[user]
    record_department, owner = RECORDS[record]
    if action == "view":
        return owner == user or record_department == department or role == "manager"
    if action == "edit":
        return owner == user or (role == "manager" and record_department == department)
    return action == "delete" and owner == user


@pytest.fixture(params=sorted(STYLES))
async def search_app(client: Client, request: pytest.FixtureRequest) -> tuple[Client, IdStyle]:
    ids = STYLES[request.param]([*USERS, *RECORDS])
    response = await client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)
    assert response.status_code == 200, response.text
    updates = []
    for user, (role, department) in USERS.items():
        dept = department.lower()
        updates.append(rel("department", dept, "member", "user", ids[user]))
        if role == "manager":
            updates.append(rel("department", dept, "manager", "user", ids[user]))
            updates.append(rel("company", "acme", "manager", "user", ids[user]))
    for record, (department, owner) in RECORDS.items():
        updates.append(rel("record", ids[record], "owner", "user", ids[owner]))
        updates.append(rel("record", ids[record], "department", "department", department.lower()))
        updates.append(rel("record", ids[record], "company", "company", "acme"))
    for start in range(0, len(updates), 10):  # the test server's write limit
        body = {
            "updates": [
                {"operation": "OPERATION_TOUCH", "relationship": r} for r in updates[start : start + 10]
            ]
        }
        response = await client.post("/v1/relationships/write", json=body, headers=AUTH)
        assert response.status_code == 200, response.text
    return client, ids


async def _search(client: Client, kind: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.post(f"/access/v1/search/{kind}", json=body, headers=AUTH)
    assert response.status_code == 200, (body, response.text)
    answer = response.json()
    assert not answer.get("page", {}).get("next_token"), answer  # every answer fits one page
    results: list[dict[str, Any]] = answer["results"]
    return results


async def test_subject_search(search_app: tuple[Client, IdStyle]) -> None:
    client, ids = search_app
    wrong = []
    for record in RECORDS:
        for action in ACTIONS:
            body = {"subject": {"type": "user"}, "action": {"name": action}, "resource": {"type": "record"}}
            body["resource"]["id"] = ids[record]
            found = await _search(client, "subject", body)
            assert all(item["type"] == "user" for item in found)
            got = sorted(item["id"] for item in found)
            expected = sorted(ids[u] for u in USERS if allowed(u, action, record))
            if got != expected:
                wrong.append((record, action, got, expected))
    assert wrong == []


async def test_resource_search(search_app: tuple[Client, IdStyle]) -> None:
    client, ids = search_app
    wrong = []
    for user in USERS:
        for action in ACTIONS:
            body = {"subject": {"type": "user", "id": ids[user]}, "action": {"name": action}}
            body["resource"] = {"type": "record"}
            found = await _search(client, "resource", body)
            assert all(item["type"] == "record" for item in found)
            got = sorted(item["id"] for item in found)
            expected = sorted(ids[r] for r in RECORDS if allowed(user, action, r))
            if got != expected:
                wrong.append((user, action, got, expected))
    assert wrong == []


async def test_action_search(search_app: tuple[Client, IdStyle]) -> None:
    client, ids = search_app
    wrong = []
    for user in USERS:
        for record in RECORDS:
            body = {
                "subject": {"type": "user", "id": ids[user]},
                "resource": {"type": "record", "id": ids[record]},
            }
            got = sorted(item["name"] for item in await _search(client, "action", body))
            expected = sorted(a for a in ACTIONS if allowed(user, a, record))
            if got != expected:
                wrong.append((user, record, got, expected))
    assert wrong == []


def test_the_rules_give_the_scenarios_published_examples() -> None:
    # "who can view record 105?", "which records can Erin view?", Erin on 117 and on 118.
    assert [u for u in USERS if allowed(u, "view", "105")] == ["alice", "bob", "carol", "dan", "erin"]
    assert [r for r in RECORDS if allowed("erin", "view", r)] == ["105", "111", "115", "117"]
    assert [a for a in ACTIONS if allowed("erin", a, "117")] == ["view", "edit", "delete"]
    assert [a for a in ACTIONS if allowed("erin", a, "118")] == []
    # A manager edits the records of her department (alice: Sales 110; dan: Finance 115).
    assert [u for u in USERS if allowed(u, "edit", "110")] == ["alice", "dan"]
    assert [u for u in USERS if allowed(u, "edit", "115")] == ["carol", "dan"]
    assert [r for r in RECORDS if allowed("alice", "edit", r)] == ["101", "107", "110", "113", "119"]
    assert (
        sum(allowed(u, a, r) for u in USERS for a in ACTIONS for r in RECORDS) == 116
    )  # the published resource-search table, summed


async def test_unknown_records_users_and_actions_give_empty_results(
    search_app: tuple[Client, IdStyle],
) -> None:
    client, ids = search_app
    alice, r101 = {"type": "user", "id": ids["alice"]}, {"type": "record", "id": ids["101"]}
    cases = [
        (
            "subject",
            {
                "subject": {"type": "user"},
                "action": {"name": "view"},
                "resource": {"type": "record", "id": "999"},
            },
        ),
        ("subject", {"subject": {"type": "user"}, "action": {"name": "share"}, "resource": r101}),
        (
            "resource",
            {
                "subject": {"type": "user", "id": "zoe"},
                "action": {"name": "view"},
                "resource": {"type": "record"},
            },
        ),
        ("resource", {"subject": alice, "action": {"name": "archive"}, "resource": {"type": "record"}}),
        ("action", {"subject": {"type": "user", "id": "zoe"}, "resource": r101}),
        ("action", {"subject": alice, "resource": {"type": "record", "id": "999"}}),
    ]
    for kind, body in cases:
        assert await _search(client, kind, body) == [], (kind, body)

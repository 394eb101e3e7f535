"""A caveat that fails while it runs is a 422 problem naming the cause, never a 500 nor an allow."""

from __future__ import annotations

import pytest
from api_helpers import AUTH, FULL, Client, obj, subj, touch

pytestmark = pytest.mark.integration

SCHEMA = """
definition user {}
caveat spend(arguments map<any>, x int, y int) { arguments.amount < 10 && x / y > 0 }
definition tool {
    relation invoker: user with spend
    permission invoke = invoker
}
"""


@pytest.mark.parametrize(
    ("context", "fragment"),
    [
        ({"arguments": {}, "x": 1, "y": 1}, "no such key 'amount'"),
        ({"arguments": {"amount": 1}, "x": 1, "y": 0}, "divide by zero"),
    ],
)
async def test_a_failing_caveat_is_a_typed_problem(
    client: Client, context: dict[str, object], fragment: str
) -> None:
    response = await client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)
    assert response.status_code == 200, response.text
    update = touch("tool", "pay", "invoker", "user", "tom")
    update["relationship"]["optionalCaveat"] = {"caveatName": "spend"}
    response = await client.post("/v1/relationships/write", json={"updates": [update]}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = {"resource": obj("tool", "pay"), "permission": "invoke", "subject": subj("user", "tom"), **FULL}
    response = await client.post("/v1/permissions/check", json={**body, "context": context}, headers=AUTH)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("caveat-evaluation-failed")
    assert fragment in problem["detail"]
    ok = await client.post(
        "/v1/permissions/check",
        json={**body, "context": {"arguments": {"amount": 1}, "x": 1, "y": 1}},
        headers=AUTH,
    )
    assert ok.json()["permissionship"] == "PERMISSIONSHIP_HAS_PERMISSION"

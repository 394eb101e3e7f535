"""``/v1/identities`` and ``/v1/reviews`` end to end against PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import AUTH, Client, FakeKeys, obj, touch

pytestmark = pytest.mark.integration

AGENTS = """
definition user {}

definition agent {
    relation principal: user | agent
    acts_for principal
}

definition doc {
    relation viewer: user | agent
    permission view = viewer
}
"""


async def post(client: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def inventory(client: Client, query: str = "") -> dict[str, Any]:
    response = await client.get(f"/v1/identities{query}", headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_inventory_review_and_flag_after_a_new_grant(client: Client) -> None:
    await post(client, "/v1/schema/write", {"schema": AGENTS})
    updates = [
        touch("agent", "planner", "principal", "user", "alice"),
        touch("agent", "search", "principal", "agent", "planner"),
        touch("doc", "1", "viewer", "user", "alice"),
        touch("doc", "1", "viewer", "agent", "search"),
        touch("doc", "1", "viewer", "agent", "planner"),
        touch("doc", "2", "viewer", "agent", "search"),  # planner lacks it: capped
        touch("doc", "2", "viewer", "agent", "lonely"),
    ]
    await post(client, "/v1/relationships/write", {"updates": updates})

    page = await inventory(client)
    assert page["types"] == ["agent"]
    found = {item["subject"]: item for item in page["identities"]}
    assert sorted(found) == ["agent:lonely", "agent:planner", "agent:search"]
    search = found["agent:search"]
    assert search["chain"] == ["agent:search", "agent:planner", "user:alice"]
    assert search["owners"] == ["user:alice"]
    assert search["flags"] == ["never_reviewed"]
    assert search["grantCount"] == 2
    assert search["blastRadius"] == {"raw": 4, "effective": 2}  # doc:1 and doc:2, viewer + view
    assert search["createdRevision"] >= 1
    assert search["createdAt"]
    assert "orphan" in found["agent:lonely"]["flags"]

    review = await post(
        client,
        "/v1/reviews",
        {"subject": obj("agent", "search"), "reviewer": "sec-team", "note": "quarterly"},
    )
    assert review["review"]["reviewer"] == "sec-team"
    assert "doc:1#viewer@agent:search" in review["review"]["grants"]
    assert review["reviewedAt"]["token"]

    flagged = await inventory(client, "?flagged=true")
    assert "agent:search" not in {item["subject"] for item in flagged["identities"]}

    await post(
        client, "/v1/relationships/write", {"updates": [touch("doc", "7", "viewer", "agent", "search")]}
    )
    flagged = await inventory(client, "?flagged=true&type=agent")
    search = {item["subject"]: item for item in flagged["identities"]}["agent:search"]
    assert search["flags"] == ["grants_added_since_review"]
    assert [g["relationship"] for g in search["review"]["addedSince"]] == ["doc:7#viewer@agent:search"]
    assert search["review"]["lastReview"]["reviewId"] == review["review"]["reviewId"]

    listed = await client.get("/v1/reviews?subject=agent:search", headers=AUTH)
    assert listed.status_code == 200, listed.text
    assert [r["reviewId"] for r in listed.json()["reviews"]] == [review["review"]["reviewId"]]


async def test_pagination_and_errors(client: Client, keys: FakeKeys) -> None:
    await post(client, "/v1/schema/write", {"schema": AGENTS})
    updates = [touch("doc", "1", "viewer", "agent", f"a{i}") for i in range(5)]
    await post(client, "/v1/relationships/write", {"updates": updates})
    seen: list[str] = []
    query = "?limit=2&blastBudget=0"
    for _ in range(5):
        page = await inventory(client, query)
        seen += [item["subject"] for item in page["identities"]]
        assert all("blastRadius" not in item for item in page["identities"])
        if "nextCursor" not in page:
            break
        query = f"?limit=2&blastBudget=0&cursor={page['nextCursor']}"
    assert seen == [f"agent:a{i}" for i in range(5)]

    bad = await client.get("/v1/identities?type=user", headers=AUTH)
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    bad = await client.get("/v1/identities?cursor=nope", headers=AUTH)
    assert bad.status_code == 400
    bad = await client.post(
        "/v1/reviews", json={"subject": obj("user", "alice"), "reviewer": "x"}, headers=AUTH
    )
    assert bad.status_code == 400

    check_only = keys.add("check")
    denied = await client.get("/v1/identities", headers={"Authorization": f"Bearer {check_only.text}"})
    assert denied.status_code == 403
    denied = await client.post(
        "/v1/reviews",
        json={"subject": obj("agent", "a1"), "reviewer": "x"},
        headers={"Authorization": f"Bearer {check_only.text}"},
    )
    assert denied.status_code == 403
    assert (await client.get("/v1/reviews")).status_code == 401

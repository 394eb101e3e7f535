"""``/v1/identities`` and ``/v1/reviews`` end to end against PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import AUTH, Client, KeyTable, obj, settings, touch
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.refs import parse_subject

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


AGENTS_WITH_REVIEW = """
definition user {}

definition agent {
    relation principal: user | agent
    relation owner: user
    relation auditor: user
    permission review = owner + auditor
    acts_for principal
}

definition doc {
    relation viewer: user | agent
    permission view = viewer
}
"""


async def post(
    client: Client, path: str, body: dict[str, Any], headers: dict[str, str] = AUTH
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def acting_for(keys: KeyTable, subject: str, *scopes: str) -> dict[str, str]:
    """Headers of a new key (``admin`` unless scopes are given) that acts for ``subject``."""
    key = keys.add(*(scopes or ("admin",)), subject=subject)
    return {"Authorization": f"Bearer {key.text}"}


async def reviews_of(client: Client, subject: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/reviews?subject={subject}", headers=AUTH)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["reviews"]
    return found


async def inventory(client: Client, query: str = "") -> dict[str, Any]:
    response = await client.get(f"/v1/identities{query}", headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_inventory_review_and_flag_after_a_new_grant(client: Client, keys: KeyTable) -> None:
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
        {"subject": obj("agent", "search"), "note": "quarterly"},
        headers=acting_for(keys, "user:sec"),
    )
    assert review["review"]["reviewer"] == "user:sec"  # the key's subject, as canonical text
    assert review["review"]["note"] == "quarterly"
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


async def test_pagination_and_errors(client: Client, keys: KeyTable) -> None:
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
    reviewer = acting_for(keys, "user:sec")
    bad = await client.post("/v1/reviews", json={"subject": obj("user", "alice")}, headers=reviewer)
    assert bad.status_code == 400
    bad = await client.post("/v1/reviews", json={"subject": obj("agent", "")}, headers=reviewer)
    assert bad.status_code == 400
    assert bad.json()["type"] == "urn:rebac:problem:malformed-reference"

    check_only = keys.add("check", subject="user:sec")
    denied = await client.get("/v1/identities", headers={"Authorization": f"Bearer {check_only.text}"})
    assert denied.status_code == 403
    denied = await client.post(
        "/v1/reviews",
        json={"subject": obj("agent", "a1")},
        headers={"Authorization": f"Bearer {check_only.text}"},
    )
    assert denied.status_code == 403
    assert denied.json()["type"] == "urn:rebac:problem:forbidden"
    assert (await client.get("/v1/reviews")).status_code == 401
    assert await reviews_of(client, "agent:a1") == []


async def test_a_body_that_still_names_the_reviewer_is_refused(client: Client, keys: KeyTable) -> None:
    await post(client, "/v1/schema/write", {"schema": AGENTS})
    await post(client, "/v1/relationships/write", {"updates": [touch("doc", "1", "viewer", "agent", "a1")]})
    old = await client.post(
        "/v1/reviews",
        json={"subject": obj("agent", "a1"), "reviewer": "sec-team"},
        headers=acting_for(keys, "user:sec"),
    )
    assert old.status_code == 400, old.text
    assert old.headers["content-type"].startswith("application/problem+json")
    assert any("reviewer" in error["message"] for error in old.json()["errors"])
    assert await reviews_of(client, "agent:a1") == []


async def test_an_unknown_identity_is_not_found_and_nothing_is_written(
    client: Client, keys: KeyTable
) -> None:
    await post(client, "/v1/schema/write", {"schema": AGENTS})
    await post(client, "/v1/relationships/write", {"updates": [touch("doc", "1", "viewer", "agent", "a1")]})
    missing = await client.post(
        "/v1/reviews", json={"subject": obj("agent", "ghost")}, headers=acting_for(keys, "user:sec")
    )
    assert missing.status_code == 404, missing.text
    assert missing.json()["type"] == "urn:rebac:problem:not-found"
    assert "agent:ghost" in missing.json()["detail"]
    assert await reviews_of(client, "agent:ghost") == []


async def test_a_key_acting_for_no_subject_cannot_review(client: Client, keys: KeyTable) -> None:
    await post(client, "/v1/schema/write", {"schema": AGENTS})
    await post(client, "/v1/relationships/write", {"updates": [touch("doc", "1", "viewer", "agent", "a1")]})
    for headers in (AUTH, {"Authorization": f"Bearer {keys.add('admin').text}"}):
        refused = await client.post("/v1/reviews", json={"subject": obj("agent", "a1")}, headers=headers)
        assert refused.status_code == 403, refused.text
        body = refused.json()
        assert body["type"] == "urn:rebac:problem:subject-required"
        assert "acts for no subject" in body["detail"]
        assert "POST /v1/keys" in body["detail"]
        assert "REBAC_PRESHARED_SUBJECT" in body["detail"]
    assert await reviews_of(client, "agent:a1") == []


async def test_without_permission_review_an_owner_is_refused_and_others_may(
    client: Client, keys: KeyTable
) -> None:
    await post(client, "/v1/schema/write", {"schema": AGENTS})
    updates = [
        touch("agent", "planner", "principal", "user", "alice"),
        touch("agent", "search", "principal", "agent", "planner"),
        touch("doc", "1", "viewer", "agent", "search"),
    ]
    await post(client, "/v1/relationships/write", {"updates": updates})
    for identity in ("planner", "search"):  # alice is at the root of both chains
        refused = await client.post(
            "/v1/reviews", json={"subject": obj("agent", identity)}, headers=acting_for(keys, "user:alice")
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"] == "urn:rebac:problem:not-permitted"
        assert "user:alice owns" in refused.json()["detail"]
        assert "permission review" in refused.json()["detail"]
        assert await reviews_of(client, f"agent:{identity}") == []
    allowed = await post(
        client, "/v1/reviews", {"subject": obj("agent", "search")}, headers=acting_for(keys, "user:bob")
    )
    assert allowed["review"]["reviewer"] == "user:bob"
    assert [r["reviewer"] for r in await reviews_of(client, "agent:search")] == ["user:bob"]


async def test_permission_review_decides_who_may_review(client: Client, keys: KeyTable) -> None:
    await post(client, "/v1/schema/write", {"schema": AGENTS_WITH_REVIEW})
    updates = [
        touch("agent", "planner", "principal", "user", "alice"),
        touch("agent", "planner", "owner", "user", "alice"),
        touch("agent", "planner", "auditor", "user", "carol"),
        touch("doc", "1", "viewer", "agent", "planner"),
    ]
    await post(client, "/v1/relationships/write", {"updates": updates})
    owner = await post(
        client, "/v1/reviews", {"subject": obj("agent", "planner")}, headers=acting_for(keys, "user:alice")
    )
    assert owner["review"]["reviewer"] == "user:alice"  # the schema lets the owner review
    auditor = await post(
        client, "/v1/reviews", {"subject": obj("agent", "planner")}, headers=acting_for(keys, "user:carol")
    )
    assert auditor["review"]["reviewer"] == "user:carol"
    denied = await client.post(
        "/v1/reviews", json={"subject": obj("agent", "planner")}, headers=acting_for(keys, "user:bob")
    )
    assert denied.status_code == 403, denied.text
    body = denied.json()
    assert body["type"] == "urn:rebac:problem:not-permitted"
    assert "lacks the 'review' permission" in body["detail"]
    assert body["reviewer"] == "user:bob"
    assert [r["reviewer"] for r in await reviews_of(client, "agent:planner")] == ["user:carol", "user:alice"]


async def test_the_preshared_key_reviews_as_its_configured_subject(pg_store: Any) -> None:
    app = create_app(
        settings(preshared_subject=parse_subject("user:sec")),
        store=pg_store,
        schema_refresh_seconds=0,
        key_cache_seconds=0,
    )
    async with AsyncTestClient(app) as client:
        await post(client, "/v1/schema/write", {"schema": AGENTS})
        await post(
            client, "/v1/relationships/write", {"updates": [touch("doc", "1", "viewer", "agent", "a1")]}
        )
        review = await post(client, "/v1/reviews", {"subject": obj("agent", "a1")})
        assert review["review"]["reviewer"] == "user:sec"

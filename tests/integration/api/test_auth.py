"""Authentication and scopes: 401 with WWW-Authenticate, 403 for the wrong scope, revoked keys."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import AUTH, Client, KeyTable, check_body

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("header", [None, "Bearer wrong-key", "Basic dXNlcjpwYXNz", "Bearer "])
async def test_missing_or_wrong_key_is_401(client: Client, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = await client.post(
        "/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=headers
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "urn:rebac:problem:unauthenticated"


async def test_health_needs_no_key(client: Client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert (await client.get("/schema/openapi.json")).status_code == 200


async def test_scopes(seeded: Client, keys: KeyTable) -> None:
    checker = keys.add("check")
    writer = keys.add("write")
    schema_admin = keys.add("schema")
    admin = keys.add("admin")

    def bearer(key: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {key.text}"}

    check = check_body("d1", "view", "tom")
    assert (
        await seeded.post("/v1/permissions/check", json=check, headers=bearer(checker))
    ).status_code == 200
    assert (
        await seeded.post(
            "/access/v1/evaluation",
            json={
                "subject": {"type": "user", "id": "tom"},
                "resource": {"type": "document", "id": "d1"},
                "action": {"name": "view"},
            },
            headers=bearer(checker),
        )
    ).status_code == 200
    forbidden = await seeded.post(
        "/v1/relationships/read",
        json={"relationshipFilter": {"resourceType": "document"}},
        headers=bearer(checker),
    )
    assert forbidden.status_code == 403
    assert forbidden.json()["type"] == "urn:rebac:problem:forbidden"
    assert (await seeded.post("/v1/permissions/check", json=check, headers=bearer(writer))).status_code == 403
    assert (await seeded.post("/v1/schema/read", headers=bearer(writer))).status_code == 403
    assert (await seeded.post("/v1/schema/read", headers=bearer(schema_admin))).status_code == 200
    assert (await seeded.post("/v1/schema/read", headers=bearer(admin))).status_code == 200
    assert (await seeded.post("/v1/permissions/check", json=check, headers=bearer(admin))).status_code == 200
    versions = (await seeded.get("/v1/schema/versions", headers=AUTH)).json()["versions"]
    assert versions[-1]["author"] == "preshared"


async def test_revoked_and_tampered_keys_are_401(seeded: Client, keys: KeyTable) -> None:
    key = keys.add("check")
    headers = {"Authorization": f"Bearer {key.text}"}
    check = check_body("d1", "view", "tom")
    assert (await seeded.post("/v1/permissions/check", json=check, headers=headers)).status_code == 200
    tampered = {"Authorization": f"Bearer {key.text[:-2]}xx"}
    assert (await seeded.post("/v1/permissions/check", json=check, headers=tampered)).status_code == 401
    keys.revoke(key.key_id)
    assert (await seeded.post("/v1/permissions/check", json=check, headers=headers)).status_code == 401


async def test_problems_do_not_leak_the_key(client: Client) -> None:
    response = await client.post(
        "/v1/permissions/check",
        json=check_body("d1", "view", "tom"),
        headers={"Authorization": "Bearer sup3r-s3cret-guess"},
    )
    assert "sup3r-s3cret-guess" not in response.text

"""``/v1/keys`` end to end against PostgreSQL's key table: create, use, list, revoke; the subject."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_helpers import AUTH, SCHEMA, Client, check_body, obj, settings
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.store.base import TupleStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def keyed(store_factory: Any) -> AsyncIterator[tuple[Client, TupleStore]]:
    """A client whose store serves the database's key table (as ``rebac serve`` opens it)."""
    async with store_factory("indexed", quantization_seconds=0, with_keys=True) as store:
        app = create_app(settings(), store=store, schema_refresh_seconds=0, key_cache_seconds=0)
        async with AsyncTestClient(app) as client:
            yield client, store


async def create(client: Client, body: dict[str, Any], headers: dict[str, str] = AUTH) -> dict[str, Any]:
    response = await client.post("/v1/keys", json=body, headers=headers)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def bearer(text: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {text}"}


async def test_create_use_list_and_revoke_a_key(keyed: tuple[Client, TupleStore]) -> None:
    client, store = keyed
    created = await create(
        client, {"scopes": ["check", "schema"], "name": "ci", "subject": obj("user", "alice")}
    )
    assert set(created) == {"key", "keyId", "scopes", "name", "subject", "createdAt"}
    assert created["key"].startswith(f"rbk_{created['keyId']}_")
    assert created["scopes"] == ["check", "schema"]
    assert (created["name"], created["subject"]) == ("ci", "user:alice")
    assert created["createdAt"].endswith("Z")

    plain = await create(client, {"scopes": ["write"]})
    assert plain["subject"] is None  # present, and null
    assert plain["name"] == ""

    # the new key authenticates with its scopes, and acts for its subject
    key = bearer(created["key"])
    assert (await client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=key)).status_code == 200
    check = await client.post("/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=key)
    assert check.status_code == 200, check.text
    write = await client.post("/v1/relationships/write", json={"updates": []}, headers=key)
    assert write.status_code == 403
    assert (await client.get("/v1/keys", headers=key)).status_code == 403  # admin only
    table = store.roles.keys
    assert table is not None
    stored = await table.find_key(created["keyId"])
    assert stored is not None
    assert stored.subject == "user:alice"

    listed = await client.get("/v1/keys", headers=AUTH)
    assert listed.status_code == 200, listed.text
    rows = {row["keyId"]: row for row in listed.json()["keys"]}
    assert set(rows) == {created["keyId"], plain["keyId"]}
    assert rows[created["keyId"]] == {
        "keyId": created["keyId"],
        "scopes": ["check", "schema"],
        "name": "ci",
        "subject": "user:alice",
        "createdAt": created["createdAt"],
        "revokedAt": None,
    }
    assert created["key"].split("_", 2)[2] not in listed.text  # never the secret
    assert stored.secret_hash not in listed.text  # nor its hash

    revoked = await client.delete(f"/v1/keys/{created['keyId']}", headers=AUTH)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["keyId"] == created["keyId"]
    assert revoked.json()["revokedAt"].endswith("Z")
    after = await client.post("/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=key)
    assert after.status_code == 401
    rows = {row["keyId"]: row for row in (await client.get("/v1/keys", headers=AUTH)).json()["keys"]}
    assert rows[created["keyId"]]["revokedAt"] == revoked.json()["revokedAt"]
    assert rows[plain["keyId"]]["revokedAt"] is None

    again = await client.delete(f"/v1/keys/{created['keyId']}", headers=AUTH)
    assert again.status_code == 404
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["keyId"] == created["keyId"]
    assert (await client.delete("/v1/keys/nosuchkey", headers=AUTH)).status_code == 404


async def test_bad_key_requests_are_problems_and_store_nothing(keyed: tuple[Client, TupleStore]) -> None:
    client, store = keyed
    bad_bodies = [
        {"scopes": []},
        {"scopes": ["root"]},
        {"scopes": ["check"], "subject": obj("user", "*")},  # a wildcard acts for no one
        {"scopes": ["check"], "subject": obj("user", "")},
        {"scopes": ["check"], "subject": obj("User", "alice")},
        {"name": "no scopes"},
    ]
    for body in bad_bodies:
        response = await client.post("/v1/keys", json=body, headers=AUTH)
        assert response.status_code == 400, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    table = store.roles.keys
    assert table is not None
    assert await table.list_keys() == []

    checker = await create(client, {"scopes": ["check"]})
    for method, path in (
        ("POST", "/v1/keys"),
        ("GET", "/v1/keys"),
        ("DELETE", f"/v1/keys/{checker['keyId']}"),
    ):
        denied = await client.request(
            method, path, json={"scopes": ["admin"]}, headers=bearer(checker["key"])
        )
        assert denied.status_code == 403, (method, path)
        assert (await client.request(method, path, json={"scopes": ["admin"]})).status_code == 401
    assert [key.key_id for key in await table.list_keys()] == [checker["keyId"]]


async def test_a_store_without_a_key_table_says_so(client: Client) -> None:
    # the default API fixture's store is opened without the key table
    for method, path in (("POST", "/v1/keys"), ("GET", "/v1/keys"), ("DELETE", "/v1/keys/abc")):
        response = await client.request(method, path, json={"scopes": ["check"]}, headers=AUTH)
        assert response.status_code == 404, (method, path, response.text)
        body = response.json()
        assert body["type"] == "urn:rebac:problem:not-found"
        assert "no API key table" in body["detail"]

"""``X-Rebac-Decision-Source``: an enforcement point labels its decisions, and can forge nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from api_helpers import AUTH, Client, check_body, obj, subj

pytestmark = pytest.mark.integration


async def _record(client: Client, decision_id: str) -> dict[str, Any]:
    for _ in range(100):
        response = await client.get(f"/v1/decisions/{decision_id}", headers=AUTH)
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        await asyncio.sleep(0.05)
    pytest.fail(f"decision {decision_id} was not recorded")


async def test_check_bulk_and_authzen_record_the_label(seeded: Client) -> None:
    labelled = {**AUTH, "X-Rebac-Decision-Source": "mcp-gateway"}
    check = await seeded.post("/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=labelled)
    assert check.status_code == 200, check.text
    bulk = await seeded.post(
        "/v1/permissions/checkbulk",
        json={
            "items": [
                {"resource": obj("document", "d1"), "permission": "view", "subject": subj("user", "bob")}
            ]
        },
        headers=labelled,
    )
    assert bulk.status_code == 200, bulk.text
    evaluation = await seeded.post(
        "/access/v1/evaluation",
        json={
            "subject": {"type": "user", "id": "tom"},
            "action": {"name": "view"},
            "resource": {"type": "document", "id": "d1"},
        },
        headers=labelled,
    )
    assert evaluation.status_code == 200, evaluation.text
    ids = [
        check.json()["decisionId"],
        bulk.json()["pairs"][0]["decisionId"],
        evaluation.json()["context"]["decision_id"],
    ]
    for decision_id in ids:
        record = await _record(seeded, decision_id)
        assert record["source"] == "mcp-gateway"
        assert record["caller"] == "preshared"  # the key id stays the server's


async def test_without_the_header_the_source_is_the_servers(seeded: Client) -> None:
    check = await seeded.post("/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=AUTH)
    assert (await _record(seeded, check.json()["decisionId"]))["source"] == "check"


@pytest.mark.parametrize(
    "label", ["check", "authzen", "access_request.created", "MCP-Gateway", "mcp gateway", "x" * 70]
)
async def test_a_label_that_could_pass_for_rebacs_own_is_refused(seeded: Client, label: str) -> None:
    headers = {**AUTH, "X-Rebac-Decision-Source": label}
    for path, body in [
        ("/v1/permissions/check", check_body("d1", "view", "tom")),
        ("/v1/permissions/checkbulk", {"items": [check_body("d1", "view", "tom")]}),
    ]:
        response = await seeded.post(path, json=body, headers=headers)
        assert response.status_code == 400, response.text
        assert "X-Rebac-Decision-Source".lower() in response.json()["detail"]

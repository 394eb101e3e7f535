"""AuthZEN 1.0 endpoints: shapes, deny as 200, boxcarring semantics, per-item errors, search paging."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import AUTH, Client, touch

pytestmark = pytest.mark.integration

TOM = {"type": "user", "id": "tom"}
BOB = {"type": "user", "id": "bob"}
D1 = {"type": "document", "id": "d1"}
D2 = {"type": "document", "id": "d2"}
VIEW = {"name": "view"}


def bare(body: dict[str, Any]) -> dict[str, Any]:
    """The decision without its decision-log id (``test_decisions_api`` asserts that id)."""
    context = {k: v for k, v in (body.get("context") or {}).items() if k != "decision_id"}
    return {"decision": body["decision"], **({"context": context} if context else {})}


async def test_evaluation_allow_and_deny(seeded: Client) -> None:
    allow = await seeded.post(
        "/access/v1/evaluation", json={"subject": TOM, "resource": D1, "action": VIEW}, headers=AUTH
    )
    assert allow.status_code == 200
    assert bare(allow.json()) == {"decision": True}
    deny = await seeded.post(
        "/access/v1/evaluation", json={"subject": BOB, "resource": D1, "action": VIEW}, headers=AUTH
    )
    assert deny.status_code == 200
    assert bare(deny.json()) == {"decision": False}


async def test_evaluation_missing_field_is_400_and_request_id_echoed(seeded: Client) -> None:
    response = await seeded.post(
        "/access/v1/evaluation",
        json={"subject": TOM, "action": VIEW},
        headers={**AUTH, "X-Request-ID": "req-42"},
    )
    assert response.status_code == 400
    assert response.headers["x-request-id"] == "req-42"
    ok = await seeded.post(
        "/access/v1/evaluation",
        json={"subject": TOM, "resource": D1, "action": VIEW, "unknown": {"ignored": True}},
        headers={**AUTH, "X-Request-ID": "req-43"},
    )
    assert ok.headers["x-request-id"] == "req-43"
    assert bare(ok.json()) == {"decision": True}


async def test_evaluation_context_feeds_caveats(seeded: Client) -> None:
    await seeded.post(
        "/v1/relationships/write",
        json={
            "updates": [
                {
                    "operation": "OPERATION_TOUCH",
                    "relationship": {
                        **touch("document", "c1", "viewer", "user", "cat")["relationship"],
                        "optionalCaveat": {"caveatName": "on_weekday"},
                    },
                }
            ]
        },
        headers=AUTH,
    )
    base = {
        "subject": {"type": "user", "id": "cat"},
        "resource": {"type": "document", "id": "c1"},
        "action": VIEW,
    }
    weekday = await seeded.post(
        "/access/v1/evaluation", json={**base, "context": {"day": "tue"}}, headers=AUTH
    )
    weekend = await seeded.post(
        "/access/v1/evaluation", json={**base, "context": {"day": "sat"}}, headers=AUTH
    )
    unknown = await seeded.post("/access/v1/evaluation", json=base, headers=AUTH)
    assert bare(weekday.json()) == {"decision": True}
    assert bare(weekend.json()) == {"decision": False}
    assert unknown.json()["decision"] is False
    assert unknown.json()["context"]["missing_context"] == ["day"]


def _items() -> list[dict[str, Any]]:
    return [
        {"subject": BOB},  # deny
        {"resource": D2},  # tom on d2: allow
        {"resource": {"type": "document", "id": ""}},  # error: an empty id
        {},  # tom on d1: allow
        {"action": {"name": "nope"}},  # unknown permission: a deny, not an error
    ]


async def test_evaluations_execute_all_with_per_item_error(seeded: Client) -> None:
    body = {"subject": TOM, "resource": D1, "action": VIEW, "evaluations": _items()}
    response = await seeded.post("/access/v1/evaluations", json=body, headers=AUTH)
    assert response.status_code == 200
    decisions = response.json()["evaluations"]
    assert [d["decision"] for d in decisions] == [False, True, False, True, False]
    assert decisions[2]["context"]["error"]["status"] == 400
    assert decisions[4]["context"]["reason"] == "unknown_action"
    assert "error" not in decisions[4]["context"]
    assert "decision" not in response.json()


async def test_evaluations_deny_on_first_deny(seeded: Client) -> None:
    body = {
        "subject": TOM,
        "resource": D1,
        "action": VIEW,
        "evaluations": [{}, *_items()[:4]],
        "options": {"evaluations_semantic": "deny_on_first_deny"},
    }
    decisions = (await seeded.post("/access/v1/evaluations", json=body, headers=AUTH)).json()["evaluations"]
    assert [d["decision"] for d in decisions] == [True, False]
    assert decisions[1]["context"]["reason"] == "deny_on_first_deny"


async def test_evaluations_permit_on_first_permit(seeded: Client) -> None:
    body = {
        "subject": TOM,
        "resource": D1,
        "action": VIEW,
        "evaluations": _items(),
        "options": {"evaluations_semantic": "permit_on_first_permit"},
    }
    decisions = (await seeded.post("/access/v1/evaluations", json=body, headers=AUTH)).json()["evaluations"]
    assert [d["decision"] for d in decisions] == [False, True]


async def test_evaluations_without_items_is_a_single_evaluation_and_limits_apply(seeded: Client) -> None:
    single = await seeded.post(
        "/access/v1/evaluations", json={"subject": TOM, "resource": D1, "action": VIEW}, headers=AUTH
    )
    assert bare(single.json()) == {"decision": True}
    too_many = await seeded.post(
        "/access/v1/evaluations",
        json={"subject": TOM, "resource": D1, "action": VIEW, "evaluations": [{}] * 6},
        headers=AUTH,
    )
    assert too_many.status_code == 400
    assert too_many.json()["type"] == "urn:rebac:problem:limit-exceeded"
    bad_semantic = await seeded.post(
        "/access/v1/evaluations",
        json={
            "subject": TOM,
            "resource": D1,
            "action": VIEW,
            "evaluations": [{}],
            "options": {"evaluations_semantic": "x"},
        },
        headers=AUTH,
    )
    assert bad_semantic.status_code == 400


async def test_search_resource_paginates(seeded: Client) -> None:
    body = {"subject": TOM, "action": VIEW, "resource": {"type": "document"}, "page": {"limit": 1}}
    first = await seeded.post("/access/v1/search/resource", json=body, headers=AUTH)
    assert first.status_code == 200, first.text
    assert next(iter(first.json())) == "page"
    assert first.json()["results"] == [D1]
    token = first.json()["page"]["next_token"]
    assert token
    second = await seeded.post(
        "/access/v1/search/resource", json={**body, "page": {"limit": 1, "token": token}}, headers=AUTH
    )
    assert second.json()["results"] == [D2]
    bad = await seeded.post(
        "/access/v1/search/resource", json={**body, "page": {"token": "bogus"}}, headers=AUTH
    )
    assert bad.status_code == 400


async def test_search_subject_and_action(seeded: Client) -> None:
    subjects = await seeded.post(
        "/access/v1/search/subject",
        json={"subject": {"type": "user"}, "action": VIEW, "resource": D1},
        headers=AUTH,
    )
    assert subjects.status_code == 200, subjects.text
    assert sorted(r["id"] for r in subjects.json()["results"]) == ["ann", "tom"]
    assert subjects.json()["page"]["next_token"] == ""
    actions = await seeded.post(
        "/access/v1/search/action",
        json={"subject": {"type": "user", "id": "ann"}, "resource": D1},
        headers=AUTH,
    )
    assert actions.json()["results"] == [{"name": "edit"}, {"name": "view"}]


async def test_well_known_configuration_is_public(client: Client) -> None:
    response = await client.get("/.well-known/authzen-configuration")
    assert response.status_code == 200
    meta = response.json()
    assert meta["access_evaluation_endpoint"].endswith("/access/v1/evaluation")
    assert meta["search_action_endpoint"].endswith("/access/v1/search/action")
    assert meta["policy_decision_point"]

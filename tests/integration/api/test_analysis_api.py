"""``POST /v1/least-privilege`` and ``POST /v1/what-if`` end to end on PostgreSQL (issue 16)."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import AUTH, SCHEMA, Client, KeyTable, flush_decisions, obj, subj

pytestmark = pytest.mark.integration


async def _check(client: Client, user: str, permission: str, doc: str) -> bool:
    body = {"resource": obj("document", doc), "permission": permission, "subject": subj("user", user)}
    response = await client.post("/v1/permissions/check", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return bool(response.json()["permissionship"] == "PERMISSIONSHIP_HAS_PERMISSION")


async def _post(client: Client, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=AUTH)
    assert response.status_code == status, response.text
    out: dict[str, Any] = response.json()
    return out


async def test_least_privilege_holds_used_and_removable(seeded: Client) -> None:
    assert await _check(seeded, "tom", "view", "d2")
    assert await _check(seeded, "tom", "view", "d2")
    await flush_decisions(seeded)
    report = await _post(seeded, "/v1/least-privilege", {"subject": subj("user", "tom"), "since": "30d"})
    assert (report["held"], report["used"]) == (2, 1)
    assert report["message"] == "user:tom holds 2 permissions, used 1 in the last 30 days"
    assert report["usedPermissions"][0]["uses"] == 2
    unused = report["unused"]
    assert [(u["resource"]["objectId"], u["permission"]) for u in unused] == [("d1", "view")]
    assert unused[0]["carriedBy"] == ["team:eng#member@user:tom", "document:d1#viewer@team:eng#member"]
    # d2's direct grant carries the used view; tom's team membership carries only the unused d1.
    assert report["removable"] == ["team:eng#member@user:tom"]
    assert report["truncated"] is False
    assert report["readAt"]["token"]


async def test_what_if_lists_flips_and_changes_nothing(seeded: Client) -> None:
    assert await _check(seeded, "tom", "view", "d2")
    assert await _check(seeded, "ann", "view", "d1")
    assert not await _check(seeded, "bob", "view", "d1")
    await flush_decisions(seeded)
    before = (await seeded.get("/v1/decisions", headers=AUTH)).json()["decisions"]
    proposed = SCHEMA.replace(
        "permission view = (viewer + edit) - banned", "permission view = viewer - banned"
    )
    body = {"schema": proposed, "relationships": "delete document:d2#viewer@user:tom\n", "since": "1h"}
    report = await _post(seeded, "/v1/what-if", body)
    flips = sorted((f["subject"], f["resource"], f["old"], f["new"], f["kind"]) for f in report["flips"])
    assert flips == [
        ("user:ann", "document:d1", "allowed", "denied", "revoked"),
        ("user:tom", "document:d2", "allowed", "denied", "revoked"),
    ]
    assert (report["decisions"], report["unchanged"], report["flipped"]) == (3, 1, 2)
    assert report["subjectsAffected"] == ["user:ann", "user:tom"]
    assert report["schemaChanged"] is True
    assert report["changes"] == 1
    assert report["unreplayable"] == []
    assert report["since"] == "1h"
    # Nothing changed: the relationship is still there, the schema is the same, no decision was added.
    assert await _check(seeded, "tom", "view", "d2")
    await flush_decisions(seeded)
    after = (await seeded.get("/v1/decisions", headers=AUTH)).json()["decisions"]
    assert len(after) == len(before) + 1
    read = await seeded.post("/v1/schema/read", json={}, headers=AUTH)
    assert "viewer + edit" in read.json()["schemaText"]


async def test_bad_input_is_a_problem(seeded: Client) -> None:
    bad_since = await _post(seeded, "/v1/what-if", {"schema": SCHEMA, "since": "yesterday"}, status=400)
    assert "since" in bad_since["detail"]
    bad_schema = await _post(seeded, "/v1/what-if", {"schema": "definition {", "since": "1h"}, status=400)
    assert bad_schema["errors"][0]["line"] == 1
    changes = "// one\ndocument:d1#viewer@@user:tom\n"
    bad_line = await _post(seeded, "/v1/what-if", {"relationships": changes, "since": "1h"}, status=400)
    assert (bad_line["line"], bad_line["column"]) == (2, 20)
    neither = await _post(seeded, "/v1/what-if", {"since": "1h"}, status=400)
    assert "propose" in neither["detail"]
    wildcard = {"subject": subj("user", "*"), "since": "1d"}
    await _post(seeded, "/v1/least-privilege", wildcard, status=400)
    unknown = {"subject": subj("robot", "r1"), "since": "1d"}
    assert (await _post(seeded, "/v1/least-privilege", unknown, status=400))["type"].endswith("unknown-type")


async def test_requires_an_admin_key(seeded: Client, keys: KeyTable) -> None:
    body = {"subject": subj("user", "tom")}
    check_only = keys.add("check")
    for path, payload in (("/v1/least-privilege", body), ("/v1/what-if", {"schema": SCHEMA})):
        assert (await seeded.post(path, json=payload)).status_code == 401
        denied = await seeded.post(path, json=payload, headers={"Authorization": f"Bearer {check_only.text}"})
        assert denied.status_code == 403

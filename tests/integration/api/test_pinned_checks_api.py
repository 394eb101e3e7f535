"""A check may pin a stored schema version (``optionalSchemaVersion``, an addition; DESIGN §2)."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import AUTH, FULL, SCHEMA, Client, obj, subj

pytestmark = pytest.mark.integration

# version 2 drops the exclusion: bob (a banned viewer of d1) may view under it
LENIENT = SCHEMA.replace("permission view = (viewer + edit) - banned", "permission view = viewer + edit")


def _check(version: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resource": obj("document", "d1"),
        "permission": "view",
        "subject": subj("user", "bob"),
        **FULL,
    }
    if version is not None:
        body["optionalSchemaVersion"] = version
    return body


async def test_a_check_pinned_to_an_older_version_uses_that_schema(seeded: Client) -> None:
    response = await seeded.post("/v1/schema/write", json={"schema": LENIENT}, headers=AUTH)
    assert response.status_code == 200, response.text
    answers = {}
    for version in (None, 1, 2):
        response = await seeded.post("/v1/permissions/check", json=_check(version), headers=AUTH)
        assert response.status_code == 200, response.text
        answers[version] = response.json()["permissionship"]
    assert answers == {
        None: "PERMISSIONSHIP_HAS_PERMISSION",  # the current version, 2
        1: "PERMISSIONSHIP_NO_PERMISSION",  # bob is banned under version 1
        2: "PERMISSIONSHIP_HAS_PERMISSION",
    }
    traced = await seeded.post("/v1/permissions/check", json={**_check(1), "withTracing": True}, headers=AUTH)
    assert traced.json()["debugTrace"]["schemaUsed"] == SCHEMA


@pytest.mark.parametrize("version", [3, 0, -1, 2**40])
async def test_an_unknown_pinned_version_is_404_never_a_fallback(seeded: Client, version: int) -> None:
    response = await seeded.post("/v1/permissions/check", json=_check(version), headers=AUTH)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")

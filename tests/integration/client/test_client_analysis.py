"""Least privilege and what-if replay through the sync and async clients (a live server)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from rebac.client import AsyncClient, Client, LeastPrivilegeReport, ProblemError, WhatIfReport
from rebac.refs import ObjectRef

pytest_plugins = ["client_fixtures"]
pytestmark = pytest.mark.integration


def _logged(client: Client, subject: str, count: int) -> None:
    """Wait (bounded) until ``count`` decisions of ``subject`` are in the log."""
    deadline = time.monotonic() + 10
    while len(list(client.decisions(subject=subject))) < count:
        if time.monotonic() > deadline:
            pytest.fail("the decisions were not logged")
        time.sleep(0.1)


def test_least_privilege_and_what_if(sdk: Client, uid: str) -> None:
    user = f"user:lp-{uid}"
    sdk.write_relationships([f"document:{uid}-a#viewer@{user}", f"document:{uid}-b#viewer@{user}"])
    assert sdk.decide(f"document:{uid}-a", "view", user).allowed
    _logged(sdk, user, 1)
    report = sdk.least_privilege(user, since="30d")
    assert isinstance(report, LeastPrivilegeReport)
    assert (report.held, report.used) == (2, 1)
    assert [(u.resource, u.permission) for u in report.unused] == [
        (ObjectRef("document", f"{uid}-b"), "view")
    ]
    assert report.removable == (f"document:{uid}-b#viewer@{user}",)
    assert report.message == f"{user} holds 2 permissions, used 1 in the last 30 days"
    assert report.read_at
    replay = sdk.what_if(relationships=f"delete document:{uid}-a#viewer@{user}\n", since=timedelta(hours=1))
    assert isinstance(replay, WhatIfReport)
    mine = [f for f in replay.flips if f.subject == user]
    assert [(f.resource, f.old, f.new, f.kind) for f in mine] == [
        (f"document:{uid}-a", "allowed", "denied", "revoked")
    ]
    assert user in replay.subjects_affected
    assert sdk.check(f"document:{uid}-a", "view", user).allowed  # the live store is unchanged
    with pytest.raises(ProblemError) as caught:
        sdk.what_if(relationships="document:x#viewer@@user:y\n")
    assert (caught.value.extensions["line"], caught.value.extensions["column"]) == (1, 19)
    with pytest.raises(ValueError, match="propose"):
        sdk.what_if()


async def test_async_least_privilege_and_what_if(asdk: AsyncClient, uid: str) -> None:
    user = f"user:alp-{uid}"
    await asdk.write_relationships([f"document:{uid}#viewer@{user}"])
    report = await asdk.least_privilege(user, since=timedelta(days=1))
    assert (report.held, report.used, report.since) == (1, 0, "1d")
    assert report.removable == (f"document:{uid}#viewer@{user}",)
    replay = await asdk.what_if(schema=None, relationships=f"document:{uid}-new#viewer@{user}\n", since="1h")
    assert replay.changes == 1
    assert not [f for f in replay.flips if f.subject == user]

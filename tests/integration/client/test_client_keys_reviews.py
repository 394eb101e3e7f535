"""The SDK against the key administration, one decision by id, and reviews by the key's subject.

``POST /v1/keys``, ``GET /v1/keys``, ``DELETE /v1/keys/{keyId}``, ``GET /v1/decisions/{decisionId}``
and ``POST /v1/reviews`` without a ``reviewer`` member (the server records the key's subject).
"""

from __future__ import annotations

import time

import pytest
from client_live import Live

from rebac.client import Client, Forbidden, NotFound, Unauthenticated

pytest_plugins = ["client_fixtures"]

pytestmark = pytest.mark.integration


def test_create_list_and_revoke_keys(sdk_live: Live, sdk: Client, uid: str) -> None:
    created = sdk.create_key(["check"], name=f"gateway-{uid}", subject=f"user:owner-{uid}")
    assert created.key.startswith(f"rbk_{created.key_id}_")
    assert (created.scopes, created.name, created.subject) == (
        ["check"],
        f"gateway-{uid}",
        f"user:owner-{uid}",
    )
    with Client(sdk_live.url, key=created.key) as scoped:
        assert scoped.decide("document:x", "view", "user:x").error is None
        with pytest.raises(Forbidden):
            scoped.write_relationships([f"document:{uid}#viewer@user:x"])
    listed = {k.key_id: k for k in sdk.list_keys()}
    assert listed[created.key_id].revoked_at is None
    assert listed[created.key_id].subject == f"user:owner-{uid}"
    revoked = sdk.revoke_key(created.key_id)
    assert revoked.key_id == created.key_id
    assert {k.key_id: k for k in sdk.list_keys()}[created.key_id].revoked_at is not None
    with pytest.raises(NotFound):
        sdk.revoke_key(created.key_id)
    deadline = time.monotonic() + 10
    with Client(sdk_live.url, key=created.key) as scoped:
        while True:
            try:
                scoped.check("document:x", "view", "user:x")
            except Unauthenticated:
                break
            assert time.monotonic() < deadline, "the revoked key is still accepted"
            time.sleep(0.2)
    plain = sdk.create_key(["write", "check"])
    assert plain.subject is None
    sdk.revoke_key(plain.key_id)


def test_one_decision_by_its_id(sdk: Client, uid: str) -> None:
    decision = sdk.decide(f"document:{uid}", "view", f"user:u-{uid}")
    assert decision.decision_id is not None
    deadline = time.monotonic() + 10
    while True:
        try:
            record = sdk.decision(decision.decision_id)
            break
        except NotFound:
            assert time.monotonic() < deadline, "the decision was never recorded"
            time.sleep(0.1)
    assert (record.decision_id, record.subject, record.result) == (
        decision.decision_id,
        f"user:u-{uid}",
        "denied",
    )
    assert record in list(sdk.decisions(subject=f"user:u-{uid}"))
    with pytest.raises(NotFound):
        sdk.decision("00000000-0000-7000-8000-000000000000")


def test_a_review_names_the_reviewing_key_subject(sdk_live: Live, sdk: Client, uid: str) -> None:
    agent = f"agent:a-{uid}"
    sdk.spawn_agent(agent, f"user:h-{uid}", [f"document:{uid}#viewer"])
    admin = sdk.create_key(["admin"], name="reviewer", subject=f"user:rev-{uid}")
    with Client(sdk_live.url, key=admin.key) as reviewer:
        review = reviewer.record_review(agent, note="quarterly")
    assert (review.subject, review.reviewer, review.note) == (agent, f"user:rev-{uid}", "quarterly")
    assert f"document:{uid}#viewer@{agent}" in {g.split("[")[0] for g in review.grants}
    assert [r.review_id for r in sdk.reviews(subject=agent)] == [review.review_id]
    [identity] = [i for i in sdk.identities(identity_type="agent") if i.subject == agent]
    assert identity.review.last_review is not None
    assert identity.review.last_review.review_id == review.review_id
    sdk.revoke_key(admin.key_id)

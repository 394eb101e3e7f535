"""The SDK against access requests (``/access/v1/requests``) on a live server, sync and async.

``agent:bot`` acts for ``user:alice``; bob owns ``document:plan`` and may approve
(``permission approve_access = owner``). Keys act for their subjects: the requester and the
approver are the keys' subjects, never an argument. Every refusal is the one error tree and
changes nothing (the requests and the relationships are read back).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from client_live import Live

from rebac.client import (
    AccessRequest,
    AsyncClient,
    Client,
    Conflict,
    Consistency,
    Evaluation,
    Forbidden,
    LimitExceeded,
    NotFound,
    RelationshipFilter,
)

pytest_plugins = ["client_fixtures"]

pytestmark = pytest.mark.integration

SCHEMA = """
use expiration

definition user {}

definition agent {
    relation principal: user
    acts_for principal
}

definition document {
    relation owner: user
    relation viewer: user | agent | agent with expiration
    permission view = viewer + owner
    permission approve_access = owner
}
"""
RELATIONSHIPS = [
    "agent:bot#principal@user:alice",
    "document:plan#owner@user:bob",
    "document:plan#viewer@user:alice",
    "document:memo#owner@user:bob",
    "document:memo#viewer@user:alice",
]
STRICT = Consistency.fully_consistent()


@pytest.fixture
def world(fresh_live: Live) -> Iterator[dict[str, Client]]:
    """The schema, the relationships, and a client per actor (admin, bot, alice, bob, mallory)."""
    admin = Client(fresh_live.url, key=fresh_live.key)
    admin.write_schema(SCHEMA)
    admin.write_relationships(RELATIONSHIPS)
    deadline = time.monotonic() + 15  # the server swaps its schema within its refresh interval
    while "evaluation_id" not in (_deny(admin).context or {}):
        assert time.monotonic() < deadline, "the new schema (approve_access) never took effect"
        time.sleep(0.2)
    clients = {"admin": admin}
    for name, subject in (("bot", "agent:bot"), ("bob", "user:bob"), ("mallory", "user:mallory")):
        key = admin.create_key(["check"], name=name, subject=subject).key
        clients[name] = Client(fresh_live.url, key=key)
    # Each server worker swaps its schema within the refresh interval on its own: wait until the
    # bot's own requests (which may reach another worker) see it too.
    while "evaluation_id" not in (_deny(clients["bot"]).context or {}):
        assert time.monotonic() < deadline, "the new schema (approve_access) never reached every worker"
        time.sleep(0.2)
    try:
        yield clients
    finally:
        for client in clients.values():
            client.close()


def _deny(client: Client) -> Evaluation:
    """The bot's evaluation on the plan (a requestable deny carries ``evaluation_id``)."""
    return client.evaluate("user:alice", "view", "document:plan", context={"agent": "bot"})


def _bot_may_view(admin: Client, doc: str) -> bool:
    return admin.check(f"document:{doc}", "view", "agent:bot", consistency=STRICT).allowed


def _viewers(admin: Client) -> list[str]:
    found = admin.read_relationships(
        RelationshipFilter(resource_type="document", relation="viewer"), consistency=STRICT
    )
    return sorted(str(r) for r in found)


def _ask(bot: Client, doc: str, **extra: object) -> AccessRequest:
    return bot.request_access(
        "agent:bot",
        "view",
        f"document:{doc}",
        via=["user:alice"],
        relation="viewer",
        justification=f"summarise the {doc}",
        **extra,  # type: ignore[arg-type]
    )


def test_request_approve_and_the_grant_expires(world: dict[str, Client]) -> None:
    admin, bot, bob = world["admin"], world["bot"], world["bob"]
    denied = _deny(bot)
    assert denied.decision is False
    evaluation_id = (denied.context or {})["evaluation_id"]

    until = datetime.now(UTC) + timedelta(seconds=6)  # long enough to outlive a loaded machine's asserts
    asked = _ask(bot, "plan", requested_until=until, evaluation_id=evaluation_id)
    assert asked.pending
    assert (asked.subject.type, asked.subject.id) == ("agent", "bot")
    assert [(e.type, e.id) for e in asked.chain] == [("user", "alice")]
    assert asked.requester == "agent:bot"
    assert asked.evaluation_id == evaluation_id
    assert asked.cancel_url is not None
    assert asked.cancel_url.endswith(f"/{asked.id}/cancel")
    assert abs(asked.requested_until - until) < timedelta(seconds=1)
    assert bot.access_request(asked.id).status == "pending"
    assert [r.id for r in bob.access_requests(status="pending")] == [asked.id]

    approved = bob.approve_access_request(asked.id, reason="ok")
    assert approved.status == "approved"
    assert approved.decided_by == "user:bob"
    assert approved.reason == "ok"
    assert approved.grant is not None
    assert approved.grant.revision > 0
    assert approved.grant.relation == "viewer"
    assert _bot_may_view(admin, "plan")
    # AuthZEN carries no token: its default read sees an acknowledged write within the bounded
    # staleness (100 ms), so poll with a bound instead of asserting the very next read.
    deadline = time.monotonic() + 3
    while not bot.evaluate("user:alice", "view", "document:plan", context={"agent": "bot"}).decision:
        assert time.monotonic() < deadline, "the approved grant never reached an AuthZEN evaluation"
        time.sleep(0.05)

    viewers = _viewers(admin)
    with pytest.raises(Conflict) as again:
        bob.approve_access_request(asked.id)
    assert again.value.status == 409
    assert bot.access_request(asked.id).decided_by == "user:bob"
    assert _viewers(admin) == viewers

    deadline = time.monotonic() + 15  # the grant expires: a bounded poll, no timing asserted
    while _bot_may_view(admin, "plan"):
        assert time.monotonic() < deadline, "the grant did not expire"
        time.sleep(0.2)
    assert bot.evaluate("user:alice", "view", "document:plan", context={"agent": "bot"}).decision is False

    sources: set[str] = set()  # every step is in the decision log (the recorder writes in batches)
    deadline = time.monotonic() + 15
    while not {"access_request", "access_request.created", "access_request.approved"} <= sources:
        assert time.monotonic() < deadline, sources
        time.sleep(0.2)
        sources = {d.source for d in admin.decisions(subject="agent:bot")}
    steps = {d.source: d for d in admin.decisions(subject="agent:bot")}
    assert steps["access_request.approved"].result == "allowed"
    assert steps["access_request.approved"].revision == approved.grant.revision
    assert (steps["access_request.approved"].context or {})["access_request"]["actor"] == "user:bob"


def test_refusals_change_nothing(world: dict[str, Client]) -> None:
    admin, bot, bob, mallory = world["admin"], world["bot"], world["bob"], world["mallory"]
    pending = _ask(bot, "memo")
    viewers = _viewers(admin)

    with pytest.raises(NotFound):
        bob.approve_access_request("ar_unknown")
    with pytest.raises(NotFound):
        bot.access_request("ar_unknown")
    with pytest.raises(LimitExceeded) as too_long:
        _ask(bot, "plan", duration=timedelta(days=30))
    assert too_long.value.extensions["limit"] == "MAX_GRANT_SECONDS"
    with pytest.raises(Forbidden):  # neither the subject nor one of its principals
        mallory.request_access("agent:bot", "view", "document:plan", via=["user:alice"], relation="viewer")
    with pytest.raises(Forbidden):  # mallory holds no approve_access on the memo
        mallory.approve_access_request(pending.id)
    with pytest.raises(Forbidden):  # the requester cannot approve her own request
        bot.approve_access_request(pending.id)
    with pytest.raises(ValueError, match="not both"):  # refused before anything is sent
        _ask(bot, "plan", duration=60, requested_until=datetime.now(UTC) + timedelta(minutes=1))

    every = list(admin.access_requests())
    assert [(r.id, r.status) for r in every] == [(pending.id, "pending")]
    assert _viewers(admin) == viewers
    assert not _bot_may_view(admin, "memo")

    denied = bob.deny_access_request(pending.id, reason="not now")
    assert (denied.status, denied.decided_by, denied.grant) == ("denied", "user:bob", None)
    with pytest.raises(Conflict):
        bot.cancel_access_request(pending.id)
    assert not _bot_may_view(admin, "memo")
    assert _viewers(admin) == viewers


def test_the_list_follows_every_page(world: dict[str, Client]) -> None:
    bot, admin = world["bot"], world["admin"]
    made = {_ask(bot, "memo").id for _ in range(101)}  # the server's page holds 100
    pages = admin.access_requests(status="pending")
    assert {r.id for r in pages} == made
    assert pages.pages == 2


async def test_async_client_create_cancel_deny(fresh_live: Live, world: dict[str, Client]) -> None:
    admin = world["admin"]
    bot_key = admin.create_key(["check"], subject="agent:bot").key
    bob_key = admin.create_key(["check"], subject="user:bob").key
    async with (
        AsyncClient(fresh_live.url, key=bot_key) as bot,
        AsyncClient(fresh_live.url, key=bob_key) as bob,
    ):
        first = await bot.request_access(
            "agent:bot", "view", "document:plan", via=["user:alice"], relation="viewer", duration=60
        )
        second = await bot.request_access(
            "agent:bot", "view", "document:memo", via=["user:alice"], relation="viewer", duration=60
        )
        assert [r.id async for r in bob.access_requests(status="pending")] == [second.id, first.id]
        cancelled = await bot.cancel_access_request(first.id)
        assert (cancelled.status, cancelled.decided_by) == ("cancelled", "agent:bot")
        with pytest.raises(Conflict):
            await bob.approve_access_request(first.id)
        assert (await bob.deny_access_request(second.id)).status == "denied"
        assert (await bot.access_request(second.id)).status == "denied"
    assert not _bot_may_view(admin, "plan")
    assert not _bot_may_view(admin, "memo")

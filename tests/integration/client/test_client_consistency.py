"""Read-your-writes against a real server: which token the client sends, and the new-enemy case.

:class:`client_live.Spy` is a real HTTP transport that records each request, so these tests see
both what the client sent and what the live server answered.
"""

from __future__ import annotations

import pytest
from client_live import Live, Spy

from rebac.client import AUTHZEN_TOKEN_HEADER, AsyncClient, Client, Consistency, RelationshipFilter, Update
from rebac.opaque import decode, encode

pytest_plugins = ["client_fixtures"]
pytestmark = pytest.mark.integration


def _revision(token: str) -> int:
    return int(decode(token, "token")["r"])


def _consistency(spy: Spy, path: str) -> object:
    bodies = [body for _, sent_path, body, _ in spy.sent if sent_path == path]
    return bodies[-1].get("consistency")


def test_reads_carry_the_newest_token_written_or_received(sdk_live: Live, uid: str) -> None:
    spy = Spy()
    with Client(sdk_live.url, key=sdk_live.key, transport=spy) as client:
        assert client.token is None
        client.check(f"document:{uid}", "view", f"user:a-{uid}")
        assert _consistency(spy, "/v1/permissions/check") is None
        received = client.token
        assert received is not None
        first = client.write_relationships([f"document:{uid}#viewer@user:a-{uid}"])
        assert client.token == first
        assert client.allowed(f"document:{uid}", "view", f"user:a-{uid}")
        assert _consistency(spy, "/v1/permissions/check") == {"atLeastAsFresh": {"token": first}}
        second = client.write_relationships([f"document:{uid}#viewer@user:b-{uid}"])
        list(client.lookup_resources("document", "view", f"user:b-{uid}"))
        assert _consistency(spy, "/v1/permissions/resources") == {"atLeastAsFresh": {"token": second}}
        list(client.read_relationships(RelationshipFilter(resource_type="document", resource_id=uid)))
        assert _consistency(spy, "/v1/relationships/read") == {"atLeastAsFresh": {"token": second}}
        assert client.evaluate(f"user:b-{uid}", "view", f"document:{uid}").decision
        assert spy.sent[-1][3][AUTHZEN_TOKEN_HEADER] == second
        # an older token received later does not replace the newer one
        stale = client.check(
            f"document:{uid}", "view", f"user:b-{uid}", consistency=Consistency.minimize_latency()
        )
        assert _consistency(spy, "/v1/permissions/check") == {"minimizeLatency": True}
        assert client.token is not None
        assert _revision(client.token) == max(_revision(second), _revision(stale.checked_at))


def test_explicit_consistency_overrides_and_the_feature_can_be_turned_off(sdk_live: Live, uid: str) -> None:
    spy = Spy()
    with Client(sdk_live.url, key=sdk_live.key, transport=spy, read_your_writes=False) as client:
        token = client.write_relationships([f"document:{uid}#viewer@user:a-{uid}"])
        client.check(f"document:{uid}", "view", f"user:a-{uid}")
        assert _consistency(spy, "/v1/permissions/check") is None
        client.evaluate(f"user:a-{uid}", "view", f"document:{uid}")
        assert AUTHZEN_TOKEN_HEADER not in spy.sent[-1][3]
        assert client.token == token
        assert client.allowed(
            f"document:{uid}", "view", f"user:a-{uid}", consistency=Consistency.at_least_as_fresh(token)
        )
        client.read_your_writes = True
        client.check(f"document:{uid}", "view", f"user:a-{uid}", consistency=Consistency.fully_consistent())
        assert _consistency(spy, "/v1/permissions/check") == {"fullyConsistent": True}
        client.reset_consistency()
        assert client.token is None


def test_a_revocation_is_seen_by_the_next_check(sdk: Client, uid: str) -> None:
    rel = f"document:{uid}#viewer@user:enemy-{uid}"
    for _ in range(5):
        sdk.write_relationships([rel])
        assert sdk.allowed(f"document:{uid}", "view", f"user:enemy-{uid}")
        sdk.write_relationships([Update.delete(rel)])
        assert not sdk.allowed(f"document:{uid}", "view", f"user:enemy-{uid}")
        assert not sdk.evaluate(f"user:enemy-{uid}", "view", f"document:{uid}").decision


def test_a_refused_token_is_forgotten_and_the_read_made_fully_consistent(sdk_live: Live, uid: str) -> None:
    spy = Spy()
    foreign = encode({"v": 1, "r": 10**9, "s": "another-store"})
    with Client(sdk_live.url, key=sdk_live.key, transport=spy) as client:
        client.write_relationships([f"document:{uid}#viewer@user:a-{uid}"])
        client._core.tokens.observe(foreign)
        assert client.token == foreign
        assert client.allowed(f"document:{uid}", "view", f"user:a-{uid}")
        checks = [body for _, path, body, _ in spy.sent if path == "/v1/permissions/check"]
        assert [c.get("consistency") for c in checks] == [
            {"atLeastAsFresh": {"token": foreign}},
            {"fullyConsistent": True},
        ]
        assert client.token != foreign
        client._core.tokens.observe(foreign)
        flt = RelationshipFilter(resource_type="document", resource_id=uid)
        assert len(list(client.export_relationships(flt))) == 1
        exports = [body for _, path, body, _ in spy.sent if path == "/v1/relationships/exportbulk"]
        assert [e.get("consistency") for e in exports] == [
            {"atLeastAsFresh": {"token": foreign}},
            {"fullyConsistent": True},
        ]
        assert client.token != foreign


async def test_async_client_reads_its_writes(sdk_live: Live, uid: str) -> None:
    async with AsyncClient(sdk_live.url, key=sdk_live.key) as client:
        for i in range(3):
            rel = f"document:{uid}-{i}#viewer@user:a-{uid}"
            token = await client.write_relationships([rel])
            assert client.token == token
            assert await client.allowed(f"document:{uid}-{i}", "view", f"user:a-{uid}")
            assert (await client.evaluate(f"user:a-{uid}", "view", f"document:{uid}-{i}")).decision
            await client.write_relationships([Update.delete(rel)])
            assert not await client.allowed(f"document:{uid}-{i}", "view", f"user:a-{uid}")

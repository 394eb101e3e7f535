"""Outages, timeouts and 503s on real sockets: the client fails closed and retries only what is safe.

- A real ``rebac serve`` is frozen (SIGSTOP) while a check is in flight and then killed (SIGKILL):
  the connection breaks mid-call, and the port refuses afterwards.
- A lookup iteration loses its server between two pages: the iterator raises, never truncates.
- A loopback socket that accepts and never answers: a timeout, not retried.
- A loopback socket that accepts, reads and resets: reads are retried, writes are not.
- A proxy in front of the live server answers scripted 503 problems first.
"""

from __future__ import annotations

import threading
import time

import pytest
from client_live import FaultProxy, HangingServer, Live, ResettingServer, free_port

from rebac.client import (
    DEFAULT_RETRY,
    AsyncClient,
    Client,
    ConnectError,
    ConnectionLost,
    Consistency,
    Decision,
    Reason,
    Retry,
    Timeout,
    Unavailable,
    Update,
)

pytest_plugins = ["client_fixtures"]
pytestmark = pytest.mark.integration

FAST = Retry(attempts=3, backoff=0.01, max_backoff=0.05)


def test_server_killed_while_a_check_is_in_flight_is_a_deny_naming_the_outage(doomed: Live) -> None:
    with Client(doomed.url, key=doomed.key, retry=Retry(attempts=1)) as client:
        client.write_relationships(["document:d#viewer@user:alice"])
        assert client.allowed("document:d", "view", "user:alice")
        doomed.freeze()
        decided: list[Decision] = []
        call = threading.Thread(
            target=lambda: decided.append(client.decide("document:d", "view", "user:alice"))
        )
        call.start()
        time.sleep(0.5)
        assert call.is_alive(), "the check must be in flight when the server dies"
        doomed.kill()
        call.join(timeout=10)
    [decision] = decided
    assert decision.allowed is False
    assert decision.reason is Reason.OUTAGE
    assert isinstance(decision.error, ConnectionLost)
    assert "connection" in decision.detail
    with Client(doomed.url, key=doomed.key, retry=FAST) as client:
        started = time.monotonic()
        after = client.decide("document:d", "view", "user:alice")
        assert time.monotonic() - started < 5
    assert (after.allowed, after.reason) == (False, Reason.OUTAGE)
    assert isinstance(after.error, ConnectError)
    assert after.error.attempts == FAST.attempts


def test_lookup_iteration_raises_when_the_server_dies_between_pages(doomed: Live) -> None:
    with Client(doomed.url, key=doomed.key, retry=FAST) as client:
        client.write_relationships([f"document:d{i}#viewer@user:alice" for i in range(6)])
        pages = client.lookup_resources("document", "view", "user:alice", page_size=2)
        first = next(pages)
        resume = pages.cursor
        assert resume is not None
        doomed.kill()
        second = next(pages)
        with pytest.raises(ConnectError) as lost:
            next(pages)
    assert {first.resource.id, second.resource.id} <= {f"d{i}" for i in range(6)}
    assert lost.value.attempts == FAST.attempts
    assert not pages.done
    assert pages.cursor == resume


def test_a_server_that_never_answers_times_out_and_is_not_retried() -> None:
    with HangingServer() as hanging, Client(hanging.url, key="k", timeout=0.5) as client:
        started = time.monotonic()
        decision = client.decide("document:d", "view", "user:alice")
        elapsed = time.monotonic() - started
        with pytest.raises(Timeout) as timed_out:
            client.check("document:d", "view", "user:alice", timeout=0.2)
        assert isinstance(timed_out.value, TimeoutError)
    assert (decision.allowed, decision.reason) == (False, Reason.TIMEOUT)
    assert 0.4 < elapsed < 2.0
    assert hanging.connections == 2


def test_a_port_that_accepts_and_resets_retries_reads_but_not_writes() -> None:
    with ResettingServer() as resetting, Client(resetting.url, key="k", retry=FAST) as client:
        decision = client.decide("document:d", "view", "user:alice")
        assert (decision.allowed, decision.reason) == (False, Reason.OUTAGE)
        assert isinstance(decision.error, ConnectionLost)
        assert decision.error.attempts == FAST.attempts
        assert resetting.connections == FAST.attempts
        with pytest.raises(ConnectionLost) as write:
            client.write_relationships(["document:d#viewer@user:alice"])
        assert write.value.attempts == 1
        assert resetting.connections == FAST.attempts + 1


def test_nothing_listening_is_an_outage_after_bounded_retries() -> None:
    with Client(f"http://127.0.0.1:{free_port()}", key="k", retry=FAST) as client:
        decision = client.decide("document:d", "view", "user:alice")
        with pytest.raises(ConnectError) as refused:
            client.write_relationships(["document:d#viewer@user:alice"])
    assert (decision.allowed, decision.reason) == (False, Reason.OUTAGE)
    assert isinstance(decision.error, ConnectionError)
    # nothing was sent, so a write may be retried too
    assert refused.value.attempts == FAST.attempts


def test_reads_are_retried_through_503s(sdk_live: Live, uid: str) -> None:
    with Client(sdk_live.url, key=sdk_live.key) as direct:
        token = direct.write_relationships([f"document:{uid}#viewer@user:r-{uid}"])
    script = ["store-unavailable", "store-unavailable"]
    with FaultProxy(upstream=sdk_live.url, script=script) as proxy:
        with Client(proxy.url, key=sdk_live.key, retry=FAST) as client:
            fresh = Consistency.at_least_as_fresh(token)
            result = client.check(f"document:{uid}", "view", f"user:r-{uid}", consistency=fresh)
        assert result.allowed
        assert proxy.requests == ["POST /v1/permissions/check"] * 3
    with FaultProxy(upstream=sdk_live.url, script=["store-unavailable"] * 3) as proxy:
        with Client(proxy.url, key=sdk_live.key, retry=FAST) as client:
            decision = client.decide(f"document:{uid}", "view", f"user:r-{uid}")
        assert (decision.allowed, decision.reason) == (False, Reason.OUTAGE)
        assert isinstance(decision.error, Unavailable)
        assert decision.error.status == 503
        assert decision.error.attempts == 3
    with FaultProxy(upstream=sdk_live.url, script=["deadline-exceeded"]) as proxy:
        with Client(proxy.url, key=sdk_live.key, retry=Retry(attempts=1)) as client:
            decision = client.decide(f"document:{uid}", "view", f"user:r-{uid}")
        assert (decision.allowed, decision.reason) == (False, Reason.TIMEOUT)


def test_writes_are_retried_only_when_the_server_rolled_back(sdk_live: Live, uid: str) -> None:
    with FaultProxy(upstream=sdk_live.url, script=["store-unavailable"]) as proxy:
        with Client(proxy.url, key=sdk_live.key, retry=FAST) as client, pytest.raises(Unavailable) as refused:
            client.write_relationships([Update.create(f"document:{uid}#viewer@user:a-{uid}")])
        assert refused.value.attempts == 1
        assert proxy.requests == ["POST /v1/relationships/write"]
    with FaultProxy(upstream=sdk_live.url, script=["serialization-failure"]) as proxy:
        with Client(proxy.url, key=sdk_live.key, retry=FAST) as client:
            token = client.write_relationships([Update.create(f"document:{uid}#viewer@user:b-{uid}")])
            assert client.allowed(f"document:{uid}", "view", f"user:b-{uid}")
        assert token
        assert proxy.requests[:2] == ["POST /v1/relationships/write"] * 2


async def test_async_client_fails_closed_too() -> None:
    with HangingServer() as hanging:
        async with AsyncClient(hanging.url, key="k", timeout=0.3) as client:
            decision = await client.decide("document:d", "view", "user:alice")
            assert (decision.allowed, decision.reason) == (False, Reason.TIMEOUT)
    async with AsyncClient(f"http://127.0.0.1:{free_port()}", key="k", retry=FAST) as client:
        assert not await client.allowed("document:d", "view", "user:alice")
        decision = await client.decide("document:d", "view", "user:alice")
        assert decision.reason is Reason.OUTAGE
        assert isinstance(decision.error, ConnectError)
        assert decision.error.attempts == FAST.attempts
    assert DEFAULT_RETRY.attempts == 3

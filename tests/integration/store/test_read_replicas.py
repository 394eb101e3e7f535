"""Read replicas (issue 17) against a real streaming replica that the test starts.

``replica_cluster`` runs a primary and a hot standby of the test's own. Lag is made with
``pg_wal_replay_pause()`` on the standby; while it is paused every write is followed at once by a
read at its token, and that read must see the write (it went to the primary, or waited for the
replica), never the standby's older snapshot. After ``pg_wal_replay_resume()`` reads go to the
replica again. Replicas that cannot be reached, or hold another store, are skipped: the primary
answers, and nothing is an error.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from replica_cluster import Cluster, replica_cluster

from rebac.api.app import create_app
from rebac.config import Settings
from rebac.refs import parse_relationship
from rebac.store.base import Operation, RelationshipFilter, RelationshipUpdate
from rebac.store.postgres import IndexSettings, PostgresTupleStore, ReplicaSettings
from rebac.store.postgres._replicas import ReplicaRouter
from rebac.store.revision import Revision

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with replica_cluster() as running:
        yield running


def _doc() -> str:
    return f"doc{uuid.uuid4().hex[:10]}"


async def _touch(store: PostgresTupleStore, *texts: str) -> Revision:
    result = await store.write([RelationshipUpdate(Operation.TOUCH, parse_relationship(t)) for t in texts])
    return result.revision


async def _delete(store: PostgresTupleStore, text: str) -> Revision:
    result = await store.write([RelationshipUpdate(Operation.DELETE, parse_relationship(text))])
    return result.revision


async def _viewers(store: PostgresTupleStore, doc: str, revision: Revision) -> list[str]:
    flt = RelationshipFilter(resource_type="document", resource_ids=(doc,))
    return [str(rel.subject) async for rel in store.query(flt, revision=revision)]


def _router(store: PostgresTupleStore) -> ReplicaRouter:
    router = store.replicas
    assert router is not None
    return router


def _counts(store: PostgresTupleStore) -> dict[tuple[str, str], int]:
    return _router(store).stats()


def _served(store: PostgresTupleStore) -> int:
    return sum(count for (where, outcome), count in _counts(store).items() if outcome == "served")


def _primary(store: PostgresTupleStore) -> int:
    return _counts(store)["primary", "fallback"]


async def _until(done: Callable[[], Awaitable[bool]], what: str, seconds: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await done():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


async def _served_by_replica(store: PostgresTupleStore, doc: str, revision: Revision) -> list[str]:
    """Read until the replica (not the primary) answers a read at ``revision``; its answer."""
    answer: list[str] = []

    async def replica_answered() -> bool:
        nonlocal answer
        before = _served(store)
        answer = await _viewers(store, doc, revision)
        return _served(store) == before + 1

    await _until(replica_answered, f"the replica serves reads at revision {revision}")
    return answer


@pytest.fixture
async def store(cluster: Cluster) -> AsyncIterator[PostgresTupleStore]:
    opened = await PostgresTupleStore.connect(
        cluster.primary_url, quantization_seconds=0, replicas=ReplicaSettings((cluster.standby_url,))
    )
    try:
        yield opened
    finally:
        cluster.resume_replay()  # a failed test must not leave the next one a paused standby
        await opened.close()


async def test_reads_at_a_token_never_see_an_older_snapshot(
    cluster: Cluster, store: PostgresTupleStore
) -> None:
    doc = _doc()
    first = await _touch(store, f"document:{doc}#viewer@user:ann")
    assert await _served_by_replica(store, doc, first) == ["user:ann"]

    cluster.pause_replay()
    # Every write is read back at once at its revision, 20 times over, while the replica is
    # stuck at `first`: each read must show that write, so none went to the replica's snapshot.
    expected = ["user:ann"]
    primary_before = _primary(store)
    for n in range(20):
        if n % 3 == 2:
            revision = await _delete(store, f"document:{doc}#viewer@{expected.pop(0)}")
        else:
            user = f"user:u{n:02d}"
            revision = await _touch(store, f"document:{doc}#viewer@{user}")
            expected = sorted([*expected, user])
        assert await _viewers(store, doc, revision) == expected, f"read {n} at revision {revision}"
    assert _primary(store) >= primary_before + 20  # each of them was the primary's
    # A read at a revision the replica has replayed still goes there, and sees that snapshot.
    assert await _served_by_replica(store, doc, first) == ["user:ann"]

    # Even when the router believes the replica is current (a reader endpoint that switched to
    # a lagging server looks just like this), the head read in the same statement sends the
    # read to the primary.
    replica = _router(store)._replicas[0]
    replica.head = 10**12
    behind_before = _counts(store)[replica.where, "behind"]
    assert await _viewers(store, doc, revision) == expected
    assert _counts(store)[replica.where, "behind"] == behind_before + 1

    cluster.resume_replay()
    assert await _served_by_replica(store, doc, revision) == expected
    assert _router(store).report()[0]["state"] == "up"


async def test_a_read_waits_within_its_bound_for_the_replica(cluster: Cluster) -> None:
    settings = ReplicaSettings((cluster.standby_url,), wait_seconds=60.0)
    store = await PostgresTupleStore.connect(cluster.primary_url, quantization_seconds=0, replicas=settings)
    try:
        doc = _doc()
        first = await _touch(store, f"document:{doc}#viewer@user:ann")
        await _served_by_replica(store, doc, first)
        cluster.pause_replay()
        revision = await _touch(store, f"document:{doc}#viewer@user:bob")
        primary_before, served_before = _primary(store), _served(store)
        read = asyncio.create_task(_viewers(store, doc, revision))
        behind = _router(store)._replicas[0]

        async def probed_behind() -> bool:
            return 0 <= behind.head < revision.value and not read.done()

        await _until(probed_behind, "the waiting read has probed the paused replica")
        cluster.resume_replay()
        assert await asyncio.wait_for(read, 60) == ["user:ann", "user:bob"]
        assert _served(store) == served_before + 1  # the replica answered once it had replayed
        assert _primary(store) == primary_before
    finally:
        cluster.resume_replay()
        await store.close()


async def _skipped(cluster: Cluster, url: str, state: str) -> PostgresTupleStore:
    """A store whose one replica is ``url``, once that replica is in ``state``; a read there is
    the primary's and right."""
    settings = ReplicaSettings((url,), retry_seconds=60.0)
    store = await PostgresTupleStore.connect(cluster.primary_url, quantization_seconds=0, replicas=settings)
    doc = _doc()
    revision = await _touch(store, f"document:{doc}#viewer@user:ann")

    async def reached() -> bool:
        return _router(store).report()[0]["state"] == state

    try:
        await _until(reached, f"the replica is marked {state}")
        assert await _viewers(store, doc, revision) == ["user:ann"]
    except BaseException:
        await store.close()
        raise
    return store


async def test_an_unreachable_replica_is_skipped_and_counted(cluster: Cluster) -> None:
    port = cluster.standby.port + 1000  # nothing of the test listens there
    store = await _skipped(cluster, f"postgresql://postgres@127.0.0.1:{port}/rebac", "failed")
    try:
        router = _router(store)
        assert router.stats()[f"127.0.0.1:{port}/rebac", "failed"] >= 1
        assert router.up() == {f"127.0.0.1:{port}/rebac": False}
        assert _served(store) == 0
    finally:
        await store.close()


async def test_a_replica_of_another_store_never_answers(cluster: Cluster, pg_url: str) -> None:
    # The suite's own database is a migrated store with another store id: reads there would be
    # another store's relationships. It is recognised as foreign and never read.
    store = await _skipped(cluster, pg_url, "foreign")
    try:
        assert _served(store) == 0
        assert _primary(store) >= 1
    finally:
        await store.close()


async def test_the_index_loads_its_snapshot_from_the_replica(
    cluster: Cluster, store: PostgresTupleStore
) -> None:
    doc = _doc()
    replayed = await _touch(store, f"document:{doc}#viewer@user:ann")
    await _served_by_replica(store, doc, replayed)
    cluster.pause_replay()
    head = await _touch(store, f"document:{doc}#viewer@user:bob")
    indexed = await PostgresTupleStore.connect(
        cluster.primary_url,
        quantization_seconds=0,
        index=IndexSettings(wait_seconds=10.0),
        replicas=ReplicaSettings((cluster.standby_url,)),
    )
    try:
        assert await indexed.wait_index_loaded(timeout=30)
        status = indexed.index_status()
        assert status is not None
        assert replayed.value <= status.floor < head.value  # the replica's (paused) snapshot
        # The index follows the primary's change log from there: a read at the head is right.
        assert await _viewers(indexed, doc, head) == ["user:ann", "user:bob"]
    finally:
        cluster.resume_replay()
        await indexed.close()


async def test_readyz_and_metrics_show_the_replicas(cluster: Cluster, store: PostgresTupleStore) -> None:
    doc = _doc()
    revision = await _touch(store, f"document:{doc}#viewer@user:ann")
    await _served_by_replica(store, doc, revision)
    base = Settings()
    settings = replace(base, api=replace(base.api, metrics="public"))
    app = create_app(settings, store=store, schema_refresh_seconds=0)
    async with AsyncTestClient(app) as client:
        ready: Any = (await client.get("/readyz")).json()
        assert ready["status"] == "ready"
        assert [(r["replica"], r["state"]) for r in ready["replicas"]] == [
            (f"127.0.0.1:{cluster.standby.port}/rebac", "up")
        ]
        text = (await client.get("/metrics")).text
        where = f"127.0.0.1:{cluster.standby.port}/rebac"
        assert f'rebac_replica_up{{replica="{where}"}} 1.0' in text
        served = [line for line in text.splitlines() if line.startswith("rebac_replica_reads_total")]
        assert any(f'replica="{where}"' in line and 'outcome="served"' in line for line in served)
        assert "rebac_replica_primary_reads_total" in text

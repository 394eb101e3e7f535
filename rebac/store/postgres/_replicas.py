"""Read replicas: reads at a revision go to a streaming replica that has replayed that revision.

**How a replica proves it has replayed revision r.** Revision order is commit order (see
:mod:`rebac.store.postgres.store`): revision *r* is assigned only after *r - 1* has committed, so
the commit record of *r* follows those of every earlier revision in the WAL. A hot standby replays
the WAL in order and makes a transaction visible when it replays its commit record. So a replica
whose ``revision`` table holds a row ``>= r`` has replayed every commit up to *r*, and its rows at
*r* are the primary's rows at *r*.

Every replica read is **one statement** that reads the replica's head (``max(revision.value)``,
counted only when ``store_meta`` names this store) in the same snapshot as the rows it returns,
and its rows are used only when that head is ``>= r`` (:data:`_GUARD`). The proof therefore
holds for the very snapshot that answered, whichever server the connection reached: a cloud
"reader endpoint" balancing connections over replicas of different lag, or a pooler, cannot make
a read see an older snapshot. A replica that has not replayed *r*, answers with an error or cannot
be reached is never an error for the caller: the primary answers instead (and the primary's
failure is the caller's error, so nothing fails open).

**Routing.** The router keeps, per replica, the newest head it has seen (a hint used only to
choose; the guard decides). A read at *r* goes, round-robin, to a replica whose hint is ``>= r``;
with none, it goes to the primary at once (or, with ``wait_seconds``, first waits that long for
a replica to reach *r*) and a background probe (at most one per replica in flight, a few per
second) refreshes the hints, so reads return to the replicas as soon as they catch up. A
replica that fails is skipped for ``retry_seconds``, then probed in the background before reads
use it again. Counters (per replica: ``served``, ``behind``, ``failed``; reads sent to the
primary) feed ``/metrics``; states feed ``/readyz``.

Writes, heads, revisions resolution, the change log, the schema and every admin role use the
primary: only ``query``'s database reads (index misses, or every read without the index) and
the index's snapshot load come here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from rebac.store.postgres._fast import FastReads
from rebac.store.postgres.probe import check_url, where

__all__ = ["STORE_HEAD_SQL", "ReplicaRouter", "ReplicaSettings", "ReplicaState", "replica_conninfo"]

logger = logging.getLogger(__name__)

STORE_HEAD_SQL: Final = (
    "SELECT max(value) AS head FROM revision WHERE EXISTS "
    "(SELECT 1 FROM store_meta WHERE id = 1 AND store_id = CAST(%(rebac_store)s AS uuid))"
)
"""The replica's head, or NULL when its database is not this store (another store, a reset)."""

_GUARD: Final = (
    "WITH rebac_head AS ({head}) "
    "SELECT q.*, rebac_head.head FROM rebac_head LEFT JOIN ({sql}) AS q "
    "ON rebac_head.head >= %(at_rev)s ORDER BY 1, 2, 3, 4, 5, 6"
)
"""A relationship read with the replica's head in the same snapshot: one row per relationship
(the head last), or one all-NULL row with the head when there are none or the head is behind.
``{head}`` is :data:`STORE_HEAD_SQL`, ``{sql}`` one of ``ReadStatements``' compiled statements."""

_CONNECTION_WAIT_SECONDS: Final = 1.0
"""How long a replica read waits for a pooled connection before the primary serves it."""
_PROBE_INTERVAL_SECONDS: Final = 0.01
"""Least time between two hint refreshes of one replica that is up."""
_WAIT_STEP_SECONDS: Final = 0.005


def replica_conninfo(url: str) -> tuple[str, str]:
    """``(libpq conninfo, where)`` of a replica URL (``where``: host:port/database, no secrets).

    Raises:
        InvalidInputError: not a PostgreSQL URL.
    """
    parsed = check_url(url, setting="REBAC_READ_REPLICA_URLS")
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return conninfo, where(parsed)


@dataclass(frozen=True, slots=True)
class ReplicaSettings:
    """Read replicas of the store's primary.

    Attributes:
        urls: PostgreSQL URLs of streaming replicas (``REBAC_READ_REPLICA_URLS``).
        wait_seconds: How long a read at a revision no replica has replayed waits for one before
            the primary serves it (``REBAC_READ_REPLICA_WAIT_SECONDS``; ``0``: at once).
        retry_seconds: How long a failed replica is skipped before it is probed again.
    """

    urls: tuple[str, ...]
    wait_seconds: float = 0.0
    retry_seconds: float = 1.0


class ReplicaState(StrEnum):
    """Where a replica stands."""

    UNKNOWN = "unknown"
    """Not probed yet: no read goes to it."""
    UP = "up"
    FAILED = "failed"
    """It answered with an error or could not be reached: skipped until a probe succeeds."""
    FOREIGN = "foreign"
    """Its database does not hold this store: skipped until a probe finds this store there."""


class _Replica:
    """One replica: its pool, routing hint, state and counters."""

    def __init__(self, conninfo: str, where_: str, number: int, pool_size: int) -> None:
        self.conninfo = conninfo
        self.where = where_
        self.reads = FastReads(
            conninfo, max_size=pool_size, timeout=_CONNECTION_WAIT_SECONDS, name=f"rebac-replica-{number}"
        )
        self.head = -1
        self.state = ReplicaState.UNKNOWN
        self.reason: str | None = "not probed yet"
        self.since = datetime.now(UTC)
        self.next_probe = 0.0
        self.probing: asyncio.Task[None] | None = None
        self.counts = {"served": 0, "behind": 0, "failed": 0}

    def set_state(self, state: ReplicaState, reason: str | None) -> None:
        if state is not self.state:
            self.since = datetime.now(UTC)
            if state is not ReplicaState.UP:
                logger.warning("read replica %s is %s: %s", self.where, state.value, reason)
            else:
                logger.info("read replica %s is up", self.where)
        self.state, self.reason = state, reason


class ReplicaRouter:
    """Sends reads at a revision to replicas that have replayed it (see the module docstring).

    Args:
        settings: The replicas and how reads wait for them.
        store_id: The primary's store id (a replica's database must hold the same store).
        pool_size: Connections per replica.
    """

    def __init__(self, settings: ReplicaSettings, *, store_id: str, pool_size: int) -> None:
        self._store_id = store_id
        self._wait = max(0.0, settings.wait_seconds)
        self._retry = max(0.0, settings.retry_seconds)
        self._replicas = [
            _Replica(*replica_conninfo(url), number, pool_size) for number, url in enumerate(settings.urls)
        ]
        self._guarded: dict[str, str] = {}
        self._turn = 0
        self.primary_reads = 0
        """Reads sent to the primary because no replica had (or could show it had) the revision."""

    async def open(self) -> None:
        """Open every replica's pool (connections are made in the background) and probe each."""
        for replica in self._replicas:
            await replica.reads.open()
            self._probe_later(replica)

    async def close(self) -> None:
        """Stop the probes and close every replica connection."""
        for replica in self._replicas:
            if replica.probing is not None:
                replica.probing.cancel()
        for replica in self._replicas:
            if replica.probing is not None:
                await asyncio.gather(replica.probing, return_exceptions=True)
            await replica.reads.close()

    # --- reads -------------------------------------------------------------------------------------

    async def fetch(self, sql: str, params: dict[str, Any], revision: int) -> list[tuple[Any, ...]] | None:
        """The rows of the relationship read ``sql`` at ``revision`` from a replica that has it.

        ``None`` when no replica could answer (none has replayed ``revision`` within the wait, or
        the one asked failed or turned out behind): the caller reads the primary.
        """
        replica = self._pick(revision)
        if replica is None and self._wait > 0:
            replica = await self._wait_for(revision)
        if replica is None:
            self.primary_reads += 1
            return None
        guarded = self._guarded.get(sql)
        if guarded is None:
            guarded = self._guarded[sql] = _GUARD.format(head=STORE_HEAD_SQL, sql=sql)
        try:
            rows = await replica.reads.fetch(guarded, {**params, "rebac_store": self._store_id})
        except Exception as exc:  # noqa: BLE001 - any failure of a replica: the primary answers instead
            self._failed(replica, exc)
            self.primary_reads += 1
            return None
        head = rows[0][-1]
        if head is None or int(head) < revision:
            replica.counts["behind"] += 1
            self._seen(replica, head)
            self.primary_reads += 1
            return None
        replica.counts["served"] += 1
        replica.head = int(head)
        if rows[0][0] is None:  # the outer join's row: no relationship matched
            return []
        return [row[:-1] for row in rows]

    async def snapshot_sources(self, oldest: int) -> list[str]:
        """Conninfos of the replicas to try for the index's snapshot, after probing them.

        Only replicas of this store whose head is at least ``oldest`` (the primary's GC horizon:
        the change log must reach back to the snapshot) are offered.
        """
        pending = [self._probe_now(replica) for replica in self._replicas if self._probe_due(replica)]
        if pending:
            await asyncio.gather(*pending)
        return [
            replica.conninfo
            for replica in self._replicas
            if replica.state is ReplicaState.UP and replica.head >= oldest
        ]

    def snapshot_failed(self, conninfo: str, exc: BaseException) -> None:
        """The snapshot load from the replica at ``conninfo`` failed (it is skipped a while)."""
        for replica in self._replicas:
            if replica.conninfo == conninfo:
                self._failed(replica, exc)

    def _pick(self, revision: int) -> _Replica | None:
        """A replica whose hint shows ``revision`` replayed (round-robin); probes the others."""
        count = len(self._replicas)
        chosen: _Replica | None = None
        for step in range(count):
            replica = self._replicas[(self._turn + step) % count]
            if replica.state is ReplicaState.UP and replica.head >= revision:
                if chosen is None:
                    chosen = replica
                    self._turn = (self._turn + step + 1) % count
            else:
                self._probe_later(replica)
        return chosen

    async def _wait_for(self, revision: int) -> _Replica | None:
        """Probe until a replica shows ``revision`` replayed, for at most ``wait_seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        while (remaining := deadline - loop.time()) > 0:
            probes = [self._probe_now(replica) for replica in self._replicas if self._probe_due(replica)]
            if not probes:
                return None  # every replica failed or is foreign: nothing to wait for
            await asyncio.wait([asyncio.ensure_future(probe) for probe in probes], timeout=remaining)
            replica = self._pick(revision)
            if replica is not None:
                return replica
            await asyncio.sleep(min(_WAIT_STEP_SECONDS, max(0.0, deadline - loop.time())))
        return None

    # --- probes ------------------------------------------------------------------------------------

    def _probe_due(self, replica: _Replica) -> bool:
        """True unless the replica failed (or is foreign) and its retry time has not come."""
        usable = replica.state in {ReplicaState.UP, ReplicaState.UNKNOWN}
        return usable or time.monotonic() >= replica.next_probe

    def _probe_later(self, replica: _Replica) -> None:
        """Start a background probe of ``replica`` unless one runs or one ran just now."""
        now = time.monotonic()
        if replica.probing is not None or now < replica.next_probe:
            return
        replica.next_probe = now + _PROBE_INTERVAL_SECONDS
        replica.probing = asyncio.get_running_loop().create_task(self._probe(replica))

    async def _probe_now(self, replica: _Replica) -> None:
        """Probe ``replica`` (or wait for the probe in flight)."""
        if replica.probing is None:
            replica.next_probe = time.monotonic() + _PROBE_INTERVAL_SECONDS
            replica.probing = asyncio.get_running_loop().create_task(self._probe(replica))
        await asyncio.shield(replica.probing)

    async def _probe(self, replica: _Replica) -> None:
        try:
            rows = await replica.reads.fetch(STORE_HEAD_SQL, {"rebac_store": self._store_id})
        except Exception as exc:  # noqa: BLE001 - a probe failure only marks the replica failed
            self._failed(replica, exc)
        else:
            self._seen(replica, rows[0][0])
        finally:
            replica.probing = None

    def _seen(self, replica: _Replica, head: Any) -> None:
        """Record the head a replica showed (``None``: its database does not hold this store)."""
        if head is None:
            replica.head = -1
            replica.next_probe = time.monotonic() + self._retry
            replica.set_state(ReplicaState.FOREIGN, "its database does not hold this store")
            return
        replica.head = int(head)
        replica.set_state(ReplicaState.UP, None)

    def _failed(self, replica: _Replica, exc: BaseException) -> None:
        replica.counts["failed"] += 1
        replica.next_probe = time.monotonic() + self._retry
        replica.set_state(ReplicaState.FAILED, str(exc) or type(exc).__name__)

    # --- reporting ---------------------------------------------------------------------------------

    def report(self) -> list[dict[str, object]]:
        """Each replica's state as JSON members (for ``/readyz``)."""
        return [
            {
                "replica": replica.where,
                "state": replica.state.value,
                "reason": replica.reason,
                "since": replica.since.isoformat(),
                "head": replica.head if replica.head >= 0 else None,
            }
            for replica in self._replicas
        ]

    def healthy(self) -> bool:
        """True when every replica is up (or not probed yet)."""
        return all(r.state in {ReplicaState.UP, ReplicaState.UNKNOWN} for r in self._replicas)

    def stats(self) -> dict[tuple[str, str], int]:
        """Reads by ``(replica, outcome)``; ``("primary", "fallback")`` counts the primary's."""
        out = {
            (replica.where, outcome): count
            for replica in self._replicas
            for outcome, count in replica.counts.items()
        }
        out["primary", "fallback"] = self.primary_reads
        return out

    def up(self) -> dict[str, bool]:
        """Whether each replica is up, by where it is."""
        return {replica.where: replica.state is ReplicaState.UP for replica in self._replicas}

    def pool_stats(self) -> dict[tuple[str, str], int]:
        """Connections by ``(pool, state)`` of every replica pool (``replica:<where>``)."""
        return {
            (f"replica:{replica.where}", state): count
            for replica in self._replicas
            for state, count in replica.reads.pool_stats().items()
        }

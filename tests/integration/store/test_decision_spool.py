"""The decision log through the spool and its shipper process, against a real PostgreSQL.

Covers: records land exactly as recorded (escapes, chain, context); a clean shutdown loses none;
``kill -9`` of the writing process loses only what it had not spilled (its orphaned shipper ships
the rest); when the shipper dies too, the next shipper on the root adopts the directory; a dead
shipper is restarted; a batch shipped twice lands once; a refused line is counted, the rest land;
a full spool makes records wait, then drops and counts them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rebac.config import DecisionLogSettings
from rebac.services.recorder import fields_of
from rebac.services.spool_recorder import SpoolingRecorder
from rebac.store.base import DecisionFilter, DecisionRecord, DecisionResult
from rebac.store.postgres import PostgresTupleStore
from rebac.store.postgres._shipper import PgDecisionSpool, Shipper

pytestmark = pytest.mark.integration
ALLOWED = DecisionResult.ALLOWED


def rec(n: int, **changes: Any) -> DecisionRecord:
    """An allowed check by ``user:u<n>`` a few milliseconds ago, with ``changes``."""
    at = datetime.now(UTC) - timedelta(milliseconds=n)
    base = DecisionRecord(
        str(uuid.uuid4()), at, "check", "k1", f"user:u{n}", "view", "doc:1", ALLOWED, "granted"
    )
    return replace(base, decision_point="spool-test", **changes)


def conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def logged_ids(url: str) -> set[str]:
    with psycopg.connect(conninfo(url)) as conn:
        return {str(row[0]) for row in conn.execute("SELECT decision_id FROM decision_log")}


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition`` until true (a bound, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds} s")
        time.sleep(0.05)


def gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status  # exited, not yet reaped by whoever adopted it


def settings(root: Path, **kwargs: Any) -> DecisionLogSettings:
    base: dict[str, Any] = {"spool_dir": root, "flush_seconds": 0.02, "retention_days": 0}
    base.update(kwargs)
    return DecisionLogSettings(**base)


@dataclass
class Db:
    """The test's store and the libpq string of its database."""

    store: PostgresTupleStore
    url: str


@pytest.fixture
async def db(store_factory: Any) -> AsyncIterator[Db]:
    async with store_factory("postgres") as store:
        yield Db(store, store._conninfo)


async def test_records_land_as_recorded_and_a_clean_shutdown_loses_none(db: Db, tmp_path: Path) -> None:
    recorder = SpoolingRecorder(db.store, settings(tmp_path), db.store.decision_spool())
    recorder.start(prune_every_seconds=None)
    odd = rec(
        0,
        subject='user:"tab\there"',
        reason="line\nbreak \\ back\rslash",
        result=DecisionResult.DENIED,
        chain=({"subject": "agent:a1", "depth": 1, "reason": "ok\tgo"},),
        context={"ip": "10.0.0.1", "note": "ü\n"},
        revision=7,
        schema_version=2,
        schema_hash="ab" * 32,
        latency_ms=0.125,
        caller=None,
    )
    assert await recorder.record(odd)
    many = [rec(i + 1) for i in range(1500)]
    for record in many:
        assert await recorder.record(record)
    # readable shortly after, with no flush asked for (bounded poll)
    found: list[DecisionRecord] = []
    deadline = time.monotonic() + 30
    while len(found) < 1501 and time.monotonic() < deadline:
        found = await db.store.query_decisions(DecisionFilter(), limit=2000)
        await asyncio.sleep(0.05)
    assert len(found) == 1501
    [back] = [r for r in found if r.decision_id == odd.decision_id]
    assert back == odd
    assert recorder.spool_directory is not None
    directory = recorder.spool_directory
    more = [rec(i) for i in range(100)]
    for record in more:
        await recorder.record(record)
    await recorder.aclose()  # the last 100 are still in memory: the close ships them
    stats = recorder.stats()
    assert (stats.recorded, stats.written, stats.queued, stats.failed, stats.dropped) == (1601, 1601, 0, 0, 0)
    assert logged_ids(db.url) == {r.decision_id for r in [odd, *many, *more]}
    assert not directory.exists()  # drained and removed by its shipper


_CHILD = textwrap.dedent(
    """
    import asyncio, json, sys, uuid
    from datetime import UTC, datetime
    from pathlib import Path
    from typing import Any, cast
    from rebac.config import DecisionLogSettings
    from rebac.services.spool_recorder import SpoolingRecorder
    from rebac.store.base import DecisionRecord, DecisionResult
    from rebac.store.postgres._shipper import PgDecisionSpool

    def make(n: int) -> DecisionRecord:
        return DecisionRecord(str(uuid.uuid4()), datetime.now(UTC), "check", "k1", f"user:u{n}",
                              "view", "doc:1", DecisionResult.ALLOWED, "granted")

    async def main() -> None:
        root, conninfo, spilled, buffered = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        settings = DecisionLogSettings(spool_dir=Path(root), spool_flush_seconds=3600.0,
                                       flush_seconds=0.02, retention_days=0)
        recorder = SpoolingRecorder(cast(Any, None), settings, PgDecisionSpool(conninfo))
        recorder.start(prune_every_seconds=None)
        first = [make(i) for i in range(spilled)]
        for record in first:
            await recorder.record(record)
        recorder.spill()  # acknowledged and in the spool
        later = [make(i) for i in range(buffered)]
        for record in later:
            await recorder.record(record)  # acknowledged, still in memory (the timer is an hour)
        while recorder.shipper_pid is None:
            await asyncio.sleep(0.01)
        print(json.dumps({"spilled": [r.decision_id for r in first],
                          "buffered": [r.decision_id for r in later],
                          "shipper": recorder.shipper_pid,
                          "dir": str(recorder.spool_directory)}), flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def start_child(tmp_path: Path, url: str, spilled: int, buffered: int) -> tuple[subprocess.Popen[str], Any]:
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(script), str(tmp_path / "spool"), conninfo(url), str(spilled), str(buffered)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        finish(proc)
        pytest.fail("the recording process did not start")
    return proc, json.loads(line)


def finish(proc: subprocess.Popen[str]) -> None:
    """End the recording process if it still runs, and close its pipe."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


async def test_kill_9_of_the_writer_loses_only_what_it_had_not_spilled(db: Db, tmp_path: Path) -> None:
    url = db.url
    proc, told = start_child(tmp_path, url, spilled=1000, buffered=100)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        spilled, buffered = set(told["spilled"]), set(told["buffered"])
        # the orphaned shipper notices, ships everything spilled, removes the directory, exits
        wait_until(lambda: spilled <= logged_ids(url), 60, "shipping the spilled records")
        wait_until(lambda: not Path(told["dir"]).exists(), 30, "removing the spool directory")
        wait_until(lambda: gone(told["shipper"]), 30, "the orphaned shipper exiting")
    finally:
        finish(proc)
        if not gone(told["shipper"]):
            os.kill(told["shipper"], signal.SIGKILL)
    assert logged_ids(url) == spilled  # what was lost is exactly what had not reached the spool
    assert not buffered & logged_ids(url)


async def test_a_directory_whose_writer_and_shipper_died_is_adopted(db: Db, tmp_path: Path) -> None:
    url = db.url
    proc, told = start_child(tmp_path, url, spilled=600, buffered=0)
    os.kill(told["shipper"], signal.SIGSTOP)  # the shipper ships nothing more, then dies with it
    try:
        os.kill(proc.pid, signal.SIGKILL)
        os.kill(told["shipper"], signal.SIGKILL)
        proc.wait(timeout=30)
        wait_until(lambda: gone(told["shipper"]), 30, "the shipper dying")
    finally:
        finish(proc)
    assert await asyncio.to_thread(Path(told["dir"]).exists)
    recorder = SpoolingRecorder(db.store, settings(tmp_path / "spool"), db.store.decision_spool())
    recorder.start(prune_every_seconds=None)  # its shipper adopts the dead directory at start
    try:
        spilled = set(told["spilled"])
        await asyncio.to_thread(wait_until, lambda: spilled <= logged_ids(url), 60, "adopting")
        await asyncio.to_thread(wait_until, lambda: not Path(told["dir"]).exists(), 30, "removing it")
    finally:
        await recorder.aclose()
    assert logged_ids(url) == spilled
    assert recorder.stats().written == 0  # adopted rows are not this recorder's


async def test_a_dead_shipper_is_started_again(db: Db, tmp_path: Path) -> None:
    recorder = SpoolingRecorder(db.store, settings(tmp_path), db.store.decision_spool())
    recorder.start(prune_every_seconds=None)
    try:
        first = [rec(i) for i in range(50)]
        for record in first:
            await recorder.record(record)
        async with asyncio.timeout(30):
            await recorder.flush()
        pid = recorder.shipper_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        later = [rec(i) for i in range(50)]
        for record in later:
            await recorder.record(record)
        async with asyncio.timeout(30):
            await recorder.flush()
        assert recorder.restarts >= 1
        assert recorder.shipper_pid not in {None, pid}
    finally:
        await recorder.aclose()
    assert recorder.stats().written == 100
    assert logged_ids(db.url) == {r.decision_id for r in [*first, *later]}


async def test_a_batch_shipped_twice_lands_once_and_a_refused_line_is_counted(db: Db) -> None:
    url = db.url
    line = db.store.decision_spool().line
    records = [rec(i) for i in range(20)]
    data = "".join(line(fields_of(r)) for r in records).encode()
    refused, fine = rec(100), rec(101)
    mixed = line(fields_of(refused)).replace("\tallowed\t", "\tbogus\t") + line(fields_of(fine))
    shipper = Shipper(url, lambda *_: None)
    try:
        assert shipper.ship(data) == (20, 0)
        assert shipper.ship(data) == (20, 0)  # as after a death between commit and position: again
        assert shipper.ship(mixed.encode()) == (1, 1)  # 'bogus' breaks the result check: that line only
    finally:
        shipper.close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM decision_log").fetchone() == (21,)
    assert logged_ids(url) == {r.decision_id for r in [*records, fine]}


class _IdleSpool(PgDecisionSpool):
    """The real format, and a 'shipper' that ships nothing (it exits when told): the spool fills."""

    def shipper(self, *_: object) -> tuple[list[str], dict[str, str]]:
        code = "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
        return [sys.executable, "-c", code + "time.sleep(600)"], {}


async def test_a_full_spool_waits_then_drops_and_counts(db: Db, tmp_path: Path) -> None:
    recorder = SpoolingRecorder(
        db.store,
        settings(tmp_path, spool_capacity=5, overload_wait_seconds=0.01),
        _IdleSpool(conninfo(db.url)),
    )
    recorder.start(prune_every_seconds=None)
    try:
        kept = [await recorder.record(rec(i)) for i in range(7)]
    finally:
        await recorder.aclose()
    assert kept == [True] * 5 + [False] * 2
    stats = recorder.stats()
    assert (stats.recorded, stats.dropped, stats.queued, stats.written) == (5, 2, 5, 0)

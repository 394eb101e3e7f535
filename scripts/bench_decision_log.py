"""Where the decision log's cost is, per decision: the serving process, the shipper, PostgreSQL.

Builds ``--records`` decisions the way :func:`rebac.services.decisions.check_and_record` hands
them to the recorder. It times each of the following in CPU microseconds per record.

The spool (the default of ``rebac serve``, :mod:`rebac.services.spool_recorder`):

* the serving process: :meth:`SpoolingRecorder.defer` (the record's fields, its spool line, the
  append) plus the spill writes to the spool, all of it on the event loop;
* the shipper process (its whole CPU, start-up subtracted, from ``RUSAGE_CHILDREN``) and its
  PostgreSQL backend (from ``/proc``).

The writer thread (``REBAC_DECISION_SPOOL=off``):

* the request path: :meth:`DecisionRecorder.defer`, a tuple appended to the buffer;
* the writer thread's Python work: building the record, then formatting its COPY line;
* the COPY itself, on the writer's own connection (``PgDecisionWriter``), whose CPU is split
  between this process's driver and the PostgreSQL backend (from ``/proc``).

It runs against a throwaway database on the local PostgreSQL (migrated to head, dropped after).
It prints numbers with the machine's load average; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import secrets
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from rebac.config import DecisionLogSettings
from rebac.engine.results import CheckResult, Permissionship
from rebac.refs import parse_object, parse_subject
from rebac.services.decision_records import DecisionScope, record_fields
from rebac.services.recorder import DecisionRecorder
from rebac.services.spool_recorder import SpoolingRecorder
from rebac.store.base import DecisionRecord, DecisionResult
from rebac.store.postgres._decisions import PgDecisionWriter, _chunks
from rebac.store.postgres._shipper import PgDecisionSpool
from rebac.store.postgres.migrate import upgrade_to_head
from rebac.store.revision import Revision

ADMIN_URL = "postgresql://root@127.0.0.1:5432/test"
BATCH = 500


class _Nowhere:
    async def append_decisions(self, batch: object) -> None:
        del batch


def _pid_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_cpu(conn: psycopg.Connection[object]) -> float:
    return _pid_cpu(conn.info.backend_pid)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _shipper_backend(url: str) -> int | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE application_name = 'rebac-decision-shipper' AND datname = current_database()"
        ).fetchone()
    return None if row is None else int(row[0])


async def _spool_run(
    url: str, parts: Sequence[tuple[Any, ...]], spool_root: Path
) -> tuple[float, float, float]:
    """``(serving CPU, shipper CPU, shipper backend CPU)`` in seconds for ``parts``, through the spool."""
    settings = DecisionLogSettings(spool_dir=spool_root, retention_days=0, spool_capacity=len(parts) + 1)
    recorder = SpoolingRecorder(_Nowhere(), settings, PgDecisionSpool(url))  # type: ignore[arg-type]
    recorder.start(prune_every_seconds=None)
    parts = [(recorder.new_id(item[1]), *item[1:]) for item in parts]  # ids not written yet
    await recorder.defer("check", DecisionResult.ALLOWED, record_fields, parts[0])
    await recorder.flush()  # connected, partition created
    backend = _shipper_backend(url)
    pg0 = _pid_cpu(backend) if backend is not None else 0.0
    t0 = time.process_time()
    for item in parts[1:]:
        await recorder.defer("check", DecisionResult.ALLOWED, record_fields, item)
    recorder.spill()
    serving = time.process_time() - t0
    await recorder.flush()
    pg = (_pid_cpu(backend) - pg0) if backend is not None else float("nan")
    c0 = _children_cpu()
    await recorder.aclose()
    return serving, _children_cpu() - c0, pg


def _parts(
    decision_id: str, now: datetime, scope: DecisionScope, resource: Any, subject: Any
) -> tuple[Any, ...]:
    result = CheckResult(Permissionship.HAS_PERMISSION)
    return (decision_id, now, scope, resource, "view", subject, result, None, 0.5, 4096, "bench:1")


async def main() -> None:  # noqa: PLR0915 - one straight measurement script
    """Parse the arguments, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument(
        "--distinct",
        type=int,
        default=100_000,
        help="distinct subjects and resources the records name, drawn at random (as bench_api's checks do)",
    )
    args = parser.parse_args()
    n = args.records
    print(f"load average before: {os.getloadavg()}")
    recorder = DecisionRecorder(_Nowhere(), DecisionLogSettings(queue_capacity=n + 1))  # type: ignore[arg-type]
    scope = DecisionScope("check", "preshared", Revision(42), 3, "ab" * 32)
    rng = random.Random(17)
    resources = [parse_object(f"document:d{i}") for i in range(args.distinct)]
    subjects = [parse_subject(f"agent:a{i}") for i in range(args.distinct)]
    now = datetime.now(UTC)
    parts = [
        _parts(recorder.new_id(now), now, scope, rng.choice(resources), rng.choice(subjects))
        for _ in range(n)
    ]
    t0 = time.process_time()
    for item in parts:
        await recorder.defer("check", DecisionResult.ALLOWED, record_fields, item)
    hot = time.process_time() - t0
    t0 = time.process_time()
    records = [DecisionRecord(*record_fields(*item)) for item in parts]
    built = time.process_time() - t0
    t0 = time.process_time()
    for start in range(0, n, BATCH):
        list(_chunks(records[start : start + BATCH]))
    formatted = time.process_time() - t0
    name = f"rebac_declog_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        upgrade_to_head(url.replace("postgresql://", "postgresql+psycopg://"))
        writer = PgDecisionWriter(url)
        writer.write(records[:1])  # connect and create the day's partition before timing
        conn = writer._conn  # noqa: SLF001 - the benchmark reads the backend's CPU
        assert conn is not None  # noqa: S101 - just written
        pg0, t0, w0 = _backend_cpu(conn), time.process_time(), time.perf_counter()
        for start in range(1, n, BATCH):
            writer.write(records[start : start + BATCH])
        wall, client = time.perf_counter() - w0, time.process_time() - t0
        backend = _backend_cpu(conn) - pg0
        writer.close()
        with tempfile.TemporaryDirectory(prefix="rebac-bench-spool-") as root:
            c0 = _children_cpu()
            await _spool_run(url, parts[:2], Path(root))  # the shipper's start-up and exit alone
            startup = _children_cpu() - c0
            spool_serving, spool_shipper, spool_pg = await _spool_run(url, parts, Path(root))
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
    rows = [
        ("spool + shipper process (rebac serve's default)", None),
        ("  serving process (defer: fields, spool line, append; spills)", spool_serving),
        (f"  shipper process (its start-up, {startup:.2f} s, subtracted)", spool_shipper - startup),
        ("  PostgreSQL backend of the shipper (COPY + commit)", spool_pg),
        (f"writer thread (REBAC_DECISION_SPOOL=off), batches of {BATCH}", None),
        ("  request path (defer: sampling, counters, tuple append)", hot),
        ("  writer thread, build the record", built),
        ("  writer thread, format the COPY text", formatted),
        ("  writer thread, COPY (driver, format included)", client),
        ("  PostgreSQL backend, COPY into decision_log + commit", backend),
    ]
    print(f"{n:,} records")
    for label, seconds in rows:
        print(label + (":" if seconds is None else f": {seconds * 1e6 / n:6.1f} us CPU/record"))
    print(f"COPY wall time: {wall * 1e6 / n:.1f} us/record ({n / wall:,.0f} records/s on one connection)")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    asyncio.run(main())

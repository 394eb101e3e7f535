"""Where the decision log's cost is, per decision: the request path, the writer thread, PostgreSQL.

Builds ``--records`` decisions the way :func:`rebac.services.decisions.check_and_record` hands
them to the recorder. It times each of the following in CPU microseconds per record:

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
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from rebac.config import DecisionLogSettings
from rebac.engine.results import CheckResult, Permissionship
from rebac.refs import parse_object, parse_subject
from rebac.services.decisions import DecisionScope, _build
from rebac.services.recorder import DecisionRecorder
from rebac.store.base import DecisionResult
from rebac.store.postgres._decisions import PgDecisionWriter, _chunks
from rebac.store.postgres.migrate import upgrade_to_head
from rebac.store.revision import Revision

ADMIN_URL = "postgresql://root@127.0.0.1:5432/test"
BATCH = 500


class _Nowhere:
    async def append_decisions(self, batch: object) -> None:
        del batch


def _backend_cpu(conn: psycopg.Connection[object]) -> float:
    fields = Path(f"/proc/{conn.info.backend_pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main() -> None:
    """Parse the arguments, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=50_000)
    args = parser.parse_args()
    n = args.records
    print(f"load average before: {os.getloadavg()}")
    recorder = DecisionRecorder(_Nowhere(), DecisionLogSettings(queue_capacity=n + 1))  # type: ignore[arg-type]
    scope = DecisionScope("check", "preshared", Revision(42), 3, "ab" * 32)
    resource, subject = parse_object("document:d1"), parse_subject("agent:a7")
    result = CheckResult(Permissionship.HAS_PERMISSION)
    now = datetime.now(UTC)
    parts = [
        (recorder.new_id(now), now, scope, resource, "view", subject, result, None, 0.5, 4096, "bench:1")
        for _ in range(n)
    ]
    t0 = time.process_time()
    for item in parts:
        await recorder.defer("check", DecisionResult.ALLOWED, _build, item)
    hot = time.process_time() - t0
    t0 = time.process_time()
    records = [_build(*item) for item in parts]
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
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
    us = 1e6 / n
    print(f"{n:,} records, batches of {BATCH}")
    print(f"request path (defer: sampling, counters, tuple append): {hot * us:6.1f} us CPU/record")
    print(f"writer thread, build the record:                       {built * us:6.1f} us CPU/record")
    print(f"writer thread, format the COPY text:                   {formatted * us:6.1f} us CPU/record")
    print(f"writer thread, COPY (driver, format included):         {client * us:6.1f} us CPU/record")
    print(f"PostgreSQL backend, COPY into decision_log + commit:   {backend * us:6.1f} us CPU/record")
    print(f"COPY wall time: {wall * us:.1f} us/record ({n / wall:,.0f} records/s on one connection)")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    asyncio.run(main())

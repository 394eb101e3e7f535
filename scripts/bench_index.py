r"""Relationship index benchmark: snapshot load time, memory per relationship, check latency at c=8.

Usage::

    python3 /work/shared/bench/gen_agents.py --size 1000000 --out /tmp/bench/1m
    .venv/bin/python scripts/bench_index.py --dataset /tmp/bench/1m \
        --database-url postgresql+psycopg://root@127.0.0.1:5432/index_1m [--seconds 10]

The database (``--database-url`` or ``REBAC_DATABASE_URL``) is migrated; when it holds no
relationship yet, the dataset's ``relationships.txt`` is imported first (in chunks of
``--chunk`` relationships, one revision each) and kept, so later runs skip the import.

Then, in this process: the store is opened with the in-memory index and the time until the
index has loaded its snapshot is printed, with the process's RSS before and after (``VmRSS``, after
a full collection) and the bytes per relationship that difference makes (``--tracemalloc`` also
prints the bytes Python allocated, which is slower to load). Every line of ``checks.txt`` is
verified through the engine (no check cache, so every read reaches the index), exit status 1 on a
mismatch; then checks run from ``--concurrency`` tasks for ``--seconds`` and p50/p99 and
throughput are printed. The machine's load average is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import psycopg

from rebac.config import EngineSettings
from rebac.engine import Engine, Permissionship
from rebac.refs import ObjectRef, Relationship, SubjectRef, parse_object, parse_subject
from rebac.schema import compile_schema
from rebac.services.interchange import parse_lines
from rebac.store.base import Consistency, ConsistencyMode
from rebac.store.postgres import PostgresTupleStore
from rebac.store.postgres._mirror import IndexSettings
from rebac.store.postgres.migrate import upgrade_to_head

FULL = Consistency(ConsistencyMode.FULLY_CONSISTENT)
Check = tuple[ObjectRef, str, SubjectRef, bool]


def rss_mib() -> tuple[float, float]:
    """This process's VmRSS and VmHWM (peak) in MiB."""
    found = {"VmRSS:": 0.0, "VmHWM:": 0.0}
    for line in Path("/proc/self/status").read_text().splitlines():
        name = line.split(":", 1)[0] + ":"
        if name in found:
            found[name] = int(line.split()[1]) / 1024
    return found["VmRSS:"], found["VmHWM:"]


def chunks(items: Iterator[Relationship], size: int) -> Iterator[list[Relationship]]:
    """``items`` in lists of at most ``size``."""
    batch: list[Relationship] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def stored_rows(url: str) -> int:
    """Live relationships in the database."""
    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(libpq) as conn:
        row = conn.execute("SELECT count(*) FROM relation_tuple").fetchone()
    return int(row[0]) if row else 0


async def import_dataset(url: str, data: Path, chunk: int) -> None:
    """Import ``relationships.txt`` into the (empty) store, ``chunk`` relationships a revision."""
    store = await PostgresTupleStore.connect(url)
    try:
        started, total = time.perf_counter(), 0
        with (data / "relationships.txt").open(encoding="utf-8") as lines:
            for batch in chunks(parse_lines(lines), chunk):
                total += (await store.bulk_import(batch)).loaded
                print(f"  imported {total:,} ({time.perf_counter() - started:.0f} s)", flush=True)
        elapsed = time.perf_counter() - started
        print(f"import: {total:,} relationships in {elapsed:.1f} s ({total / elapsed:,.0f}/s)")
    finally:
        await store.close()
    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) relation_tuple")


def read_checks(data: Path, limit: int | None) -> list[Check]:
    """``checks.txt`` as (resource, permission, subject, expected)."""
    checks: list[Check] = []
    for line in (data / "checks.txt").read_text(encoding="utf-8").splitlines():
        text, expected = line.split()
        left, subject = text.split("@")
        resource, permission = left.split("#")
        checks.append((parse_object(resource), permission, parse_subject(subject), expected == "true"))
    return checks if limit is None else checks[:limit]


def pct(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted seconds, in milliseconds."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def timed_checks(engine: Engine, checks: list[Check], concurrency: int, seconds: float) -> None:
    """Verify every check once, then run them from ``concurrency`` tasks for ``seconds``."""
    revision = await engine.resolve(FULL)
    bad = 0
    for resource, permission, subject, expected in checks:
        result = await engine.check(resource, permission, subject, revision=revision)
        if (result.permissionship is Permissionship.HAS_PERMISSION) != expected:
            bad += 1
            print(f"MISMATCH {resource}#{permission}@{subject}: expected {expected}")
    print(f"verified {len(checks)} checks: {bad} mismatches")
    if bad:
        raise SystemExit(1)
    latencies: list[float] = []

    async def worker(start: int, stop: float) -> None:
        i = start
        while time.perf_counter() < stop:
            resource, permission, subject, _ = checks[i % len(checks)]
            began = time.perf_counter()
            await engine.check(resource, permission, subject, revision=revision)
            latencies.append(time.perf_counter() - began)
            i += 1

    stride = max(1, len(checks) // concurrency)
    started, cpu = time.perf_counter(), time.process_time()
    stop = started + seconds
    await asyncio.gather(*(worker(n * stride, stop) for n in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    ordered = sorted(latencies)
    print(
        f"checks c={concurrency}: n={len(ordered)} {len(ordered) / elapsed:,.0f}/s "
        f"p50={statistics.median(ordered) * 1000:.3f} ms p99={pct(ordered, 0.99):.3f} ms "
        f"cpu={cpu / len(ordered) * 1e6:.0f} us/check"
    )


async def main() -> int:
    """Import if needed, load the index, verify and time checks."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, required=True, help="directory written by gen_agents.py")
    parser.add_argument("--database-url", default=os.environ.get("REBAC_DATABASE_URL"))
    parser.add_argument("--chunk", type=int, default=500_000, help="relationships per import revision")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--checks", type=int, default=None, help="use only the first N checks")
    parser.add_argument("--tracemalloc", action="store_true", help="also count Python allocations")
    parser.add_argument("--import-only", action="store_true", help="stop after importing the dataset")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url or REBAC_DATABASE_URL is required")
    data: Path = args.dataset
    print(f"load average: {os.getloadavg()}  cpus: {os.cpu_count()}")
    await asyncio.to_thread(upgrade_to_head, args.database_url)
    if stored_rows(args.database_url) == 0:
        await import_dataset(args.database_url, data, args.chunk)
    if args.import_only:
        return 0
    schema = compile_schema((data / "schema.zed").read_text(encoding="utf-8"), str(data / "schema.zed"))
    checks = read_checks(data, args.checks)
    gc.collect()
    before, _ = rss_mib()
    if args.tracemalloc:
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    store = await PostgresTupleStore.connect(args.database_url, index=IndexSettings())
    try:
        if not await store.wait_index_loaded(timeout=600):
            print("the index did not load")
            return 1
        load_seconds, load_cpu = time.perf_counter() - started, time.process_time() - cpu
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] if args.tracemalloc else None
        tracemalloc.stop()
        after, peak = rss_mib()
        status = store.index_status()
        rows = status.rows if status is not None else 0
        print(f"index load: {rows:,} rows in {load_seconds:.1f} s ({load_cpu:.1f} s CPU in this process)")
        print(
            f"RSS: {before:.0f} MiB before, {after:.0f} MiB after (peak {peak:.0f} MiB): "
            f"{(after - before) * 2**20 / max(rows, 1):.0f} bytes/relationship"
        )
        if traced is not None:
            print(f"tracemalloc: {traced / 2**20:.0f} MiB, {traced / max(rows, 1):.0f} bytes/relationship")
        engine = Engine.build(store, schema, settings=EngineSettings(cache_enabled=False))
        await timed_checks(engine, checks, args.concurrency, args.seconds)
    finally:
        await store.close()
    print(f"load average: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

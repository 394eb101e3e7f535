"""Engine benchmark on the agents dataset: load, verify every expected answer, then time.

Usage::

    python3 /work/shared/bench/gen_agents.py --size 100000 --out /tmp/agents100k
    .venv/bin/python scripts/bench_engine.py --data /tmp/agents100k [--store postgres|memory]

PostgreSQL comes from ``REBAC_DATABASE_URL`` (must be an empty, migrated database) or, by default,
a temporary embedded server. Every line of ``checks.txt`` and ``lookups.txt`` is verified first
(exit status 1 on any mismatch); then in-process check latency (p50/p99, no cache, cold cache,
warm cache) and lookup times are printed with the machine load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

from rebac.config import EngineSettings
from rebac.engine import CheckCache, Engine, Permissionship
from rebac.engine.model import reachability_for
from rebac.refs import Relationship, parse_object, parse_relationship, parse_subject
from rebac.schema import compile_schema
from rebac.store.base import Consistency, ConsistencyMode, TupleStore
from rebac.store.memory import MemoryTupleStore
from rebac.store.postgres import PostgresTupleStore
from rebac.store.postgres.embedded import embedded_postgres
from rebac.store.postgres.migrate import upgrade_to_head

FULL = Consistency(ConsistencyMode.FULLY_CONSISTENT)


@asynccontextmanager
async def open_store(kind: str) -> AsyncIterator[TupleStore]:
    """A fresh store of ``kind``."""
    if kind == "memory":
        yield MemoryTupleStore(quantization_seconds=0)
        return
    url = os.environ.get("REBAC_DATABASE_URL")
    if url:
        store = await PostgresTupleStore.connect(url, quantization_seconds=0)
        try:
            yield store
        finally:
            await store.close()
        return
    with tempfile.TemporaryDirectory(prefix="rebac-bench-") as home, embedded_postgres(Path(home)) as pg:
        await asyncio.to_thread(upgrade_to_head, pg)
        store = await PostgresTupleStore.connect(pg, quantization_seconds=0)
        try:
            yield store
        finally:
            await store.close()


def relationships(path: Path) -> Iterator[Relationship]:
    """Parse ``relationships.txt``."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            text = line.strip()
            if text and not text.startswith("//"):
                yield parse_relationship(text)


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples`` in milliseconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def verify_and_time_checks(engine: Engine, checks: list[tuple[str, bool]]) -> tuple[int, list[float]]:
    """Run every check once; return (mismatches, latencies in seconds)."""
    revision = await engine.resolve(FULL)
    mismatches = 0
    latencies: list[float] = []
    for text, expected in checks:
        left, subject = text.split("@")
        resource, permission = left.split("#")
        start = time.perf_counter()
        result = await engine.check(
            parse_object(resource), permission, parse_subject(subject), revision=revision
        )
        latencies.append(time.perf_counter() - start)
        if (result.permissionship is Permissionship.HAS_PERMISSION) != expected:
            mismatches += 1
            print(f"MISMATCH {text}: expected {expected}, got {result.permissionship.value}")
    return mismatches, latencies


async def run_lookups(engine: Engine, lookups: list[tuple[str, str, str, int]]) -> int:
    """Verify and time every lookup; return the number of mismatches."""
    revision = await engine.resolve(FULL)
    mismatches = 0
    for resource_type, permission, subject, expected in lookups:
        start = time.perf_counter()
        count, cursor, pages = 0, None, 0
        while True:
            page = await engine.lookup_resources(
                resource_type,
                permission,
                parse_subject(subject),
                revision=revision,
                limit=1000,
                cursor=cursor,
            )
            count += len(page.items)
            pages += 1
            if page.cursor is None:
                break
            cursor = page.cursor
        elapsed = (time.perf_counter() - start) * 1000
        status = "ok" if count == expected else f"MISMATCH (expected {expected})"
        mismatches += count != expected
        print(
            f"lookup {resource_type}#{permission}@{subject}: {count} resources, {pages} pages, "
            f"{elapsed:.1f} ms {status}"
        )
    return mismatches


def report(name: str, latencies: list[float]) -> None:
    """Print p50/p99/mean of a latency sample."""
    print(
        f"{name}: n={len(latencies)} p50={percentile(latencies, 0.5):.3f} ms "
        f"p99={percentile(latencies, 0.99):.3f} ms mean={statistics.fmean(latencies) * 1000:.3f} ms"
    )


async def main() -> int:
    """Load, verify, time; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="directory written by gen_agents.py")
    parser.add_argument("--store", choices=["postgres", "memory"], default="postgres")
    args = parser.parse_args()
    data: Path = args.data
    schema = compile_schema((data / "schema.zed").read_text(encoding="utf-8"), str(data / "schema.zed"))
    checks = []
    for line in (data / "checks.txt").read_text(encoding="utf-8").splitlines():
        text, expected = line.split()
        checks.append((text, expected == "true"))
    lookups = []
    for line in (data / "lookups.txt").read_text(encoding="utf-8").splitlines():
        resource_type, permission, subject, count = line.split()
        lookups.append((resource_type, permission, subject, int(count)))
    print(f"load average: {os.getloadavg()}  cpus: {os.cpu_count()}  store: {args.store}")
    async with open_store(args.store) as store:
        rels = list(relationships(data / "relationships.txt"))
        start = time.perf_counter()
        await store.bulk_import(rels)
        elapsed = time.perf_counter() - start
        print(f"bulk import: {len(rels)} relationships in {elapsed:.2f} s ({len(rels) / elapsed:,.0f}/s)")
        reach = reachability_for(schema)
        nocache = Engine.build(
            store, schema, reachability=reach, settings=EngineSettings(cache_enabled=False)
        )
        cached = Engine.build(store, schema, reachability=reach, cache=CheckCache())
        bad, cold = await verify_and_time_checks(cached, checks)
        print(f"verified {len(checks)} checks: {bad} mismatches")
        bad_lookups = await run_lookups(nocache, lookups)
        _, uncached = await verify_and_time_checks(nocache, checks)
        _, warm = await verify_and_time_checks(cached, checks)
        report("check, no cache", uncached)
        report("check, cold cache (first pass)", cold)
        report("check, warm cache", warm)
        print(f"load average: {os.getloadavg()}")
    return 1 if bad or bad_lookups else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""Engine CPU benchmark: lookups and uncached checks on a MemoryTupleStore (no I/O).

Usage::

    .venv/bin/python scripts/bench_lookup.py --data /tmp/ds/100k [--pages 1000,10000] [--repeats 5]

Loads the agents dataset (``gen_agents.py``) into a :class:`MemoryTupleStore`, builds the engine
as the API does (schema reachability, a :class:`CheckCache`), then:

* every ``lookups.txt`` line, all pages followed as the API pages them (each page size given),
  verified against the expected count; the median and best of ``--repeats`` runs are printed,
  with the cache cleared before each run (so every run is uncached);
* every ``checks.txt`` line checked with the cache disabled, verified, p50/p99 printed.

Exit status 1 on any mismatch. The machine load is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from rebac.config import EngineSettings
from rebac.engine import CheckCache, Engine, Permissionship
from rebac.engine.model import reachability_for
from rebac.refs import parse_object, parse_relationship, parse_subject
from rebac.schema import compile_schema
from rebac.store.base import Consistency, ConsistencyMode
from rebac.store.memory import MemoryTupleStore
from rebac.store.revision import Revision

FULL = Consistency(ConsistencyMode.FULLY_CONSISTENT)


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples`` (seconds) in milliseconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def lookup_all(engine: Engine, line: tuple[str, str, str, int], revision: Revision, page: int) -> int:
    """Follow every page of one lookup; the number of resources."""
    resource_type, permission, subject, _ = line
    count, cursor = 0, None
    while True:
        result = await engine.lookup_resources(
            resource_type, permission, parse_subject(subject), revision=revision, limit=page, cursor=cursor
        )
        count += len(result.items)
        if result.cursor is None:
            return count
        cursor = result.cursor


async def run_checks(
    engine: Engine, checks: list[tuple[str, bool]], revision: Revision
) -> tuple[int, list[float]]:
    """Check every line once; (mismatches, latencies in seconds)."""
    bad = 0
    latencies: list[float] = []
    for text, expected in checks:
        left, subject = text.split("@")
        resource, permission = left.split("#")
        obj, sub = parse_object(resource), parse_subject(subject)
        start = time.perf_counter()
        result = await engine.check(obj, permission, sub, revision=revision)
        latencies.append(time.perf_counter() - start)
        if (result.permissionship is Permissionship.HAS_PERMISSION) != expected:
            bad += 1
            print(f"MISMATCH {text}: expected {expected}, got {result.permissionship.value}")
    return bad, latencies


async def main() -> int:
    """Load, verify, time; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="directory written by gen_agents.py")
    parser.add_argument("--pages", default="1000,10000", help="comma-separated lookup page sizes")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per lookup")
    parser.add_argument("--skip-checks", action="store_true", help="time the lookups only")
    args = parser.parse_args()
    data: Path = args.data
    pages = [int(p) for p in args.pages.split(",")]
    print(f"load average: {os.getloadavg()}  cpus: {os.cpu_count()}  store: memory")
    schema = compile_schema((data / "schema.zed").read_text(encoding="utf-8"), str(data / "schema.zed"))
    checks = [
        (text, expected == "true")
        for text, expected in (
            line.split() for line in (data / "checks.txt").read_text(encoding="utf-8").splitlines()
        )
    ]
    lookups = [
        (rtype, perm, subject, int(count))
        for rtype, perm, subject, count in (
            line.split() for line in (data / "lookups.txt").read_text(encoding="utf-8").splitlines()
        )
    ]
    store = MemoryTupleStore(quantization_seconds=0)
    start = time.perf_counter()
    rels = [
        parse_relationship(text)
        for text in (line.strip() for line in (data / "relationships.txt").open(encoding="utf-8"))
        if text and not text.startswith("//")
    ]
    await store.bulk_import(rels)
    print(f"loaded {len(rels)} relationships in {time.perf_counter() - start:.1f} s")
    cache = CheckCache()
    engine = Engine.build(store, schema, reachability=reachability_for(schema), cache=cache)
    nocache = Engine.build(
        store, schema, reachability=reachability_for(schema), settings=EngineSettings(cache_enabled=False)
    )
    revision = await engine.resolve(FULL)
    bad = 0
    for page in pages:
        for line in lookups:
            times: list[float] = []
            count = 0
            for _ in range(max(1, args.repeats)):
                cache.clear()
                began = time.perf_counter()
                count = await lookup_all(engine, line, revision, page)
                times.append(time.perf_counter() - began)
            status = "ok" if count == line[3] else f"MISMATCH (expected {line[3]})"
            bad += count != line[3]
            print(
                f"lookup page={page} {line[0]}#{line[1]}@{line[2]}: {count} resources, "
                f"median {statistics.median(times) * 1000:.1f} ms, best {min(times) * 1000:.1f} ms {status}"
            )
    if not args.skip_checks:
        wrong, latencies = await run_checks(nocache, checks, revision)
        bad += wrong
        print(
            f"check, no cache: n={len(latencies)} mismatches={wrong} p50={percentile(latencies, 0.5):.3f} ms "
            f"p99={percentile(latencies, 0.99):.3f} ms mean={statistics.fmean(latencies) * 1000:.3f} ms"
        )
    print(f"load average: {os.getloadavg()}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

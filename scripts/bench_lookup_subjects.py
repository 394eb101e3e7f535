"""lookup_subjects benchmark on the agents dataset: intersections with wildcards at 100k.

Usage::

    .venv/bin/python scripts/bench_lookup_subjects.py --data /tmp/bench100k [--postgres URL] [--repeats 5]

Loads the dataset (``gen_agents.py``) into a :class:`MemoryTupleStore` (and, with ``--postgres``,
into a fresh PostgreSQL store with the relationship index, as ``rebac serve`` runs), then times
``lookup_subjects`` of users for the tools (``invoke = ((invoker + org->administer) & org->access)
- blocked``, where ``invoker`` allows ``user:*``) and a few documents, with the check cache
cleared before each run. Every answer is verified with checks: each listed user is allowed, each
user the wildcard excludes is denied, and a user id seen nowhere is allowed exactly when a
wildcard is listed. Prints the median and best times and the machine load; exit status 1 on any
mismatch. The target (issue 15) is at most 100 ms for ``tool:tl0`` on the 100k dataset.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from rebac.engine import CheckCache, Engine, LookupSubjectItem
from rebac.engine.model import reachability_for
from rebac.refs import ObjectRef, parse_object, parse_relationship, parse_subject
from rebac.schema import compile_schema, ir
from rebac.store.base import Consistency, ConsistencyMode, TupleStore
from rebac.store.memory import MemoryTupleStore
from rebac.store.postgres import PostgresTupleStore
from rebac.store.postgres._mirror import IndexSettings
from rebac.store.postgres.migrate import upgrade_to_head
from rebac.store.revision import Revision

FULL = Consistency(ConsistencyMode.FULLY_CONSISTENT)
TARGETS = ["tool:tl0", "tool:tl1", "tool:tl2", "document:d0", "document:d1", "folder:f0"]


async def lookup(engine: Engine, resource: ObjectRef, revision: Revision) -> list[LookupSubjectItem]:
    """Every page of the users with the resource type's viewing permission."""
    permission = "invoke" if resource.type == "tool" else "view"
    items: list[LookupSubjectItem] = []
    cursor = None
    while True:
        page = await engine.lookup_subjects(
            resource, permission, "user", revision=revision, limit=1000, cursor=cursor
        )
        items.extend(page.items)
        if page.cursor is None:
            return items
        cursor = page.cursor


async def verify(
    engine: Engine, resource: ObjectRef, items: list[LookupSubjectItem], revision: Revision
) -> int:
    """Mismatches between the lookup and checks of what it lists (and excludes)."""
    permission = "invoke" if resource.type == "tool" else "view"
    bad = 0
    wildcard = [i for i in items if i.subject.id == "*"]
    expected = [(i.subject, True) for i in items if i.subject.id != "*"]
    expected += [(s, False) for w in wildcard for s in w.excluded]
    expected.append((parse_subject("user:never-seen-anywhere"), bool(wildcard)))
    for subject, allowed in expected:
        result = await engine.check(resource, permission, subject, revision=revision)
        if result.allowed != allowed:
            bad += 1
            print(f"MISMATCH {resource}#{permission}@{subject}: lookup says {allowed}")
    return bad


async def bench(label: str, store: TupleStore, schema: ir.Schema, repeats: int) -> int:
    """Time and verify every target on ``store``; the number of mismatches."""
    cache = CheckCache()
    engine = Engine.build(store, schema, reachability=reachability_for(schema), cache=cache)
    revision = await engine.resolve(FULL)
    bad = 0
    for target in TARGETS:
        resource = parse_object(target)
        times: list[float] = []
        items: list[LookupSubjectItem] = []
        for _ in range(max(1, repeats)):
            cache.clear()
            began = time.perf_counter()
            items = await lookup(engine, resource, revision)
            times.append(time.perf_counter() - began)
        wrong = await verify(engine, resource, items, revision)
        bad += wrong
        wild = next((i for i in items if i.subject.id == "*"), None)
        shape = f"{len(items)} items" + (f", wildcard excluding {len(wild.excluded)}" if wild else "")
        status = "ok" if not wrong else f"{wrong} MISMATCHES"
        median, best = statistics.median(times) * 1000, min(times) * 1000
        print(
            f"{label} lookup_subjects {target} user: {shape}; "
            f"median {median:.1f} ms, best {best:.1f} ms {status}"
        )
    return bad


async def main() -> int:
    """Load, time, verify; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="directory written by gen_agents.py")
    parser.add_argument(
        "--postgres", help="also on this empty, disposable PostgreSQL database (migrated here), by URL"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per lookup")
    args = parser.parse_args()
    data: Path = args.data
    print(f"load average: {os.getloadavg()}  cpus: {os.cpu_count()}")
    schema = compile_schema((data / "schema.zed").read_text(encoding="utf-8"), str(data / "schema.zed"))
    rels = [
        parse_relationship(text)
        for text in (line.strip() for line in (data / "relationships.txt").open(encoding="utf-8"))
        if text and not text.startswith("//")
    ]
    memory = MemoryTupleStore(quantization_seconds=0)
    await memory.bulk_import(rels)
    print(f"loaded {len(rels)} relationships")
    bad = await bench("memory", memory, schema, args.repeats)
    if args.postgres:
        await asyncio.to_thread(upgrade_to_head, args.postgres)
        pg = await PostgresTupleStore.connect(args.postgres, index=IndexSettings(), quantization_seconds=0)
        try:
            await pg.bulk_import(rels)
            await pg.wait_index_loaded(timeout=120)
            bad += await bench("postgres+index", pg, schema, args.repeats)
        finally:
            await pg.close()
    print(f"load average: {os.getloadavg()}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

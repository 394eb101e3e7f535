"""Decision-log overhead on check throughput: the same checks with recording off and on.

Usage::

    REBAC_DATABASE_URL=postgresql+psycopg://... .venv/bin/python scripts/bench_decisions.py \
        [--seconds 3] [--concurrency 8] [--rounds 3] [--store memory|postgres]

Runs ``check_and_record`` (the path the API's check, bulk-check and AuthZEN handlers use) in
``--concurrency`` tasks for ``--seconds``, alternating rounds without a recorder and with one
writing to the store's decision log (every decision recorded, sample rate 1.0), and prints the
median checks/s of each and the overhead. The engine's check cache is on, as in production, so the
checks themselves are cheap and the overhead is shown at its largest. The Postgres database must
be migrated and is used as is (the benchmark writes one schema, 200 relationships and the records).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from rebac.config import DecisionLogSettings
from rebac.engine import CheckCache, Engine
from rebac.refs import parse_object, parse_relationship, parse_subject
from rebac.schema import compile_schema
from rebac.services.decisions import DecisionScope, check_and_record
from rebac.services.recorder import DecisionRecorder
from rebac.store.base import Consistency, ConsistencyMode, Operation, RelationshipUpdate, TupleStore
from rebac.store.memory import MemoryTupleStore
from rebac.store.postgres import PostgresTupleStore

SCHEMA = """
definition user {}
definition document {
    relation viewer: user
    permission view = viewer
}
"""


async def _round(
    engine: Engine, recorder: DecisionRecorder | None, scope: DecisionScope, seconds: float, concurrency: int
) -> float:
    stop = time.perf_counter() + seconds
    done = 0

    async def worker(n: int) -> None:
        nonlocal done
        i = n
        while time.perf_counter() < stop:
            await check_and_record(
                recorder,
                engine,
                scope,
                parse_object(f"document:d{i % 200}"),
                "view",
                parse_subject(f"user:u{i % 13}"),
            )
            done += 1
            i += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    if recorder is not None:
        await recorder.flush()  # the writes belong to the round that made them
    return done / (time.perf_counter() - started)


async def main() -> None:
    """Run the benchmark and print the numbers."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", choices=["memory", "postgres"], default="postgres")
    args = parser.parse_args()

    store: TupleStore
    if args.store == "postgres":
        store = await PostgresTupleStore.connect(os.environ["REBAC_DATABASE_URL"], quantization_seconds=0)
    else:
        store = MemoryTupleStore(quantization_seconds=0)
    try:
        written = await store.write(
            [
                RelationshipUpdate(Operation.TOUCH, parse_relationship(f"document:d{i}#viewer@user:u{i % 7}"))
                for i in range(200)
            ]
        )
        engine = Engine.build(store, compile_schema(SCHEMA), cache=CheckCache(100_000))
        revision = await engine.resolve(Consistency(ConsistencyMode.AT_LEAST_AS_FRESH, written.token))
        scope = DecisionScope("check", "bench", revision, 1, "0" * 64)
        recorder = DecisionRecorder(store, DecisionLogSettings())
        recorder.start(prune_every_seconds=None)
        await _round(engine, None, scope, 0.5, args.concurrency)  # warm the cache and the pool
        off: list[float] = []
        on: list[float] = []
        for _ in range(args.rounds):
            off.append(await _round(engine, None, scope, args.seconds, args.concurrency))
            on.append(await _round(engine, recorder, scope, args.seconds, args.concurrency))
        await recorder.aclose()
        stats = recorder.stats()
    finally:
        await store.close()
    base, logged = statistics.median(off), statistics.median(on)
    print(f"store={args.store} concurrency={args.concurrency} rounds={args.rounds} x {args.seconds}s")
    print(f"decision log off: {base:,.0f} checks/s")
    print(
        f"decision log on:  {logged:,.0f} checks/s "
        f"({stats.written:,} records written, {stats.dropped} dropped)"
    )
    print(f"overhead: {100 * (base - logged) / base:.1f} %")


if __name__ == "__main__":
    asyncio.run(main())

"""Server time of the console's decisions page over a large decision log.

Usage::

    REBAC_DATABASE_URL=postgresql+psycopg://... .venv/bin/python scripts/bench_console.py \
        [--decisions 100000] [--repeat 15] [--keep]

Fills the (migrated, otherwise unused) database's decision log with ``--decisions`` records
spread over the last seven days (2,000 subjects, 5,000 resources, 6 permissions, 4 sources, a
fifth of them denied), signs in to the console in-process (Litestar's test client: no network,
so the time is the server's: routing, the session check, the query and the template), and
prints, for each filter of the page, the median and the slowest of ``--repeat`` renders, plus
the machine's load. The records are deleted afterwards unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.config import ApiSettings, Settings
from rebac.store.base import DecisionRecord, DecisionResult
from rebac.store.postgres import PostgresTupleStore

KEY = "bench-console-key-0123456789abcdef"
PERMISSIONS = ("view", "edit", "invoke", "delete", "audit", "manage")
SOURCES = ("check", "authzen", "checkbulk", "access_request")
BATCH = 5_000


def _uuid7(at: datetime, rng: random.Random) -> str:
    millis = int(at.timestamp() * 1000)
    value = (millis << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def _records(count: int, now: datetime, rng: random.Random) -> list[DecisionRecord]:
    out: list[DecisionRecord] = []
    span = timedelta(days=7).total_seconds()
    for _ in range(count):
        at = now - timedelta(seconds=rng.random() * span)
        denied = rng.random() < 0.2
        out.append(
            DecisionRecord(
                decision_id=_uuid7(at, rng),
                decided_at=at,
                source=rng.choice(SOURCES),
                caller="bench",
                subject=f"agent:a{rng.randrange(2000)}",
                permission=rng.choice(PERMISSIONS),
                resource=f"document:d{rng.randrange(5000)}",
                result=DecisionResult.DENIED if denied else DecisionResult.ALLOWED,
                reason="no path grants the permission" if denied else "granted",
                chain=({"subject": "agent:a1", "depth": 0, "permissionship": "x", "reason": "granted"},),
                revision=1,
                latency_ms=0.4,
            )
        )
    return out


async def _time(client: AsyncTestClient[Any], path: str, repeat: int) -> tuple[float, float, int]:
    times: list[float] = []
    size = 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            msg = f"{path}: {response.status_code} {response.text[:200]}"
            raise SystemExit(msg)
        size = response.text.count("data-decision=")
    return statistics.median(times), max(times), size


async def main() -> None:
    """Fill the log, render the page with each filter, print the numbers."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    url = os.environ["REBAC_DATABASE_URL"]
    rng = random.Random(16)
    now = datetime.now(UTC)
    store = await PostgresTupleStore.connect(url, quantization_seconds=0)
    try:
        started = time.perf_counter()
        for offset in range(0, args.decisions, BATCH):
            await store.append_decisions(_records(min(BATCH, args.decisions - offset), now, rng))
        print(f"wrote {args.decisions:,} decisions in {time.perf_counter() - started:.1f} s")
        settings = Settings(api=ApiSettings(preshared_key=KEY, access_log=False))
        app = create_app(settings, store=store, schema_refresh_seconds=60)
        async with AsyncTestClient(app) as client:
            form = await client.get("/console/login")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            if token is None:
                raise SystemExit("the sign-in form has no CSRF token")
            signed = await client.post("/console/login", data={"csrf": token[1], "key": KEY, "next": ""})
            if signed.status_code != 200:  # followed to the decisions page
                raise SystemExit(f"sign-in failed: {signed.status_code}")
            since = (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
            until = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
            first = await client.get("/console/decisions")
            cursor = re.search(r"cursor=([^\"&]+)", first.text)
            older = f"/console/decisions?cursor={cursor[1]}" if cursor else "/console/decisions"
            marker = re.search(r"after=([^\"&]+)", first.text)
            poll = f"/console/decisions/new?after={marker[1]}" if marker else "/console/decisions/new"
            page = "/console/decisions"
            cases = [
                ("no filter (newest 50)", "/console/decisions"),
                ("older page (keyset cursor)", older),
                ("subject", "/console/decisions?subject=agent:a7"),
                ("resource", "/console/decisions?resource=document:d42"),
                ("permission", "/console/decisions?permission=delete"),
                ("result=denied", "/console/decisions?result=denied"),
                ("source=access_request", "/console/decisions?source=access_request"),
                ("time range (1 day)", f"/console/decisions?since={since}&until={until}"),
                ("subject + denied + source", f"{page}?subject=agent:a7&result=denied&source=check"),
                ("permission + source + day", f"{page}?permission=edit&source=authzen&since={since}"),
                ("source matching nothing", "/console/decisions?source=nowhere"),
                ("permission matching nothing", "/console/decisions?permission=nothing"),
                ("subject matching nothing", "/console/decisions?subject=agent:nobody"),
                ("live poll (nothing new)", poll),
            ]
            await client.get("/console/decisions")  # warm the pool and the templates
            print(f"{'case':32} {'median ms':>10} {'max ms':>8} {'rows':>5}")
            worst = 0.0
            for name, path in cases:
                median, slowest, rows = await _time(client, path, args.repeat)
                worst = max(worst, median)
                print(f"{name:32} {median:10.1f} {slowest:8.1f} {rows:5d}")
            print(f"slowest median: {worst:.1f} ms (target <= 300 ms)")
    finally:
        if not args.keep:
            await store.drop_decisions_before(now + timedelta(days=2))
        await store.close()
    print(f"load average: {os.getloadavg()}  cpus: {os.cpu_count()}")


if __name__ == "__main__":
    asyncio.run(main())

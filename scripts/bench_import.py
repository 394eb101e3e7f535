"""Bulk-import benchmark (not a test): load a generated dataset into a fresh database.

Usage::

    python3 /work/shared/bench/gen_agents.py --size 1000000 --out DIR
    python scripts/bench_import.py --dataset DIR [--url postgresql://root@127.0.0.1:5432/test]

``DIR/relationships.txt`` holds one relationship per line in the text syntax. The import goes
through the same path as ``rebac import`` (parse lines, COPY into a staging table, one
INSERT .. SELECT, all in one transaction) into a freshly created and migrated database, which is
dropped afterwards. Without ``--url`` (or ``REBAC_DATABASE_URL``) an embedded server is started in
a temporary directory. Prints tuples/s and the machine load (``os.getloadavg``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from rebac.services.interchange import parse_lines
from rebac.store.postgres import PostgresTupleStore
from rebac.store.postgres.embedded import embedded_postgres
from rebac.store.postgres.migrate import sync_url, upgrade_to_head


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def _server(url: str | None) -> Iterator[str]:
    if url:
        yield sync_url(url)
        return
    home = Path(tempfile.mkdtemp(prefix="rebac-bench-"))
    try:
        with embedded_postgres(home) as embedded:
            yield embedded
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def _fresh_database(server_url: str) -> Iterator[str]:
    name = f"rebac_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_to_head(url)
        yield url
    finally:
        with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _import(url: str, path: Path) -> tuple[int, float]:
    store = await PostgresTupleStore.connect(url)
    try:
        with path.open(encoding="utf-8") as lines:
            start = time.perf_counter()
            result = await store.bulk_import(parse_lines(lines))
            elapsed = time.perf_counter() - start
    finally:
        await store.close()
    return result.loaded, elapsed


def main() -> None:
    """Run the benchmark once and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True, help="directory made by gen_agents.py")
    parser.add_argument("--url", default=os.environ.get("REBAC_DATABASE_URL"), help="server to use")
    args = parser.parse_args()
    path: Path = args.dataset / "relationships.txt"
    if not path.is_file():
        parser.error(f"{path} does not exist")
    load_before = os.getloadavg()
    with _server(args.url) as server_url, _fresh_database(server_url) as url:
        loaded, elapsed = asyncio.run(_import(url, path))
    load_after = os.getloadavg()
    print(f"dataset:        {path}")
    print(f"server:         {'embedded pgserver' if not args.url else 'REBAC_DATABASE_URL / --url'}")
    print(f"tuples loaded:  {loaded:,}")
    print(f"elapsed:        {elapsed:.2f} s (parse + COPY + INSERT .. SELECT, one transaction)")
    print(f"rate:           {loaded / elapsed:,.0f} tuples/s (target >= 20,000)")
    print(f"cpus:           {os.cpu_count()}")
    print(f"load before:    {' '.join(f'{v:.2f}' for v in load_before)}")
    print(f"load after:     {' '.join(f'{v:.2f}' for v in load_after)}")


if __name__ == "__main__":
    main()

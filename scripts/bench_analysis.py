"""What-if replay and least-privilege timings on the agents dataset (issue 16).

Usage::

    python3 /work/shared/bench/gen_agents.py --size 2000 --checks 2000 --out /tmp/agents2k
    .venv/bin/python scripts/bench_analysis.py --data /tmp/agents2k [--store postgres|memory]

Loads the dataset, writes its schema, and logs every check of ``checks.txt`` (``--repeat`` times,
so identical checks repeat) through the real decision path (``Checks.decide``, recorded). Then it
times a what-if replay of the whole log under two proposals: a schema change (folder editors no
longer view documents through ``edit``) and relationship changes (the first ``--changes``
relationships deleted), and a least-privilege report of the agents with the most decisions.
PostgreSQL comes from ``REBAC_DATABASE_URL`` (an empty, migrated database) or a temporary
embedded server. Counts, timings and the machine load are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from bench_engine import FULL, open_store, relationships  # the same dataset loading

from rebac.config import Settings
from rebac.refs import parse_object, parse_subject
from rebac.services.core import Services

EDIT_VIEWS = "permission view = (viewer + edit + folder->view) - banned"
NO_EDIT_VIEWS = "permission view = (viewer + folder->view) - banned"


def checks(path: Path) -> list[tuple[str, str, str]]:
    """``(resource, permission, subject)`` of every line of ``checks.txt``."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split()[0]
        resource, _, rest = text.partition("#")
        permission, _, subject = rest.partition("@")
        out.append((resource, permission, subject))
    return out


async def main() -> None:
    """Load, log, replay, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="directory written by gen_agents.py")
    parser.add_argument("--store", choices=["postgres", "memory"], default="postgres")
    parser.add_argument("--repeat", type=int, default=2, help="times each check is logged")
    parser.add_argument("--changes", type=int, default=50, help="relationships the changes delete")
    args = parser.parse_args()
    data: Path = args.data
    schema = (data / "schema.zed").read_text(encoding="utf-8")
    print(f"load average: {os.getloadavg()}  cpus: {os.cpu_count()}  store: {args.store}")
    async with open_store(args.store) as store:
        services = Services(store, Settings(), schema_refresh_seconds=0)
        services.start()
        try:
            await services.schemas.write(schema, author="bench")
            rels = list(relationships(data / "relationships.txt"))
            await store.bulk_import(rels)
            current = await services.engines.current()
            revision = await services.checks.revision(current, FULL)
            asked = checks(data / "checks.txt") * args.repeat
            start = time.perf_counter()
            for resource, permission, subject in asked:
                check = (parse_object(resource), permission, parse_subject(subject))
                await services.checks.decide(current, None, "check", revision, check)
            if services.decisions.recorder is not None:
                await services.decisions.recorder.flush()
            logged = time.perf_counter() - start
            print(f"logged {len(asked)} decisions in {logged:.2f} s ({len(rels)} relationships)")
            changes = "".join(f"delete {rel}\n" for rel in rels[: args.changes])
            proposals = {
                "schema change": (schema.replace(EDIT_VIEWS, NO_EDIT_VIEWS), None),
                f"{args.changes} deletions": (None, changes),
            }
            for name, (schema_text, changes_text) in proposals.items():
                start = time.perf_counter()
                report = await services.what_if.replay(
                    current, schema_text=schema_text, changes_text=changes_text, since=timedelta(hours=1)
                )
                took = time.perf_counter() - start
                print(
                    f"what-if ({name}): {report.decisions} decisions, {report.unique} distinct checks, "
                    f"{report.flipped} flips ({report.revoked} revoked, {report.granted} granted), "
                    f"{len(report.unreplayable)} unreplayable in {took:.2f} s "
                    f"({report.decisions / took:.0f} decisions/s)"
                )
            busiest = Counter(s for _, _, s in asked if s.startswith("agent:")).most_common(3)
            for subject, _ in busiest:
                start = time.perf_counter()
                lp = await services.least_privilege.report(current, parse_subject(subject), timedelta(days=1))
                took = time.perf_counter() - start
                print(
                    f"least privilege: {lp.message}; raw {lp.held_raw}, {len(lp.removable)} removable, "
                    f"{lp.protected} protected checks, truncated={lp.truncated} in {took:.2f} s"
                )
        finally:
            await services.aclose()
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    asyncio.run(main())

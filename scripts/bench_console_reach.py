"""The console's blast-radius page for the 100k dataset's org-admin agent: server and browser times.

Usage::

    python3 /work/shared/bench/gen_agents.py --size 100000 --out /tmp/agents100k
    export REBAC_DATABASE_URL=postgresql+psycopg://root@127.0.0.1:5432/EMPTY_DB
    .venv/bin/python scripts/bench_console_reach.py --data /tmp/agents100k [--acts-for-owner]

The database must be empty and migrated. The script writes the dataset's schema (with
``--acts-for-owner``, ``acts_for owner`` added to ``agent``, so effective reach is capped by the
owning human), bulk-imports its relationships, and picks the agent as
``scripts/bench_blast_radius.py`` does (owned by an org admin, the largest raw reach of 20
candidates). Then it prints

* the **server time** of ``/console/blast-radius?subject=AGENT`` (median and slowest of
  ``--repeat``), rendered in-process by Litestar's test client (routing, the session check, the
  blast radius, the view shaping and the template; no network), with the entries, the nodes of the
  full graph and the nodes drawn;
* the **browser times** against a real ``rebac serve`` (started here on 127.0.0.1 and stopped by its
  PID) in Debian's Chromium under Playwright: the page's load, cytoscape's layout
  (``rebacReach.layoutMs``, from the script's start to ``layoutstop``), and for real mouse clicks
  on nodes the highlight's time (``rebacReach.lastTapMs``) and the click-to-highlight round trip.

The machine's load average is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_blast_radius import pick_agent
from bench_cli import free_port, stop
from bench_engine import relationships
from bench_freshness import _wait_ready as wait_ready
from litestar.testing import AsyncTestClient
from playwright.sync_api import Page, sync_playwright

from rebac.api.app import create_app
from rebac.config import Settings
from rebac.services.core import Services
from rebac.store.postgres import PostgresTupleStore

KEY = "bench-console-reach-0123456789abcdef"
CHROMIUM = os.environ.get("REBAC_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]


async def load(url: str, data: Path, *, acts_for_owner: bool) -> tuple[str, list[str]]:
    """Write the schema, import the relationships, pick the agent; it and its owners, as text."""
    text = (data / "schema.zed").read_text(encoding="utf-8")
    if acts_for_owner:
        text = text.replace("definition agent {", "definition agent {\n    acts_for owner", 1)
    store = await PostgresTupleStore.connect(url, quantization_seconds=0)
    try:
        services = Services(store, Settings(), schema_refresh_seconds=0)
        await services.schemas.write(text, author="bench")
        rels = list(relationships(data / "relationships.txt"))
        started = time.perf_counter()
        await store.bulk_import(rels)
        print(f"bulk import: {len(rels):,} relationships in {time.perf_counter() - started:.1f} s")
        current = await services.engines.current()
        agent = await pick_agent(current.engine, rels)
        owners = sorted(str(r.subject) for r in rels if r.resource == agent.object and r.relation == "owner")
        return str(agent), owners
    finally:
        await store.close()


async def server_times(url: str, path: str, repeat: int) -> tuple[list[float], str]:
    """Render ``path`` ``repeat`` times in-process (after one warm-up); the times and the last page.

    The app opens its own store in its lifespan (as ``rebac serve`` does), on the test client's loop.
    """
    env = {"REBAC_DATABASE_URL": url, "REBAC_PRESHARED_KEY": KEY, "REBAC_ACCESS_LOG": "off"}
    app = create_app(Settings.from_env(env), schema_refresh_seconds=60)
    async with AsyncTestClient(app) as client:
        form = await client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        if token is None:
            raise SystemExit("the sign-in form has no CSRF token")
        await client.post("/console/login", data={"csrf": token[1], "key": KEY})
        page = await client.get(path)
        if page.status_code != 200:
            raise SystemExit(f"{path}: {page.status_code} {page.text[:300]}")
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            page = await client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        return times, page.text


def _serve(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    rebac = str(Path(sys.executable).with_name("rebac"))
    env = {**os.environ, "REBAC_DATABASE_URL": url, "REBAC_PRESHARED_KEY": KEY, "REBAC_ACCESS_LOG": "off"}
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own console script
            [rebac, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
    except SystemExit:
        stop(proc)
        raise
    return proc


def _click(page: Page, node_id: str) -> float:
    """A real click on ``node_id``; the ms from the click to the highlight's mark on the page."""
    x, y = page.evaluate(
        """(id) => {
            const cy = window.rebacReach.cy; cy.resize();
            const at = cy.getElementById(id).renderedPosition();
            const box = document.getElementById("reach-graph").getBoundingClientRect();
            return [box.left + at.x, box.top + at.y];
        }""",
        node_id,
    )
    started = time.perf_counter()
    page.mouse.click(x, y)
    page.wait_for_function("(id) => window.rebacReach.selected === id", arg=node_id, timeout=10_000)
    return (time.perf_counter() - started) * 1000


def browser_times(base: str, path: str, clicks: int, shot: Path | None = None) -> dict[str, Any]:
    """Load the page in Chromium, read the layout time, click nodes; the numbers."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            outside: list[str] = []
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None)
            page.goto(f"{base}/console/login")
            page.fill("#key", KEY)
            page.click("#sign-in")
            page.wait_for_url(re.compile(r"/console/decisions"))
            started = time.perf_counter()
            page.goto(f"{base}{path}")
            page.wait_for_selector("#reach-graph.ready", timeout=120_000)
            loaded = (time.perf_counter() - started) * 1000
            page.locator("#reach-graph").scroll_into_view_if_needed()
            layout = float(page.evaluate("window.rebacReach.layoutMs"))
            ids: list[str] = page.evaluate(
                "(n) => window.rebacReach.cy.nodes('.reached').slice(0, n).map((x) => x.id())", clicks
            )
            round_trips, highlights = [], []
            for node_id in ids:
                round_trips.append(_click(page, node_id))
                highlights.append(float(page.evaluate("window.rebacReach.lastTapMs")))
            if shot is not None:
                page.screenshot(path=shot, full_page=True)
            return {
                "load_ms": loaded,
                "layout_ms": layout,
                "clicks": len(ids),
                "highlight_ms": highlights,
                "round_trip_ms": round_trips,
                "outside": [u for u in outside if not u.startswith(("data:", "about:"))],
            }
        finally:
            browser.close()


def _stats(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"median {statistics.median(values):.1f} ms, max {max(values):.1f} ms"


def measure(url: str, base: str, subject: str, repeat: int, clicks: int, *, shots: Path | None) -> None:
    """Time and print one subject's page: the server's render, then the browser's."""
    path = f"/console/blast-radius?subject={subject}"
    times, text = asyncio.run(server_times(url, path, repeat))
    drawn = re.search(r'data-drawn="(\d+)"', text)
    count = re.search(r'id="reach-count">(\d+)<', text)
    note = re.search(r'id="aggregated">(\d+) nodes', text)
    print(
        f"{subject}: server time {_stats(times)} over {repeat}; entries {count[1] if count else '?'}, "
        f"graph nodes {note[1] if note else drawn[1] if drawn else '?'}, drawn {drawn[1] if drawn else '?'}"
        f"{' (aggregated by type)' if note else ''}, page {len(text) / 1024:.0f} KiB"
    )
    shot = None if shots is None else shots / f"blast-radius-{subject.replace(':', '-')}.png"
    found = browser_times(base, path, clicks, shot)
    print(
        f"  browser: load to laid out {found['load_ms']:.0f} ms; layout {found['layout_ms']:.1f} ms; "
        f"{found['clicks']} clicks: highlight {_stats(found['highlight_ms'])}, "
        f"click to highlight {_stats(found['round_trip_ms'])}; off-origin requests: {len(found['outside'])}"
    )


def main() -> int:
    """Load, time the server, time the browser, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="directory written by gen_agents.py")
    parser.add_argument("--acts-for-owner", action="store_true", help="add acts_for owner to agent")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--screenshots", type=Path, help="save each page, after the clicks, in this folder")
    parser.add_argument("--agent", help="subject to draw (default: picked as bench_blast_radius does)")
    args = parser.parse_args()
    url = os.environ["REBAC_DATABASE_URL"]
    print(f"load average: {os.getloadavg()}  cpus: {os.cpu_count()}")
    agent, owners = asyncio.run(load(url, args.data, acts_for_owner=args.acts_for_owner))
    agent = args.agent or agent
    print(f"agent: {agent} (schema{' + acts_for owner' if args.acts_for_owner else ' as generated'})")
    port = free_port()
    log = Path(tempfile.gettempdir()) / f"bench-console-reach-{os.getpid()}.log"
    proc = _serve(url, port, log)
    try:
        for subject in (agent, *owners[:1]):  # the owner, an org admin, for scale: its reach is the org's
            measure(
                url, f"http://127.0.0.1:{port}", subject, args.repeat, args.clicks, shots=args.screenshots
            )
    finally:
        stop(proc)
    print(f"load average: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""End-to-end HTTP benchmark of ``rebac serve`` on a dataset in the ``gen_agents.py`` format.

Usage::

    python3 /work/shared/bench/gen_agents.py --size 100000 --out /tmp/bench100k
    .venv/bin/python scripts/bench_api.py --dataset /tmp/bench100k [--seconds 5] [--out results.json]
    .venv/bin/python scripts/bench_api.py --dataset DIR --url http://127.0.0.1:8080 --key KEY

The dataset directory holds ``schema.zed``, ``relationships.txt``, ``checks.txt``
(``resource#perm@subject true|false``) and ``lookups.txt`` (``type permission subject expected``).

Without ``--url`` the script starts ``rebac serve`` (granian, one worker) on a free 127.0.0.1 port
against ``REBAC_DATABASE_URL`` or, when that is unset, a throwaway database created on the server
of ``postgresql+psycopg://root@127.0.0.1:5432/test`` and dropped at the end, and waits for
``/readyz`` (migrated, reachable, relationship index loaded). It writes the schema,
imports the relationships (rate printed), verifies every line of ``checks.txt`` and
``lookups.txt`` over HTTP with full consistency (exit status 1 on any mismatch), then measures:

* check latency p50/p95/p99 and throughput at concurrency 1, 8 and 32, for ``minimizeLatency``
  and ``fullyConsistent`` separately, cycling through every check of the dataset;
* ``/healthz`` (no I/O) on the same server, and the check / no-I/O throughput ratio;
* lookup-resources time for each ``lookups.txt`` subject (all pages);
* the decision-log and access-log overheads: the c=8 check load against a second server started
  with ``REBAC_DECISION_LOG=off`` and a third with ``REBAC_ACCESS_LOG=off`` on the same database,
  against the first one (both on), with ``/healthz`` on the first in the same rounds (ratios).

The load generator is the raw-asyncio keep-alive client of ``scripts/bench_http.py`` (pre-encoded
requests, no HTTP library). Its cost is stated from measurement: the client's own CPU time per
request next to the server process tree's and the local PostgreSQL processes' CPU time per
request (from ``/proc``), and the client's
rate against ``/healthz``. The machine load before and after and the server's RSS
(``/proc/<pid>/status`` VmRSS, whole process tree) are printed and written to ``--out`` as JSON.
All traffic goes to 127.0.0.1; only the processes this script started are stopped, by PID.

``--workers N`` starts the server with N granian workers; ``--workers 1,2`` runs everything on the
first count, then starts one server per count on the same database and compares them: each
server answers every check once, then ``--rounds`` rounds run ``/healthz`` and the c=8 and c=32
``minimizeLatency`` check loads on each server in turn (medians; throughput relative to the first
count). ``--only-workers`` keeps the import and that comparison and skips the other phases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import importlib.util
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import psycopg

from rebac.store.postgres.capacity import connections_per_process, read_capacity
from rebac.store.postgres.migrate import upgrade_to_head

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = "postgresql://root@127.0.0.1:5432/test"
IMPORT_CHUNK = 50_000
LOOKUP_PAGE = 1_000
CONCURRENCIES = (1, 8, 32)
MODES = {"minimize_latency": {"minimizeLatency": True}, "fully_consistent": {"fullyConsistent": True}}
HAS = "PERMISSIONSHIP_HAS_PERMISSION"
MAX_REQUESTS_PER_RUN = 2_000_000  # a bound on each timed loop besides its duration


def _load_bench_http() -> ModuleType:
    """``scripts/bench_http.py`` as a module (its free-port and readiness helpers)."""
    spec = importlib.util.spec_from_file_location("bench_http", Path(__file__).with_name("bench_http.py"))
    if spec is None or spec.loader is None:
        raise RuntimeError("scripts/bench_http.py not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH_HTTP = _load_bench_http()


# ---------------------------------------------------------------------------- dataset


def _ref(text: str) -> dict[str, str]:
    kind, _, oid = text.partition(":")
    return {"objectType": kind, "objectId": oid}


def _subject(text: str) -> dict[str, Any]:
    obj, _, rel = text.partition("#")
    out: dict[str, Any] = {"object": _ref(obj)}
    if rel:
        out["optionalRelation"] = rel
    return out


def check_body(line: str, consistency: dict[str, bool]) -> tuple[dict[str, Any], bool]:
    """The check request of a ``checks.txt`` line and its expected answer."""
    rel, expected = line.rsplit(" ", 1)
    left, _, subject = rel.partition("@")
    resource, _, permission = left.partition("#")
    body = {
        "resource": _ref(resource),
        "permission": permission,
        "subject": _subject(subject),
        "consistency": consistency,
    }
    return body, expected == "true"


@dataclass(frozen=True, slots=True)
class Lookup:
    """One ``lookups.txt`` line."""

    resource_type: str
    permission: str
    subject: str
    expected: int


def read_lines(path: Path) -> list[str]:
    """Non-empty, non-comment lines."""
    return [x.strip() for x in path.read_text().splitlines() if x.strip() and not x.startswith("//")]


# ---------------------------------------------------------------------------- HTTP client


class Http:
    """Pre-encoded HTTP/1.1 requests to one 127.0.0.1 server over keep-alive connections."""

    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.key = key

    def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> bytes:
        """The bytes of one request."""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.key}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def post_json(self, path: str, value: Any) -> bytes:
        """A JSON POST."""
        return self.request("POST", path, json.dumps(value).encode())

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A new keep-alive connection."""
        return await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 24)

    @staticmethod
    async def exchange(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
    ) -> tuple[int, bytes]:
        """Send one request, read one Content-Length response."""
        writer.write(payload)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return status, await reader.readexactly(length)

    async def call(self, payload: bytes, timeout: float = 600.0) -> Any:
        """One request on a fresh connection; the decoded JSON body (error on non-200)."""
        reader, writer = await self.connect()
        try:
            status, body = await asyncio.wait_for(self.exchange(reader, writer, payload), timeout)
        finally:
            writer.close()
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {body[:500].decode(errors='replace')}")
        return json.loads(body) if body else None


async def load(
    http: Http, payloads: list[bytes], seconds: float, concurrency: int, server_pids: list[int]
) -> dict[str, float]:
    """Drive ``payloads`` (cycled) over ``concurrency`` connections for ``seconds``; latency and CPU."""

    async def one(start: int, stop: float, latencies: list[float]) -> None:
        reader, writer = await http.connect()
        i = start
        try:
            while time.perf_counter() < stop and len(latencies) < MAX_REQUESTS_PER_RUN:
                began = time.perf_counter()
                status, body = await http.exchange(reader, writer, payloads[i % len(payloads)])
                if status != 200:
                    raise RuntimeError(f"HTTP {status}: {body[:300].decode(errors='replace')}")
                latencies.append(time.perf_counter() - began)
                i += 1
        finally:
            writer.close()

    stride = max(1, len(payloads) // concurrency)
    await asyncio.gather(
        *(one(n * stride, time.perf_counter() + 0.5, []) for n in range(concurrency))
    )  # warm-up
    latencies: list[float] = []
    server_cpu0 = sum(_cpu_seconds(pid) for pid in server_pids)
    db_cpu0 = postgres_cpu_seconds()
    client_cpu0 = time.process_time()
    started = time.perf_counter()
    stop = started + seconds
    await asyncio.gather(*(one(n * stride, stop, latencies) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - client_cpu0
    server_cpu = sum(_cpu_seconds(pid) for pid in server_pids) - server_cpu0
    db_cpu = postgres_cpu_seconds() - db_cpu0
    ordered = sorted(latencies)
    n = len(ordered)

    def pct(p: float) -> float:
        return ordered[min(n - 1, int(n * p))] * 1000

    return {
        "concurrency": concurrency,
        "requests": n,
        "rps": n / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "client_cpu_us_per_request": 1e6 * client_cpu / n,
        "server_cpu_us_per_request": 1e6 * server_cpu / n if server_pids else float("nan"),
        "postgres_cpu_us_per_request": 1e6 * db_cpu / n,
    }


# ---------------------------------------------------------------------------- processes and /proc


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (granian's main process and its worker)."""
    tree: list[int] = []
    todo = [pid]
    while todo and len(tree) < 64:
        current = todo.pop()
        tree.append(current)
        todo += _children(current)
    return tree


def postgres_cpu_seconds() -> float:
    """CPU time of every local ``postgres`` process (read from /proc; it shares our two cores)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += _cpu_seconds(int(entry.name))
            except OSError:
                continue
    return total


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """VmRSS of one process in MiB (0 if gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def wait_readyz(port: int, proc: subprocess.Popen[bytes], timeout: float = 600.0) -> None:
    """Poll ``/readyz`` until 200: migrated, reachable and the relationship index loaded."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/readyz")
            if conn.getresponse().status == HTTPStatus.OK:
                print(f"server ready (index loaded) {time.monotonic() - started:.1f} s after it listened")
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    raise RuntimeError("the server did not become ready")


def all_workers_ready(port: int, count: int, tries: int = 2_000) -> set[int]:
    """The pids of ``count`` workers, once each answered ``/readyz`` with 200 (new connections)."""
    ready: set[int] = set()
    for _ in range(tries):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/readyz")
            response = conn.getresponse()
            body = json.loads(response.read())
            if response.status == HTTPStatus.OK:
                ready.add(int(body["pid"]))
        finally:
            conn.close()
        if len(ready) == count:
            return ready
        time.sleep(0.05)
    raise RuntimeError(f"only workers {sorted(ready)} of {count} became ready")


@contextmanager
def rebac_server(
    db_url: str,
    key: str,
    extra_env: dict[str, str],
    workers: int = 1,
    *,
    args: tuple[str, ...] = (),
    quiet: bool = False,
) -> Iterator[tuple[int, int]]:
    """``rebac serve --workers N ARGS`` on a free 127.0.0.1 port; yields (port, pid); stops that PID on exit.

    ``quiet``: the server's output is discarded (its access log would otherwise fill the terminal).
    """
    port = int(BENCH_HTTP._free_port())  # noqa: SLF001 - bench_http.py's helper
    env = {**os.environ, "REBAC_DATABASE_URL": db_url, "REBAC_PRESHARED_KEY": key, **extra_env}
    rebac = Path(sys.executable).with_name("rebac")
    proc = subprocess.Popen(  # noqa: S603 - our own entry point
        [str(rebac), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.DEVNULL if quiet else None,
    )
    try:
        BENCH_HTTP._wait_ready(port, proc, 60.0)  # noqa: SLF001 - bench_http.py's helper
        wait_readyz(port, proc)
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def database() -> Iterator[str]:
    """``REBAC_DATABASE_URL`` (migrated), or a throwaway database dropped afterwards."""
    url = os.environ.get("REBAC_DATABASE_URL")
    if url:
        upgrade_to_head(url)
        yield url
        return
    name = f"rebac_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+psycopg://root@127.0.0.1:5432/{name}"
        upgrade_to_head(url)
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settle_database(db_url: str) -> float:
    """VACUUM ANALYZE the freshly imported tables so autovacuum does not run during the timings."""
    started = time.perf_counter()
    libpq = db_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) relation_tuple")
        conn.execute("VACUUM (ANALYZE) revision")
    return time.perf_counter() - started


# ---------------------------------------------------------------------------- phases


async def load_dataset(http: Http, data: Path) -> dict[str, float]:
    """Write the schema, import the relationships in chunks; the rate."""
    await http.call(http.post_json("/v1/schema/write", {"schema": (data / "schema.zed").read_text()}))
    lines = read_lines(data / "relationships.txt")
    started = time.perf_counter()
    for i in range(0, len(lines), IMPORT_CHUNK):
        body = ("\n".join(lines[i : i + IMPORT_CHUNK]) + "\n").encode()
        await http.call(http.request("POST", "/v1/relationships/importbulk", body, "application/x-ndjson"))
    elapsed = time.perf_counter() - started
    return {"relationships": len(lines), "seconds": elapsed, "per_second": len(lines) / elapsed}


async def verify_checks(http: Http, lines: list[str], concurrency: int = 8) -> list[str]:
    """Every ``checks.txt`` answer, fully consistent; the mismatches."""
    mismatches: list[str] = []
    queue = list(enumerate(lines))

    async def worker() -> None:
        reader, writer = await http.connect()
        try:
            while queue:
                _, line = queue.pop()
                body, expected = check_body(line, MODES["fully_consistent"])
                status, raw = await http.exchange(
                    reader, writer, http.post_json("/v1/permissions/check", body)
                )
                got = status == 200 and json.loads(raw).get("permissionship") == HAS
                if status != 200 or got != expected:
                    mismatches.append(f"{line}: HTTP {status} {raw[:200].decode(errors='replace')}")
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return mismatches


async def warm_pass(http: Http, payloads: list[bytes], concurrency: int = 8) -> None:
    """Send every payload once (so a server's check cache is as warm as the other's)."""
    queue = list(payloads)

    async def worker() -> None:
        reader, writer = await http.connect()
        try:
            while queue:
                await http.exchange(reader, writer, queue.pop())
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def lookup_all(http: Http, item: Lookup, consistency: dict[str, bool], page: int) -> int:
    """Follow the cursors of one lookup-resources; the number of resources."""
    count, cursor, pages = 0, None, 0
    while pages < 100_000:
        body: dict[str, Any] = {
            "resourceObjectType": item.resource_type,
            "permission": item.permission,
            "subject": _subject(item.subject),
            "consistency": consistency,
            "optionalLimit": page,
        }
        if cursor:
            body["optionalCursor"] = {"token": cursor}
        answer = await http.call(http.post_json("/v1/permissions/resources", body))
        results = answer.get("results") or []
        count += len(results)
        pages += 1
        after = answer.get("afterResultCursor")
        cursor = after.get("token") if after else None
        if not cursor or not results:
            return count
    raise RuntimeError("lookup did not terminate")


def lookups_of(data: Path) -> list[Lookup]:
    """``lookups.txt``."""
    out = []
    for line in read_lines(data / "lookups.txt"):
        rtype, perm, subject, expected = line.split()
        out.append(Lookup(rtype, perm, subject, int(expected)))
    return out


def fmt(name: str, r: dict[str, float]) -> str:
    """One result line."""
    return (
        f"{name:34} c={r['concurrency']:<3.0f} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:7.2f}  "
        f"p95 {r['p95_ms']:7.2f}  p99 {r['p99_ms']:7.2f} ms  "
        f"cpu/req client {r['client_cpu_us_per_request']:5.0f} us "
        f"server {r['server_cpu_us_per_request']:5.0f} us postgres {r['postgres_cpu_us_per_request']:4.0f} us"
    )


async def run(args: argparse.Namespace, http: Http, pids: list[int], db_url: str | None) -> dict[str, Any]:
    """All phases against one (started or targeted) server."""
    data: Path = args.dataset
    out: dict[str, Any] = {"dataset": str(data)}
    if not args.skip_load:
        out["import"] = imp = await load_dataset(http, data)
        print(
            f"import: {imp['relationships']:,} relationships in {imp['seconds']:.1f} s "
            f"= {imp['per_second']:,.0f}/s"
        )
        if db_url is not None:
            settled = settle_database(db_url)
            print(f"VACUUM ANALYZE after the import: {settled:.1f} s (steady state, not mid-autovacuum)")
    if args.only_workers:
        return out
    checks = read_lines(data / "checks.txt")
    lookups = lookups_of(data)
    started = time.perf_counter()
    bad = await verify_checks(http, checks)
    for item in lookups:
        got = await lookup_all(http, item, MODES["fully_consistent"], LOOKUP_PAGE)
        if got != item.expected:
            bad.append(f"lookup {item}: got {got}")
    if bad:
        print(f"VERIFICATION FAILED: {len(bad)} mismatches", *bad[:20], sep="\n  ")
        raise SystemExit(1)
    print(
        f"verified: {len(checks)} checks and {len(lookups)} lookups, all as expected "
        f"({time.perf_counter() - started:.1f} s)"
    )
    out["verified"] = {"checks": len(checks), "lookups": len(lookups)}

    health = [http.request("GET", "/healthz")]
    results: dict[str, Any] = {"healthz": {}, "check": {m: {} for m in MODES}}
    for c in CONCURRENCIES:
        r = await load(http, health, args.seconds, c, pids)
        results["healthz"][str(c)] = r
        print(fmt("healthz (no I/O)", r))
    for mode, consistency in MODES.items():
        payloads = [http.post_json("/v1/permissions/check", check_body(x, consistency)[0]) for x in checks]
        for c in CONCURRENCIES:
            r = await load(http, payloads, args.seconds, c, pids)
            r["ratio_to_no_io"] = r["rps"] / results["healthz"][str(c)]["rps"]
            results["check"][mode][str(c)] = r
            print(fmt(f"check {mode}", r) + f"  ratio to no-I/O {100 * r['ratio_to_no_io']:.0f} %")
    out["results"] = results

    timings: list[dict[str, Any]] = []
    for item in lookups:
        times = []
        for _ in range(args.lookup_repeats):
            began = time.perf_counter()
            await lookup_all(http, item, MODES["minimize_latency"], 10_000)
            times.append((time.perf_counter() - began) * 1000)
        timings.append(
            {
                "lookup": f"{item.resource_type} {item.permission} {item.subject}",
                "resources": item.expected,
                "median_ms": statistics.median(times),
                "max_ms": max(times),
            }
        )
        print(
            f"lookup {item.resource_type} {item.permission} {item.subject:14} {item.expected:6} resources  "
            f"median {statistics.median(times):7.1f} ms  max {max(times):7.1f} ms"
        )
    out["lookups"] = timings

    if db_url is not None:
        out["decision_log"] = await decision_log_overhead(args, http, pids, db_url, checks)
    return out


async def decision_log_overhead(
    args: argparse.Namespace, http: Http, pids: list[int], db_url: str, checks: list[str]
) -> dict[str, Any]:
    """c=8 minimize-latency checks, A/B in the same rounds, and ``/healthz`` as the yardstick.

    The servers: this one (decision and access log on), a second one with the decision log off, a
    third with the access log off; ``/healthz`` runs on this one (the issue's no-I/O yardstick).

    Every server first answers every check once (the others start with a cold check cache), then
    ``--rounds`` rounds run each load once, in turn; the medians are compared.
    """
    payloads = [
        http.post_json("/v1/permissions/check", check_body(x, MODES["minimize_latency"])[0]) for x in checks
    ]
    health = [http.request("GET", "/healthz")]
    runs: dict[str, list[dict[str, float]]] = {"healthz": [], "on": [], "off": [], "access_off": []}
    with (
        rebac_server(db_url, http.key, {"REBAC_DECISION_LOG": "off"}) as (port, pid),
        rebac_server(db_url, http.key, {"REBAC_ACCESS_LOG": "off"}) as (access_port, access_pid),
    ):
        off_http, access_http = Http(port, http.key), Http(access_port, http.key)
        servers = {"on": (http, pids), "off": (off_http, process_tree(pid))}
        servers["access_off"] = (access_http, process_tree(access_pid))
        for server, _ in servers.values():  # equal footing: every check answered once on each server
            await server.call(server.request("GET", "/healthz"))
            await warm_pass(server, payloads)
        for _ in range(args.rounds):
            runs["healthz"].append(await load(http, health, args.seconds, 8, pids))
            for name, (server, server_pids) in servers.items():
                runs[name].append(await load(server, payloads, args.seconds, 8, server_pids))
    medians = {name: _median_run(measured) for name, measured in runs.items()}
    labels = {
        "healthz": "/healthz (same rounds)",
        "on": "check, both logs on",
        "off": "check, decision log off",
    }
    labels["access_off"] = "check, access log off"
    for name, best in medians.items():
        print(fmt(f"{labels[name]} (median run)", best))
    rps = {name: statistics.median([r["rps"] for r in measured]) for name, measured in runs.items()}
    overhead = 100 * (rps["off"] - rps["on"]) / rps["off"]
    access = 100 * (rps["access_off"] - rps["on"]) / rps["access_off"]
    on, yardstick = medians["on"], medians["healthz"]
    ratios = {
        "throughput": rps["on"] / rps["healthz"],
        "p50": on["p50_ms"] / yardstick["p50_ms"],
        "p99": on["p99_ms"] / yardstick["p99_ms"],
        "p99_log_off": medians["off"]["p99_ms"] / yardstick["p99_ms"],
    }
    print(
        f"decision log: on {rps['on']:,.0f} req/s, off {rps['off']:,.0f} req/s (c=8, minimize_latency, "
        f"median of {args.rounds}): overhead {overhead:.1f} %"
    )
    print(
        f"access log: on {rps['on']:,.0f} req/s, off {rps['access_off']:,.0f} req/s: overhead {access:.1f} %"
    )
    print(
        f"same-round ratios to /healthz (c=8, both logs on): throughput {ratios['throughput']:.2f}, "
        f"p50 {ratios['p50']:.2f}, p99 {ratios['p99']:.2f} "
        f"(decision log off: p99 {ratios['p99_log_off']:.2f})"
    )
    return {
        "on_rps": [r["rps"] for r in runs["on"]],
        "off_rps": [r["rps"] for r in runs["off"]],
        "overhead_percent": overhead,
        "access_log_overhead_percent": access,
        "same_round_ratios": ratios,
        "runs": runs,
    }


async def workers_comparison(args: argparse.Namespace, key: str, db_url: str) -> dict[str, Any]:
    """One server per ``--workers`` count on ``db_url``, measured in alternated rounds."""
    encoder = Http(0, key)  # the requests' bytes do not depend on the port
    body = MODES["minimize_latency"]
    checks = [
        encoder.post_json("/v1/permissions/check", check_body(x, body)[0])
        for x in read_lines(args.dataset / "checks.txt")
    ]
    loads = {"healthz": [encoder.request("GET", "/healthz")], "check": checks}
    counts: list[int] = args.workers
    pool = comparison_pool_size(db_url, sum(counts))
    runs: dict[str, list[dict[str, float]]] = {}
    with contextlib.ExitStack() as stack:
        servers: dict[int, tuple[Http, list[int]]] = {}
        for count in counts:
            env = {"REBAC_POOL_SIZE": str(pool)}
            port, pid = stack.enter_context(rebac_server(db_url, key, env, workers=count))
            seen = all_workers_ready(port, count)
            server = Http(port, key)
            await warm_pass(server, checks)  # each worker's check cache sees its share of the checks
            servers[count] = (server, process_tree(pid))
            print(f"{count} worker(s) ready: pids {sorted(seen)} (tree {servers[count][1]})")
        for _ in range(args.rounds):
            for count, (server, pids) in servers.items():
                for what, payloads in loads.items():
                    for c in (8, 32):
                        measured = await load(server, payloads, args.seconds, c, pids)
                        runs.setdefault(f"{count}:{what}:{c}", []).append(measured)
        rss = {count: sum(rss_mib(pid) for pid in pids) for count, (_, pids) in servers.items()}
    out: dict[str, Any] = {"rss_mib": rss}
    print("RSS (VmRSS, process tree): " + ", ".join(f"{n} worker(s) {mib:.0f} MiB" for n, mib in rss.items()))
    for name, rounds in runs.items():
        best = _median_run(rounds)
        out[name] = best
        workers, what, conc = name.split(":")
        first = out.get(f"{counts[0]}:{what}:{conc}", best)
        ratio = f"  x{best['rps'] / first['rps']:.2f} of {counts[0]} worker(s)"
        print(fmt(f"{workers} worker(s) {what} (median run)", best) + ratio)
    return out


def comparison_pool_size(db_url: str, processes: int, default: int = 10) -> int:
    """The largest ``REBAC_POOL_SIZE`` (at most ``default``) with which ``processes`` workers fit together.

    The comparison keeps every server up at once (1 + 2 workers = 3 processes), each worker
    opening up to ``3 * pool + 8`` connections under load. With the default pool that is 114 of
    the 97 a stock PostgreSQL accepts (fewer still when other clients are connected), so a busy
    worker met ``too many clients`` and answered 503 (fail closed). The pool is sized so that
    every worker's budget fits what the database has free now; the size is printed.
    """
    capacity = read_capacity(db_url)
    free = capacity.available - capacity.in_use
    pool = default
    while pool > 1 and processes * connections_per_process(pool) > free:
        pool -= 1
    need = processes * connections_per_process(pool)
    if need > free:
        raise RuntimeError(f"{processes} workers need {need} connections; only {free} are free")
    print(
        f"workers comparison: REBAC_POOL_SIZE {pool} for every server ({processes} worker processes x "
        f"{connections_per_process(pool)} = {need} connections, of {free} free: "
        f"max_connections {capacity.max_connections}, {capacity.reserved} reserved, {capacity.in_use} in use)"
    )
    return pool


def _median_run(measured: list[dict[str, float]]) -> dict[str, float]:
    """The run of median throughput."""
    return sorted(measured, key=lambda r: r["rps"])[len(measured) // 2]


def client_cost(out: dict[str, Any]) -> None:
    """Print and keep the client's CPU cost beside the server's."""
    checks = out["results"]["check"]
    health = out["results"]["healthz"]["8"]
    client_us = health["client_cpu_us_per_request"]
    c8 = checks["minimize_latency"]["8"]
    note = (
        f"client cost: alone against /healthz (c=8) the client drove {health['rps']:,.0f} req/s at "
        f"{client_us:.0f} us CPU/request (server {health['server_cpu_us_per_request']:.0f} us); during c=8 "
        f"minimize_latency checks the client spent {c8['client_cpu_us_per_request']:.0f} us/request "
        f"against the server's {c8['server_cpu_us_per_request']:.0f} us"
    )
    print(note)
    out["client_cost"] = note


def main() -> None:
    """Parse arguments, start or target a server, run, print, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--url", help="target a running server (127.0.0.1 only) instead of starting one")
    parser.add_argument("--key", help="preshared key of --url (default REBAC_PRESHARED_KEY)")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each timed load")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternated rounds of the decision-log comparison"
    )
    parser.add_argument("--lookup-repeats", type=int, default=5)
    parser.add_argument("--skip-load", action="store_true", help="with --url: the data is already loaded")
    parser.add_argument("--out", type=Path, default=Path("bench_api_results.json"))
    parser.add_argument(
        "--workers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1],
        help="granian workers (1,2: compare counts after the run on the first)",
    )
    parser.add_argument(
        "--only-workers", action="store_true", help="import, then only the workers comparison"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    print(f"load average before: {load_before}, cpus: {os.cpu_count()}")
    if args.url:
        parts = urlsplit(args.url)
        if parts.hostname not in {"127.0.0.1", "localhost"} or parts.port is None:
            parser.error("--url must be http://127.0.0.1:PORT")
        key = args.key or os.environ.get("REBAC_PRESHARED_KEY")
        if not key:
            parser.error("--url needs --key or REBAC_PRESHARED_KEY")
        out = asyncio.run(run(args, Http(parts.port, key), [], None))
        out["server_rss_mib"] = None
        print("targeted server: no RSS, server CPU or decision-log comparison (not started here)")
    else:
        key = secrets.token_urlsafe(24)
        with database() as db_url:
            with rebac_server(db_url, key, {}, workers=args.workers[0]) as (port, pid):
                http = Http(port, key)
                asyncio.run(http.call(http.request("GET", "/healthz")))  # the worker is up: find it
                pids = process_tree(pid)
                out = asyncio.run(run(args, http, pids, db_url))
                rss = {str(p): rss_mib(p) for p in pids}
                out["server_rss_mib"] = {"per_process": rss, "total": sum(rss.values())}
                print(f"server RSS (VmRSS, granian main + worker): {sum(rss.values()):.0f} MiB {rss}")
            # that server is stopped first: its pools must not take connections the comparison needs
            if len(args.workers) > 1 or args.only_workers:
                out["workers"] = asyncio.run(workers_comparison(args, key, db_url))
    if "results" in out:
        client_cost(out)
    load_after = os.getloadavg()
    out["load_average"] = {"before": load_before, "after": load_after}
    out["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    print(f"load average after: {load_after}")
    args.out.write_text(json.dumps(out, indent=2, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

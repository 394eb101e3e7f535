"""The latency ``rebac mcp-gateway`` adds to an MCP ``tools/call``, against calling the server directly.

Usage::

    .venv/bin/python scripts/bench_gateway.py [--requests 400] [--rounds 3] [--out results.json]

It starts, on free 127.0.0.1 ports: ``rebac serve`` (one worker, decision log on) on a throwaway
database created on the server of ``REBAC_DATABASE_URL`` or
``postgresql+psycopg://root@127.0.0.1:5432/test`` (dropped at the end), with the schema and
relationships of ``examples/mcp_gateway``; the demo FastMCP server over streamable HTTP; and the
gateway in front of it (JWT validated against a JWKS made here). Then, in alternating rounds, it
sends the same ``tools/call`` of ``search`` (an allowed call: a JWT check, a rebac decision and
the forwarded call) directly to the server and through the gateway, each at concurrency 1 and 8,
over keep-alive httpx connections with an initialized MCP session, and prints p50 / p99 of both
and the difference (the gateway's added latency), with the machine's load before and after, and
the CPU time per call of the gateway process, the rebac server and the MCP server (from
``/proc/PID/task/*/schedstat``: steadier than latency on a loaded machine). Last, the rebac
decision alone (the SDK's ``decide``, c=1), on httpx's transport and on the gateway's HTTP/1.1
client, with this process's CPU per decision. Only the processes this script started are
stopped, by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jwt
import psycopg
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import make_url

from rebac.client import Client
from rebac.gateway import gateway_client
from rebac.store.postgres.migrate import sync_url, upgrade_to_head

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mcp_gateway"
REBAC = str(Path(sys.executable).with_name("rebac"))
ISSUER = "https://idp.bench"
ACCEPT = "application/json, text/event-stream"


def _demo() -> ModuleType:
    """``examples/mcp_gateway/run.py``: its process helpers (``free_port``, ``wait``, ``stop``)."""
    spec = importlib.util.spec_from_file_location("mcp_gateway_run", EXAMPLE / "run.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("examples/mcp_gateway/run.py not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEMO = _demo()
free_port, wait, stop = DEMO.free_port, DEMO.wait, DEMO.stop


def libpq(url: str) -> str:
    """A libpq connection string."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def session(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """Initialize an MCP session; the headers of its requests."""
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        },
    }
    response = await http.post(url, json=init, headers={"accept": ACCEPT})
    response.raise_for_status()
    headers = {"accept": ACCEPT, "mcp-protocol-version": "2025-06-18"}
    if "mcp-session-id" in response.headers:
        headers["mcp-session-id"] = response.headers["mcp-session-id"]
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    (await http.post(url, json=note, headers=headers)).raise_for_status()
    return headers


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (``rebac serve`` runs its worker as a child process)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    tree = [pid]
    for each in tree:
        tree += [child for child, parent in parents.items() if parent == each]
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """The CPU time the threads of ``pids`` have run (``/proc/PID/task/*/schedstat``, in ns)."""
    total = 0
    for pid in pids:
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue  # a process that ended (its time is lost: see process_tree)
        for task in tasks:
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                continue  # a thread that ended meanwhile
    return total / 1e9


async def measure(
    url: str, token: str | None, requests: int, concurrency: int, pids: dict[str, list[int]]
) -> tuple[list[float], dict[str, float]]:
    """Latencies (ms) of ``requests`` tools/call at ``concurrency``; each process's CPU seconds meanwhile."""
    auth = {"authorization": f"Bearer {token}"} if token else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=auth, limits=limits, timeout=30) as http:
        headers = await session(http, url)
        ids = iter(range(1, 10**9))

        def body() -> bytes:  # a fresh id per request: a session matches answers by id
            call = {"name": "search", "arguments": {"query": "q"}}
            return json.dumps(
                {"jsonrpc": "2.0", "id": next(ids), "method": "tools/call", "params": call}
            ).encode()

        sent = {**headers, "content-type": "application/json"}
        for _ in range(20):  # warm-up: connections, caches
            (await http.post(url, content=body(), headers=sent)).raise_for_status()
        out: list[float] = []
        left = requests
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                content = body()
                start = time.perf_counter()
                response = await http.post(url, content=content, headers=sent)
                out.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200 or b"3 results" not in response.content:
                    sys.exit(f"{url}: unexpected answer {response.status_code}: {response.text[:300]}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return out, {name: cpu_seconds(pid) - cpu[name] for name, pid in pids.items()}


async def measure_decision(
    endpoint: str, key: str, requests: int, *, lean: bool
) -> tuple[list[float], float]:
    """Latencies (ms) of the rebac decision alone (the SDK's ``decide``, as the gateway sends it).

    ``lean``: on the gateway's HTTP/1.1 client, else on httpx's own transport. Also the CPU
    seconds this process spent per decision (the client's side of it).
    """
    async with gateway_client(endpoint, key, lean=lean) as client:
        via = ("agent:assistant", "user:alice")
        context = {"arguments": {"query": "q"}, "tool": "search"}
        out: list[float] = []
        cpu = 0.0
        for n in range(requests + 20):
            if n == 20:
                cpu = time.process_time()
            start = time.perf_counter()
            decision = await client.decide("tool:search", "call", "agent:assistant", context=context, via=via)
            if n >= 20:
                out.append((time.perf_counter() - start) * 1000)
            if not decision.allowed:
                sys.exit(f"the benchmark's decision is denied: {decision}")
        return out, (time.process_time() - cpu) / requests


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile."""
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


@dataclass
class Stack:
    """The running processes of a benchmark and how to reach them."""

    endpoint: str
    key: str
    direct: str
    gateway: str
    token: str
    procs: dict[str, subprocess.Popen[bytes]]

    @property
    def pids(self) -> dict[str, list[int]]:
        """Each process's tree now (``rebac serve`` runs a worker and a decision-log shipper)."""
        return {name: process_tree(proc.pid) for name, proc in self.procs.items()}


@contextlib.contextmanager
def stack() -> Iterator[Stack]:
    """``rebac serve`` on a throwaway database, the demo MCP server and the gateway; stopped at the end."""
    server = sync_url(os.environ.get("REBAC_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"))
    name = f"rebac_bench_gw_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = make_url(server).set(database=name).render_as_string(hide_password=False)
    work = Path(tempfile.mkdtemp(prefix="rebac-bench-gw-"))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        upgrade_to_head(database)
        key = "bench-" + secrets.token_hex(12)
        rebac_port, up_port, gw_port = free_port(), free_port(), free_port()
        endpoint = f"http://127.0.0.1:{rebac_port}"
        env = {**os.environ, "REBAC_DATABASE_URL": database, "REBAC_PRESHARED_KEY": key}
        with (work / "rebac.log").open("wb") as log:
            procs["rebac"] = subprocess.Popen(  # noqa: S603 - our own command
                [REBAC, "serve", "--port", str(rebac_port)], env=env, stdout=log, stderr=log
            )
        wait(f"{endpoint}/readyz", procs["rebac"], "rebac serve")
        with Client(endpoint, key=key) as client:
            client.write_schema((EXAMPLE / "schema.zed").read_text(encoding="utf-8"))
            client.write_relationships(
                [x for x in (EXAMPLE / "tuples.txt").read_text().splitlines() if x.strip()]
            )
        direct = f"http://127.0.0.1:{up_port}/mcp"
        with (work / "upstream.log").open("wb") as log:
            procs["upstream"] = subprocess.Popen(  # noqa: S603 - our own example
                [sys.executable, str(EXAMPLE / "server.py"), "http", str(up_port)], stdout=log, stderr=log
            )
        wait(direct, procs["upstream"], "the MCP server")
        signer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(signer.public_key())) | {"kid": "b", "alg": "RS256"}
        (work / "jwks.json").write_text(json.dumps({"keys": [public]}), encoding="utf-8")
        gateway = f"http://127.0.0.1:{gw_port}/mcp"
        command = [
            REBAC, "mcp-gateway", "--listen", f"127.0.0.1:{gw_port}", "--upstream", direct,
            "--endpoint", endpoint, "--key", key, "--jwks", str(work / "jwks.json"),
            "--issuer", ISSUER, "--audience", gateway,
        ]  # fmt: skip
        with (work / "gateway.log").open("wb") as log:
            procs["gateway"] = subprocess.Popen(command, stdout=log, stderr=log)  # noqa: S603
        wait(
            f"http://127.0.0.1:{gw_port}/.well-known/oauth-protected-resource",
            procs["gateway"],
            "the gateway",
        )
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": gateway, "sub": "alice", "client_id": "assistant", "exp": now + 3600}
        token = jwt.encode(claims, signer, algorithm="RS256", headers={"kid": "b"})
        yield Stack(endpoint, key, direct, gateway, token, procs)
    finally:
        for proc in reversed(procs.values()):
            stop(proc)
        with psycopg.connect(libpq(server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_concurrency(bench: Stack, concurrency: int, requests: int, rounds: int) -> dict[str, Any]:
    """Rounds of both modes, their order alternating; pooled and per-round percentiles, CPU per call.

    Each round measures ``direct`` and ``gateway`` back to back (direct first in even rounds,
    gateway first in odd ones), so a change of the machine's load hits both modes alike. The
    added latency of a round is its gateway percentile minus its direct one; the median over
    rounds is the figure that resists one noisy round, the pooled percentiles are also given.
    """
    samples: dict[str, list[float]] = {"direct": [], "gateway": []}
    cpu = {mode: dict.fromkeys(bench.procs, 0.0) for mode in samples}
    added: dict[str, list[float]] = {"p50": [], "p99": []}
    targets = {"direct": (bench.direct, None), "gateway": (bench.gateway, bench.token)}
    for n in range(rounds):
        order = ("direct", "gateway") if n % 2 == 0 else ("gateway", "direct")
        this: dict[str, list[float]] = {}
        for mode in order:
            url, bearer = targets[mode]
            this[mode], used = asyncio.run(measure(url, bearer, requests, concurrency, bench.pids))
            samples[mode] += this[mode]
            cpu[mode] = {name: cpu[mode][name] + used[name] for name in bench.procs}
        for q, level in (("p50", 0.5), ("p99", 0.99)):
            added[q].append(pct(this["gateway"], level) - pct(this["direct"], level))
    row: dict[str, Any] = {
        mode: {"p50": pct(v, 0.50), "p99": pct(v, 0.99), "n": len(v)} for mode, v in samples.items()
    }
    row["added_pooled"] = {q: row["gateway"][q] - row["direct"][q] for q in ("p50", "p99")}
    row["added_per_round"] = added
    row["added_median"] = {q: statistics.median(v) for q, v in added.items()}
    calls = requests * rounds
    row["cpu_us_per_call"] = {
        mode: {name: used / calls * 1e6 for name, used in per.items()} for mode, per in cpu.items()
    }
    return row


def report(concurrency: int, row: dict[str, Any]) -> None:
    """Print one concurrency's figures."""
    med, pooled = row["added_median"], row["added_pooled"]
    rounds = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(*row["added_per_round"].values(), strict=True))
    print(
        f"c={concurrency}: direct p50 {row['direct']['p50']:.2f} ms p99 {row['direct']['p99']:.2f} ms | "
        f"gateway p50 {row['gateway']['p50']:.2f} ms p99 {row['gateway']['p99']:.2f} ms "
        f"(n={row['direct']['n']} each)\n"
        f"  added, median of rounds: p50 {med['p50']:.2f} ms p99 {med['p99']:.2f} ms "
        f"(target <= 2 / <= 5 ms); pooled: p50 {pooled['p50']:.2f} p99 {pooled['p99']:.2f}; "
        f"per round p50/p99: {rounds}"
    )
    through, alone = row["cpu_us_per_call"]["gateway"], row["cpu_us_per_call"]["direct"]
    total = sum(through.values()) - alone["upstream"]
    print(
        f"  CPU per call through the gateway: gateway process {through['gateway']:.0f} us, "
        f"rebac server {through['rebac']:.0f} us, MCP server {through['upstream']:.0f} us "
        f"(direct: MCP server {alone['upstream']:.0f} us; added in all: {total:.0f} us)"
    )


def main() -> None:
    """Start everything, measure, print, stop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="tools/call per round and mode")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--concurrency", default="8,1", help="comma-separated concurrencies")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}")
    with stack() as bench:
        results: dict[str, Any] = {"load_average_before": os.getloadavg()}
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            row = run_concurrency(bench, concurrency, args.requests, args.rounds)
            results[f"c{concurrency}"] = row
            report(concurrency, row)
        for label, lean in (("httpx", False), ("http1", True)):
            alone, client_cpu = asyncio.run(
                measure_decision(bench.endpoint, bench.key, args.requests, lean=lean)
            )
            results[f"decision_{label}"] = {
                "p50": pct(alone, 0.5),
                "p99": pct(alone, 0.99),
                "client_cpu_us": client_cpu * 1e6,
            }
            print(
                f"the rebac decision alone (SDK decide, c=1, on {label}): p50 {pct(alone, 0.5):.2f} ms "
                f"p99 {pct(alone, 0.99):.2f} ms, client CPU {client_cpu * 1e6:.0f} us per decision"
            )
        results["load_average_after"] = os.getloadavg()
        print(f"load average after: {os.getloadavg()}")
        if args.out:
            args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

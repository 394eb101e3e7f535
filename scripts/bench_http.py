"""Loopback HTTP benchmark: granian vs uvicorn serving the same rebac app (one worker each).

Usage::

    .venv/bin/python scripts/bench_http.py [--seconds 5] [--concurrency 8] [--store memory|postgres]

For each server it starts a child process on a free 127.0.0.1 port (stopped by its PID), loads
``schema/agents.zed`` and its demo relationships, then drives ``GET /healthz`` (no I/O) and
``POST /v1/permissions/check`` with a small keep-alive HTTP/1.1 client (raw asyncio sockets, so the
load generator costs little), and prints req/s, p50 and p99 with the machine load. ``--store
postgres`` uses ``REBAC_DATABASE_URL`` (a migrated database) instead of the in-memory store.
The access log is on, as in ``rebac serve``; ``REBAC_ACCESS_LOG=off`` measures without it.
uvicorn is a dev-only dependency (the `dev` extra installs it with uvloop and httptools).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key-not-a-secret"
CHECK = {
    "resource": {"objectType": "document", "objectId": "roadmap"},
    "permission": "view",
    "subject": {"object": {"objectType": "user", "objectId": "alice"}},
}


def serve(server: str, port: int, store_kind: str, loop: str, cpu: int | None = None) -> None:
    """Child process: build the app, seed it, serve it with ``server`` until SIGTERM."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    from rebac.api.app import create_app  # noqa: PLC0415 - the child imports the app, the parent does not
    from rebac.config import ApiSettings, Settings  # noqa: PLC0415
    from rebac.refs import parse_relationship  # noqa: PLC0415
    from rebac.services.schemas import write_schema  # noqa: PLC0415
    from rebac.store.base import (  # noqa: PLC0415
        Operation,
        RelationshipUpdate,
        TupleStore,
    )
    from rebac.store.memory import MemoryTupleStore  # noqa: PLC0415
    from rebac.store.postgres import PostgresTupleStore  # noqa: PLC0415

    async def main() -> None:
        store: TupleStore
        if store_kind == "memory":
            store = MemoryTupleStore(quantization_seconds=0)
        else:
            store = await PostgresTupleStore.connect(os.environ["REBAC_DATABASE_URL"], quantization_seconds=0)
        await write_schema(store, (ROOT / "schema/agents.zed").read_text(), author="bench", force=True)
        lines = (ROOT / "schema/agents_demo.txt").read_text().splitlines()
        rels = [parse_relationship(x) for x in lines if x.strip() and not x.startswith("//")]
        await store.write([RelationshipUpdate(Operation.TOUCH, r) for r in rels])
        access_log = Settings.from_env().api.access_log  # REBAC_ACCESS_LOG=off: no access lines
        app = create_app(Settings(api=ApiSettings(preshared_key=KEY, access_log=access_log)), store=store)
        if server == "uvicorn":
            import uvicorn  # noqa: PLC0415

            config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
            await uvicorn.Server(config).serve()
        else:
            from granian.constants import Interfaces  # noqa: PLC0415
            from granian.server.embed import Server  # noqa: PLC0415

            await Server(
                app, address="127.0.0.1", port=port, interface=Interfaces.ASGI, log_enabled=False
            ).serve()

    if loop == "uvloop":
        import uvloop  # noqa: PLC0415

        uvloop.run(main())
    else:
        asyncio.run(main())


def _request(method: str, path: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _one_connection(port: int, payload: bytes, stop: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def load(port: int, payload: bytes, seconds: float, concurrency: int) -> dict[str, float]:
    """Drive ``payload`` over ``concurrency`` keep-alive connections for ``seconds``."""
    warm: list[float] = []
    await asyncio.gather(*(_one_connection(port, payload, time.perf_counter() + 0.5, warm) for _ in range(2)))
    latencies: list[float] = []
    started = time.perf_counter()
    stop = started + seconds
    await asyncio.gather(*(_one_connection(port, payload, stop, latencies) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        "requests": len(ordered),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def bench(
    server: str, seconds: float, concurrency: int, store_kind: str, loop: str, *, pin: bool = False
) -> dict[str, dict[str, float]]:
    """Start one server process, measure both endpoints, stop it by PID."""
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [
            sys.executable,
            __file__,
            "--child",
            server,
            "--port",
            str(port),
            "--store",
            store_kind,
            "--loop",
            loop,
            *(["--cpu", "0"] if pin else []),
        ],
        cwd=ROOT,
    )
    try:
        _wait_ready(port, proc)
        time.sleep(0.5)
        health = asyncio.run(load(port, _request("GET", "/healthz"), seconds, concurrency))
        body = json.dumps(CHECK).encode()
        check = asyncio.run(load(port, _request("POST", "/v1/permissions/check", body), seconds, concurrency))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {"healthz": health, "check": check}


def main() -> None:
    """Parse arguments; run the child or the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=["granian", "uvicorn"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--store", choices=["memory", "postgres"], default="memory")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--servers", default="granian,uvicorn")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--pin", action="store_true", help="server on CPU 0, load generator on CPU 1")
    args = parser.parse_args()
    if args.child:
        serve(args.child, args.port, args.store, args.loop, args.cpu)
        return
    if args.pin:
        os.sched_setaffinity(0, {1})
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}, pinned: {args.pin}")
    servers = args.servers.split(",")
    runs: dict[str, list[dict[str, dict[str, float]]]] = {server: [] for server in servers}
    for round_ in range(args.rounds):
        order = servers if round_ % 2 == 0 else servers[::-1]
        for server in order:
            results = bench(server, args.seconds, args.concurrency, args.store, args.loop, pin=args.pin)
            runs[server].append(results)
            for endpoint, numbers in results.items():
                print(
                    f"round {round_ + 1} {server:8} {endpoint:8} {numbers['rps']:8.0f} req/s  "
                    f"p50 {numbers['p50_ms']:6.2f} ms  p99 {numbers['p99_ms']:6.2f} ms  "
                    f"({numbers['requests']:.0f} requests, c={args.concurrency}, {args.loop})"
                )
    print(f"medians over {args.rounds} round(s); load average after: {os.getloadavg()}")
    for server, rounds in runs.items():
        for endpoint in ("healthz", "check"):
            rps = statistics.median(r[endpoint]["rps"] for r in rounds)
            p50 = statistics.median(r[endpoint]["p50_ms"] for r in rounds)
            p99 = statistics.median(r[endpoint]["p99_ms"] for r in rounds)
            print(f"median  {server:8} {endpoint:8} {rps:8.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")


if __name__ == "__main__":
    main()

"""Staleness between a write's acknowledgment and its visibility, across two ``rebac serve`` processes.

Usage::

    .venv/bin/python scripts/bench_freshness.py [--writes 200] [--server postgresql+psycopg://root@127.0.0.1:5432/test]

The script creates a throwaway database on ``--server`` (dropped at the end), migrates it, and
starts two ``rebac serve`` processes on free 127.0.0.1 ports with the default settings (default
reads bucketed at ``REBAC_QUANTIZATION_SECONDS``, 0.1 s unless set). For each of ``--writes``
writes it writes one relationship through server A and, from the moment A acknowledged it, sends
AuthZEN evaluations with no consistency token to server B until B allows; the delay is the
staleness of that write. It prints p50, p99 and max (milliseconds) and the machine load before and
after. All traffic goes to loopback; only the two processes it started are stopped, by PID.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import make_url

from rebac.store.postgres.migrate import upgrade_to_head

KEY = "bench-fresh-0a1b2c3d4e5f"
SCHEMA = (
    "definition user {}\ndefinition document {\n    relation viewer: user\n    permission view = viewer\n}\n"
)
REBAC = str(Path(sys.executable).with_name("rebac"))
MAX_WAIT_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _start(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REBAC_DATABASE_URL": url, "REBAC_PRESHARED_KEY": KEY}
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - our own console script
            [REBAC, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=out, stderr=out
        )


def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("a server exited during start-up")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("a server did not become ready")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _measure(writer: httpx.Client, reader: httpx.Client, writes: int) -> list[float]:
    writer.post("/v1/schema/write", json={"schema": SCHEMA}).raise_for_status()
    delays: list[float] = []
    for n in range(writes):
        update = {
            "operation": "OPERATION_TOUCH",
            "relationship": {
                "resource": {"objectType": "document", "objectId": f"d{n}"},
                "relation": "viewer",
                "subject": {"object": {"objectType": "user", "objectId": "u"}},
            },
        }
        body = {
            "subject": {"type": "user", "id": "u"},
            "action": {"name": "view"},
            "resource": {"type": "document", "id": f"d{n}"},
        }
        writer.post("/v1/relationships/write", json={"updates": [update]}).raise_for_status()
        acked = time.monotonic()
        while True:
            answer = reader.post("/access/v1/evaluation", json=body)
            answer.raise_for_status()
            waited = time.monotonic() - acked
            if answer.json()["decision"]:
                break
            if waited > MAX_WAIT_SECONDS:
                raise SystemExit(f"write {n} invisible after {waited:.1f} s")
            time.sleep(0.002)
        delays.append(waited)
    return delays


def main() -> None:
    """Run the benchmark and print the staleness distribution."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--server", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    name = f"rebac_fresh_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(args.server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.server).set(database=name).render_as_string(hide_password=False)
    procs: list[subprocess.Popen[bytes]] = []
    load_before = os.getloadavg()
    try:
        upgrade_to_head(url)
        logs = Path(tempfile.mkdtemp(prefix="bench-fresh-"))
        bases = []
        for label in ("a", "b"):
            port = _free_port()
            procs.append(_start(url, port, logs / f"{label}.log"))
            bases.append(f"http://127.0.0.1:{port}")
        for base, proc in zip(bases, procs, strict=True):
            _wait_ready(base, proc)
        headers = {"Authorization": f"Bearer {KEY}"}
        with (
            httpx.Client(base_url=bases[0], headers=headers, timeout=10) as writer,
            httpx.Client(base_url=bases[1], headers=headers, timeout=10) as reader,
        ):
            delays = sorted(d * 1000 for d in _measure(writer, reader, args.writes))
    finally:
        for proc in procs:
            _stop(proc)
        with psycopg.connect(_libpq(args.server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(f"writes: {len(delays)} (write via server A, AuthZEN evaluation without a token via server B)")
    print(f"staleness ms: p50 {statistics.median(delays):.1f}  p99 {p99:.1f}  max {delays[-1]:.1f}")
    print(
        f"load average before: {load_before[0]:.2f}  after: {os.getloadavg()[0]:.2f}  cores: {os.cpu_count()}"
    )


if __name__ == "__main__":
    main()

"""Start-up time of the CLI and the SDK: wall-clock medians of fresh processes, with the machine load.

Measures, each as N fresh processes (after one warm-up):

- ``python -c pass``: the interpreter alone (the floor);
- ``python -c "import rebac.client"``: the SDK's import (target: at most 150 ms);
- ``rebac --help`` (target: at most 300 ms);
- ``rebac check RESOURCE PERMISSION SUBJECT`` against a running server (target: at most 300 ms).

The server: ``--endpoint URL --key KEY`` of one that runs (the check is ``document:bench view
user:bench``; it may be denied, which is exit 1), or ``--database-url URL`` of a PostgreSQL
database this script may migrate and write: it then serves it with ``rebac serve`` on a free
loopback port, writes a small schema and one relationship, and stops the server (by its PID) at
the end. A benchmark, not a test: it prints numbers and the load average (1, 5, 15 min) before and
after, since the machine is shared.

    python scripts/bench_cli.py --database-url postgresql+psycopg://root@127.0.0.1:5432/bench -n 15
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
REBAC = str(Path(PYTHON).with_name("rebac"))
KEY = "bench-cli-key-5b0e1c2d"
SCHEMA = """definition user {}

definition document {
    relation viewer: user
    permission view = viewer
}
"""


def load() -> str:
    """The load averages and the core count."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def timed(argv: list[str], env: dict[str, str], runs: int, ok: set[int]) -> list[float]:
    """Wall seconds of ``runs`` fresh processes of ``argv`` (after one warm-up)."""
    subprocess.run(argv, env=env, capture_output=True, check=False)  # noqa: S603 - warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)  # noqa: S603
        times.append(time.perf_counter() - start)
        if done.returncode not in ok:
            sys.exit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return times


def report(name: str, times: list[float], target_ms: float | None) -> None:
    """Print the median, min and max in ms, and whether the target is met."""
    median = statistics.median(times) * 1000
    low, high = min(times) * 1000, max(times) * 1000
    goal = (
        ""
        if target_ms is None
        else f"  target <= {target_ms:.0f} ms: {'met' if median <= target_ms else 'NOT met'}"
    )
    print(f"{name:<32} median {median:7.1f} ms  min {low:7.1f}  max {high:7.1f}{goal}")


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    """Migrate and serve ``database_url``; write the benchmark's schema and relationship."""
    env = {**os.environ, "REBAC_DATABASE_URL": database_url, "REBAC_PRESHARED_KEY": KEY}
    subprocess.run([REBAC, "migrate"], env=env, check=True, capture_output=True)  # noqa: S603
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own console script
        [REBAC, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        stop(proc)
        sys.exit("the server did not become ready")
    headers = {"Authorization": f"Bearer {KEY}"}
    httpx.post(f"{base}/v1/schema/write", json={"schema": SCHEMA, "force": True}, headers=headers, timeout=30)
    rel = {
        "resource": {"objectType": "document", "objectId": "bench"},
        "relation": "viewer",
        "subject": {"object": {"objectType": "user", "objectId": "bench"}},
    }
    httpx.post(
        f"{base}/v1/relationships/write",
        json={"updates": [{"operation": "OPERATION_TOUCH", "relationship": rel}]},
        headers=headers,
        timeout=30,
    )
    return proc, base


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server (by its PID), SIGKILL if it does not stop."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=11, help="Fresh processes per measurement.")
    parser.add_argument("--endpoint", help="A running server (with --key).")
    parser.add_argument("--key", default=KEY)
    parser.add_argument("--database-url", help="A database to migrate and serve for the check.")
    args = parser.parse_args()
    env = {**os.environ, "REBAC_CONFIG": os.devnull}
    print(f"bench_cli: {args.runs} runs each; {load()}; python {sys.version.split()[0]}")
    report("python -c pass", timed([PYTHON, "-c", "pass"], env, args.runs, {0}), None)
    report("import rebac.client", timed([PYTHON, "-c", "import rebac.client"], env, args.runs, {0}), 150)
    report("rebac --help", timed([REBAC, "--help"], env, args.runs, {0}), 300)
    proc = None
    endpoint = args.endpoint
    if endpoint is None and args.database_url:
        proc, endpoint = serve(args.database_url)
    try:
        if endpoint is not None:
            check = [
                REBAC,
                "check",
                "document:bench",
                "view",
                "user:bench",
                "--endpoint",
                endpoint,
                "--key",
                args.key,
            ]
            report("rebac check (live server)", timed(check, env, args.runs, {0, 1}), 300)
        else:
            print("rebac check: skipped (give --endpoint or --database-url)")
    finally:
        if proc is not None:
            stop(proc)
    print(f"after: {load()}")


if __name__ == "__main__":
    main()

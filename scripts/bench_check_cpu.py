"""The check route's server CPU per request next to ``/healthz``'s, per process (worker, granian, shipper).

Usage::

    .venv/bin/python scripts/bench_check_cpu.py [--seconds 4] [--rounds 3] [--concurrency 8]
        [--env REBAC_FAST_PATH=off] [--profile out.svg]

Starts ``rebac serve --demo`` (one worker, decision log and access log on, as by default) on a
throwaway database of the local test server (dropped at the end), then runs ``--rounds``
alternated rounds of ``GET /healthz`` and ``POST /v1/permissions/check`` (``minimizeLatency``,
the demo's ``document:roadmap#view@user:alice`` and a denied variant) at ``--concurrency``
keep-alive connections, and prints, per load, req/s, p50/p99 and the CPU time per request of the
worker, granian's main process and the decision-log shipper (from ``/proc/<pid>/stat``), medians
over the rounds, with the machine load before and after. ``--profile`` records the worker with
``py-spy`` (when installed) during one extra check load. Only the processes it started are
stopped, by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    if spec is None or spec.loader is None:
        raise RuntimeError(f"scripts/{name}.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


API = _module("bench_api")
KEY = "bench-check-cpu-not-a-secret"
CHECKS = [
    ("document", "roadmap", "view", "user", "alice"),
    ("document", "payroll", "view", "user", "alice"),
]


def _check(kind: str, oid: str, perm: str, skind: str, sid: str) -> dict[str, Any]:
    return {
        "resource": {"objectType": kind, "objectId": oid},
        "permission": perm,
        "subject": {"object": {"objectType": skind, "objectId": sid}},
        "consistency": {"minimizeLatency": True},
    }


def _roles(root: int) -> dict[str, int]:
    """``worker``, ``main`` and ``shipper`` pids of the server tree (by command line)."""
    roles: dict[str, int] = {}
    for pid in API.process_tree(root):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if pid == root:
            roles["main"] = pid
        elif "ship" in cmd:
            roles["shipper"] = pid
        else:
            roles.setdefault("worker", pid)
    return roles


async def _one(
    http: Any, payloads: list[bytes], seconds: float, concurrency: int, roles: dict[str, int]
) -> dict[str, float]:
    before = {role: API._cpu_seconds(pid) for role, pid in roles.items()}  # noqa: SLF001
    result: dict[str, float] = await API.load(http, payloads, seconds, concurrency, [])
    after = {role: API._cpu_seconds(pid) for role, pid in roles.items()}  # noqa: SLF001
    n = result["requests"]
    for role in roles:
        result[f"{role}_cpu_us"] = 1e6 * (after[role] - before[role]) / n
    return result


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def _line(name: str, r: dict[str, float]) -> str:
    cpu = " ".join(f"{k[:-7]}={r[k]:.0f}us" for k in sorted(r) if k.endswith("_cpu_us"))
    return (
        f"{name:<8} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  cpu/req: {cpu}"
    )


async def _run(args: argparse.Namespace, port: int, roles: dict[str, int]) -> dict[str, Any]:
    http = API.Http(port, KEY)
    health = [http.request("GET", "/healthz")]
    checks = [http.post_json("/v1/permissions/check", _check(*c)) for c in CHECKS]
    answer = await http.call(checks[0])
    if answer["permissionship"] != API.HAS:
        raise RuntimeError(f"the demo check did not allow: {answer}")
    await API.warm_pass(http, checks * 200)
    rounds: dict[str, list[dict[str, float]]] = {"healthz": [], "check": []}
    for _ in range(args.rounds):
        rounds["healthz"].append(await _one(http, health, args.seconds, args.concurrency, roles))
        rounds["check"].append(await _one(http, checks, args.seconds, args.concurrency, roles))
    if args.profile:
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        proc = subprocess.Popen(  # noqa: S603, ASYNC220 - a local profiler on our own worker, started once
            [
                spy,
                "record",
                "-p",
                str(roles["worker"]),
                "-o",
                str(args.profile),
                "-d",
                str(int(args.seconds) + 1),
                "-f",
                args.profile_format,
                "-r",
                "200",
            ],
        )
        await _one(http, checks, args.seconds + 2, args.concurrency, roles)
        proc.wait()
    return {k: _median(v) for k, v in rounds.items()}


def main() -> None:
    """Run the rounds and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument("--profile", type=Path, help="py-spy output of the worker during one more check load")
    parser.add_argument("--profile-format", default="raw", help="py-spy format (raw, flamegraph, speedscope)")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    print(f"load average before: {os.getloadavg()}")
    with API.database() as db_url, tempfile.TemporaryDirectory() as home:
        server = API.rebac_server(db_url, KEY, {"REBAC_HOME": home, **extra}, args=("--demo",), quiet=True)
        with server as (port, pid):
            time.sleep(1.0)  # minimizeLatency's revision catches up with the demo's writes
            out = asyncio.run(_run(args, port, _roles(pid)))
    for name, r in out.items():
        print(_line(name, r))
    ratio = out["check"]["worker_cpu_us"] / out["healthz"]["worker_cpu_us"]
    print(f"worker cpu check/healthz: {ratio:.2f}")
    print(f"load average after: {os.getloadavg()}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()

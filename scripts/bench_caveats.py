"""Caveat evaluation cost: one compiled caveat evaluated many times (cel-expr-python, cel-cpp).

Usage::

    .venv/bin/python scripts/bench_caveats.py [--n 20000]

Prints the mean microseconds per evaluation for a few caveat shapes (the context conversion to
the declared types included), and the machine load. No target; compare runs on the same machine.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from rebac.engine.caveats import CaveatSet
from rebac.errors import CaveatEvaluationError
from rebac.schema import compile_schema

SCHEMA = """
definition user {}
caveat limit(amount int, max int) { amount < max }
caveat spend(arguments map<any>) { arguments.amount < 100 && arguments.currency == "EUR" }
caveat network(ip ipaddress, cidr string) { ip.in_cidr(cidr) }
caveat window(now timestamp, until timestamp) { now < until }
"""
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("limit", {"max": 10}, {"amount": 5}),
    ("limit", {"max": 10}, {"amount": "5"}),
    ("spend", {}, {"arguments": {"amount": 5, "currency": "EUR"}}),
    ("network", {"cidr": "10.0.0.0/8"}, {"ip": "10.1.2.3"}),
    ("window", {"until": "2030-01-01T00:00:00Z"}, {"now": "2026-01-01T00:00:00Z"}),
]


def main() -> None:
    """Time each case."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000, help="evaluations per case")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}  cpus: {os.cpu_count()}")
    caveats = CaveatSet(compile_schema(SCHEMA).caveats)
    for name, stored, request in CASES:
        try:
            caveats.evaluate(name, stored, request)
        except CaveatEvaluationError as exc:
            print(f"{name} {request}: refused ({exc})")
            continue
        began = time.perf_counter()
        for _ in range(args.n):
            caveats.evaluate(name, stored, request)
        per = (time.perf_counter() - began) / args.n * 1e6
        print(f"{name} {request}: {per:.2f} µs per evaluation")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""PostgreSQL restarted under load (issue 15): no wrong allow, 503 problems during the outage,
answers again within 5 s of the restart, and the in-memory index following again.

The test runs its own PostgreSQL (see ``faults_helpers``), ``rebac serve`` against it on a loopback
port, and one client thread sending a bounded loop of checks, stops the server for about two
seconds and starts it again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from faults_helpers import Load, OwnPostgres, own_postgres, wait_for
from live_server import KEY, free_port, start, stop, wait_ready

pytestmark = pytest.mark.integration

SCHEMA = """
definition user {}

definition document {
    relation viewer: user
    relation banned: user
    permission view = viewer - banned
}
"""

RELATIONSHIPS = [("d1", "viewer", "alice"), ("d1", "viewer", "bob"), ("d1", "banned", "bob")]
EXPECTED = {"alice": "PERMISSIONSHIP_HAS_PERMISSION", "bob": "PERMISSIONSHIP_NO_PERMISSION"}
AUTH = {"Authorization": f"Bearer {KEY}"}
OUTAGE_SECONDS = 7.0  # longer than the 5 s request deadline, so requests sent in it must end in it


def touch(rid: str, relation: str, user: str) -> dict[str, Any]:
    return {
        "operation": "OPERATION_TOUCH",
        "relationship": {
            "resource": {"objectType": "document", "objectId": rid},
            "relation": relation,
            "subject": {"object": {"objectType": "user", "objectId": user}},
        },
    }


def check(client: httpx.Client, i: int) -> tuple[str, httpx.Response]:
    """Alternately alice (allowed) and bob (excluded), every other one fully consistent."""
    user = "alice" if i % 2 == 0 else "bob"
    body: dict[str, Any] = {
        "resource": {"objectType": "document", "objectId": "d1"},
        "permission": "view",
        "subject": {"object": {"objectType": "user", "objectId": user}},
    }
    full = i % 4 < 2
    if full:
        body["consistency"] = {"fullyConsistent": True}
    return f"{user}:{'full' if full else 'latency'}", client.post("/v1/permissions/check", json=body)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[OwnPostgres, str]]:
    with own_postgres() as pg:
        port = free_port()
        proc = start(pg.url, port, tmp_path / "serve.log")
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, proc)
            yield pg, base
        finally:
            stop(proc)
            if proc.returncode not in {0, -15}:
                print((tmp_path / "serve.log").read_text())  # noqa: T201 - shown on failure


def index_state(base: str) -> dict[str, Any]:
    try:
        body = httpx.get(f"{base}/readyz", timeout=5).json()
    except (httpx.TransportError, ValueError):
        return {}
    index: dict[str, Any] = body.get("index") or {}
    return index


def test_postgres_restart_under_load(served: tuple[OwnPostgres, str]) -> None:
    pg, base = served
    with httpx.Client(base_url=base, headers=AUTH, timeout=15) as client:
        assert client.post("/v1/schema/write", json={"schema": SCHEMA}).status_code == 200
        written = client.post("/v1/relationships/write", json={"updates": [touch(*r) for r in RELATIONSHIPS]})
        assert written.status_code == 200, written.text
        # minimize_latency reads are quantized (a few seconds stale): start once they see the writes.
        wait_for(
            lambda: check(client, 2)[1].json().get("permissionship") == EXPECTED["alice"],
            30,
            "minimize_latency reads to see the relationships",
        )
    wait_for(lambda: index_state(base).get("state") == "ready", 30, "the index to be ready")

    with Load(check, base, AUTH, threads=3) as load:
        wait_for(lambda: load.count() >= 40, 30, "the load to run")
        pg.stop()
        stopped = time.monotonic()
        wait_for(lambda: time.monotonic() - stopped >= OUTAGE_SECONDS, 15, "the outage")
        restarting = time.monotonic()
        pg.start()
        restarted = time.monotonic()  # the server accepts connections (pg_ctl -w)
        wait_for(
            lambda: any(a.sent >= restarted and a.status == 200 and "full" in a.name for a in load.answers),
            30,
            "a fully consistent answer after the restart",
        )
        settled = load.count()
        wait_for(lambda: load.count() >= settled + 40, 30, "more load after the restart")
    answers = list(load.answers)

    # No wrong answer, ever: every 200 is the right decision; everything else is a 503 problem.
    for answer in answers:
        assert answer.status in {200, 503}, answer
        if answer.status == 200:
            user = answer.name.split(":")[0]
            assert answer.body["permissionship"] == EXPECTED[user], answer
        else:
            assert answer.content_type.startswith("application/problem+json"), answer
            assert answer.body["status"] == 503, answer

    # During the outage, a fully consistent check cannot be answered: 503 problem details.
    outage = [a for a in answers if stopped <= a.sent and a.done <= restarting and a.name.endswith("full")]
    assert outage, "no fully consistent check ran during the outage"
    assert all(a.status == 503 for a in outage), outage

    # Answers again within 5 s of the restart (and keeps answering).
    first = min(a.done for a in answers if a.sent >= restarting and a.status == 200)
    recovered_in = first - restarted
    print(f"outage: {len(outage)} 503s; first answer {recovered_in:+.2f} s from the restart")  # noqa: T201
    assert recovered_in <= 5.0
    tail = [a for a in answers if a.sent >= first]
    assert tail
    assert all(a.status == 200 for a in tail), [a for a in tail if a.status != 200][:3]

    # The index follows again: ready, and a new write is applied by it.
    wait_for(lambda: index_state(base).get("state") == "ready", 15, "the index to be ready again")
    before = index_state(base)["applied"]
    with httpx.Client(base_url=base, headers=AUTH, timeout=15) as client:
        written = client.post("/v1/relationships/write", json={"updates": [touch("d2", "viewer", "carol")]})
        assert written.status_code == 200, written.text
        wait_for(lambda: index_state(base).get("applied", 0) > before, 10, "the index to apply the write")
        token = written.json()["writtenAt"]["token"]
        final = client.post(
            "/v1/permissions/check",
            json={
                "resource": {"objectType": "document", "objectId": "d2"},
                "permission": "view",
                "subject": {"object": {"objectType": "user", "objectId": "carol"}},
                "consistency": {"atLeastAsFresh": {"token": token}},
            },
        )
    assert final.status_code == 200, final.text
    assert final.json()["permissionship"] == "PERMISSIONSHIP_HAS_PERMISSION"

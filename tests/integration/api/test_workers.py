"""``rebac serve --workers 2``: two processes, each with its own pools and index, one log.

Against a real server with two granian workers: new connections land on both (``/readyz`` names
each worker's pid and instance); a write one worker acknowledged is seen by the other at its
token (and so is a delete); each worker's ``/metrics`` labels its series with its own decision
point; and every decision of both workers is in the decision log after a clean shutdown, under
the worker's instance name, with none written before it (the flush interval is an hour), so the
shutdown's drain is what wrote them. Also: worker counts that cannot fit ``max_connections`` and
bad values are refused before any worker starts, in one line.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from api_helpers import SCHEMA, check_body, rel
from live_server import KEY, REBAC, free_port, start, stop

from rebac.store.postgres.migrate import upgrade_to_head

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {KEY}"}
HAS = "PERMISSIONSHIP_HAS_PERMISSION"
NO = "PERMISSIONSHIP_NO_PERMISSION"
NAME = "wk-test"
ROUNDS = 15
MAX_NEW_CONNECTIONS = 400  # the bound on connections tried before both workers must have answered


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _local_port(response: httpx.Response) -> int:
    """The client-side port of the TCP connection that carried ``response``."""
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


@dataclass
class Pinned:
    """One keep-alive connection, so one worker: every request is checked to have used it."""

    client: httpx.Client
    pid: int
    instance: str
    port: int
    checks: int = 0
    seen: list[int] = field(default_factory=list)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, path, headers=AUTH, **kwargs)
        self.seen.append(_local_port(response))
        return response

    def write(self, operation: str, doc: str, user: str) -> dict[str, Any]:
        update = {"operation": operation, "relationship": rel("document", doc, "viewer", "user", user)}
        response = self.call("POST", "/v1/relationships/write", json={"updates": [update]})
        assert response.status_code == 200, response.text
        token: dict[str, Any] = response.json()["writtenAt"]
        return token

    def check(self, doc: str, user: str, token: dict[str, Any]) -> str:
        body = check_body(doc, "view", user, consistency={"atLeastAsFresh": token})
        response = self.call("POST", "/v1/permissions/check", json=body)
        assert response.status_code == 200, response.text
        self.checks += 1
        return str(response.json()["permissionship"])


def _readyz(base: str) -> tuple[int, dict[str, Any]]:
    """``/readyz`` on a new connection: its status and body."""
    with httpx.Client(base_url=base, timeout=5) as http:
        response = http.get("/readyz")
        return response.status_code, response.json()


def _both_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> dict[int, str]:
    """``{pid: instance}`` of the workers, once each has answered ``/readyz`` with 200."""
    ready: dict[int, str] = {}
    deadline = time.monotonic() + timeout
    tries = 0
    while len(ready) < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            status, body = _readyz(base)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        tries += 1
        if status == 200:
            ready[int(body["pid"])] = str(body["instance"])
        else:
            time.sleep(0.1)  # a worker still loading its index
    assert len(ready) == 2, f"one worker only answered within {timeout} s ({tries} connections): {ready}"
    return ready


def _pin(base: str, workers: dict[int, str]) -> dict[int, Pinned]:
    """A keep-alive connection to each worker (new connections until each pid is held)."""
    pinned: dict[int, Pinned] = {}
    for _ in range(MAX_NEW_CONNECTIONS):
        if len(pinned) == len(workers):
            break
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        client = httpx.Client(base_url=base, timeout=10, limits=limits)
        response = client.get("/readyz")
        pid = int(response.json()["pid"])
        if pid in pinned:
            client.close()
            continue
        pinned[pid] = Pinned(client, pid, workers[pid], _local_port(response))
    assert len(pinned) == len(workers), f"new connections reached {sorted(pinned)} only"
    return pinned


def _decision_points(url: str) -> Counter[str]:
    with psycopg.connect(_libpq(url)) as conn:
        rows = conn.execute("SELECT decision_point, count(*) FROM decision_log GROUP BY 1").fetchall()
    return Counter({str(point): int(count) for point, count in rows})


SPOOL, THREAD = "spool", "writer thread"


@pytest.fixture(params=[SPOOL, THREAD])
def server(
    request: pytest.FixtureRequest, empty_database_url: str, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path, str]]:
    """Two workers; their decision logs go through the spool and its shippers (the default), or
    through each worker's writer thread holding them until shutdown (flush: 1 h)."""
    upgrade_to_head(empty_database_url)
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        "REBAC_INSTANCE_NAME": NAME,
        "REBAC_METRICS": "key",
        "REBAC_DECISION_SPOOL": str(tmp_path / "spool"),
    }
    if request.param == THREAD:
        env |= {"REBAC_DECISION_SPOOL": "off", "REBAC_DECISION_FLUSH_SECONDS": "3600"}
    proc = start(empty_database_url, port, log, "--workers", "2", env=env)
    try:
        yield f"http://127.0.0.1:{port}", proc, log, request.param
    finally:
        stop(proc)


def test_two_workers_share_tokens_and_the_decision_log(
    server: tuple[str, subprocess.Popen[bytes], Path, str], empty_database_url: str
) -> None:
    base, proc, log, mode = server
    workers = _both_ready(base, proc)
    for pid, instance in workers.items():
        assert instance == f"{NAME}:{pid}"  # a configured name gets each worker's pid
    assert "2 workers x up to 38 connections" in log.read_text(errors="replace")
    pinned = _pin(base, workers)
    first, second = pinned.values()
    assert first.call("POST", "/v1/schema/write", json={"schema": SCHEMA}).status_code == 200

    # A token one worker gave is honoured by the other, for a grant and for its removal.
    for n in range(ROUNDS):
        for writer, reader in ((first, second), (second, first)):
            doc, user = f"d{n}-{writer.pid}", f"u{n}"
            granted = writer.write("OPERATION_TOUCH", doc, user)
            assert reader.check(doc, user, granted) == HAS, f"round {n}: worker {reader.pid} missed the write"
            removed = writer.write("OPERATION_DELETE", doc, user)
            assert reader.check(doc, user, removed) == NO, f"round {n}: worker {reader.pid} missed the delete"

    # Each worker's metrics are its own, labelled with its decision point.
    for worker in pinned.values():
        text = worker.call("GET", "/metrics").text
        labels = set(re.findall(r'decision_point="([^"]*)"', text))
        assert labels == {worker.instance}, labels
        decided = re.findall(
            r'^rebac_decisions_total\{[^}]*result="(?:allowed|denied)"[^}]*\} (\S+)$', text, re.MULTILINE
        )
        assert sum(float(value) for value in decided) == worker.checks

    for worker in pinned.values():  # every request above used the worker's one connection
        assert set(worker.seen) == {worker.port}, f"worker {worker.pid}'s connection was replaced"
        worker.client.close()
    if mode == THREAD:
        assert sum(_decision_points(empty_database_url).values()) == 0  # all still queued (flush: 1 h)

    stop(proc)
    assert proc.returncode == 0, log.read_text(errors="replace")[-2000:]
    expected = Counter({worker.instance: worker.checks for worker in pinned.values()})
    assert _decision_points(empty_database_url) == expected  # both workers, none lost at shutdown
    assert all(count == 2 * ROUNDS for count in expected.values())


def _serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own console script
        [REBAC, "serve", "--host", "127.0.0.1", "--port", str(free_port()), *args],
        env={**os.environ, "REBAC_PRESHARED_KEY": KEY, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_workers_that_cannot_fit_max_connections_are_refused(migrated_url: str) -> None:
    done = _serve({"REBAC_DATABASE_URL": migrated_url, "REBAC_POOL_SIZE": "10"}, "--workers", "40")
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    assert "40 workers x up to 38 connections (REBAC_POOL_SIZE 10: 3 x 10 + 8) = 1520" in errors[0]
    assert "max_connections" in errors[0]
    assert re.search(r"use --workers \d+ or fewer", errors[0])
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("env", "args", "says"),
    [
        ({"REBAC_WORKERS": "0"}, (), "REBAC_WORKERS must be a whole number of at least 1 (got '0')"),
        ({"REBAC_WORKERS": "two"}, (), "REBAC_WORKERS must be a whole number of at least 1 (got 'two')"),
        ({"REBAC_POOL_SIZE": "-1"}, (), "REBAC_POOL_SIZE must be a whole number of at least 1"),
        ({}, ("--workers", "0"), "0 is not in the range x>=1"),
        ({}, ("--workers", "2", "--demo"), "--demo runs one worker"),
    ],
)
def test_bad_worker_settings_are_one_line(
    migrated_url: str, env: dict[str, str], args: tuple[str, ...], says: str
) -> None:
    done = _serve({"REBAC_DATABASE_URL": migrated_url, **env}, *args)
    assert done.returncode != 0
    assert says in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def migrated_url(empty_database_url: str) -> str:
    upgrade_to_head(empty_database_url)
    return empty_database_url

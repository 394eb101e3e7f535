"""A real ``rebac serve`` process on a random loopback port, against a real PostgreSQL.

The process is started and stopped by its PID; its whole output is captured and checked for the
preshared key and the DSN password, which must never appear.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import SCHEMA, touch
from sqlalchemy import make_url

from rebac.store.migrate import upgrade_to_head

pytestmark = pytest.mark.integration

KEY = "srv-preshared-0b1c2d3e4f5a6b7c"
PASSWORD = "dsn-pw-must-never-be-logged-77"  # noqa: S105 - the secret under test
REBAC = str(Path(sys.executable).with_name("rebac"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(url: str, port: int, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REBAC_DATABASE_URL": url, "REBAC_PRESHARED_KEY": KEY}
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - our own console script
            [REBAC, "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("the server did not become ready")


@pytest.fixture
def server(empty_database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    upgrade_to_head(empty_database_url)
    url = make_url(empty_database_url).set(password=PASSWORD).render_as_string(hide_password=False)
    port = _free_port()
    log = tmp_path / "server.log"
    proc = _start(url, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
        yield base, log
    finally:
        _stop(proc)


def test_real_server_end_to_end_and_no_secrets_in_logs(server: tuple[str, Path]) -> None:
    base, log = server
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.post("/v1/schema/write", json={"schema": SCHEMA}, headers=auth).status_code == 200
        written = http.post(
            "/v1/relationships/write",
            json={"updates": [touch("document", "s1", "viewer", "user", "tom")]},
            headers=auth,
        )
        token = written.json()["writtenAt"]
        check = http.post(
            "/v1/permissions/check",
            json={
                "resource": {"objectType": "document", "objectId": "s1"},
                "permission": "view",
                "subject": {"object": {"objectType": "user", "objectId": "tom"}},
                "consistency": {"atLeastAsFresh": token},
            },
            headers={**auth, "X-Request-ID": "real-1"},
        )
        assert check.json()["permissionship"] == "PERMISSIONSHIP_HAS_PERMISSION"
        assert check.headers["x-request-id"] == "real-1"
        decision = http.post(
            "/access/v1/evaluation",
            json={
                "subject": {"type": "user", "id": "eve"},
                "resource": {"type": "document", "id": "s1"},
                "action": {"name": "view"},
            },
            headers=auth,
        )
        assert decision.status_code == 200
        assert decision.json() == {"decision": False}
        # errors of every kind, including a wrong key that shares a prefix with the real one
        assert (
            http.post(
                "/v1/permissions/check", json={}, headers={"Authorization": f"Bearer {KEY[:10]}"}
            ).status_code
            == 401
        )
        assert http.post("/v1/permissions/check", json={"bad": 1}, headers=auth).status_code == 400
        assert http.post("/v1/schema/write", json={"schema": "definition {"}, headers=auth).status_code == 400
        assert http.get("/schema/openapi.json").status_code == 200
    time.sleep(0.2)
    output = log.read_text(errors="replace")
    assert KEY not in output
    assert PASSWORD not in output


def test_unreachable_database_fails_without_leaking_the_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://rebac:{PASSWORD}@127.0.0.1:{_free_port()}/nothing"
    log = tmp_path / "server.log"
    proc = _start(url, _free_port(), log)
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        _stop(proc)
    output = log.read_text(errors="replace")
    assert PASSWORD not in output
    assert KEY not in output

"""A real ``rebac serve`` process on a random loopback port, against a real PostgreSQL.

The process is started and stopped by its PID; its whole output is captured and checked for the
preshared key and the DSN password, which must never appear.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import SCHEMA, touch
from live_server import KEY, REBAC, free_port, start, stop, wait_ready
from sqlalchemy import make_url

from rebac.store.postgres.migrate import upgrade_to_head

pytestmark = pytest.mark.integration

PASSWORD = "dsn-pw-must-never-be-logged-77"  # noqa: S105 - the secret under test


@pytest.fixture
def server(empty_database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    upgrade_to_head(empty_database_url)
    url = make_url(empty_database_url).set(password=PASSWORD).render_as_string(hide_password=False)
    port = free_port()
    log = tmp_path / "server.log"
    proc = start(url, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield base, log
    finally:
        stop(proc)


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
        assert decision.json()["decision"] is False  # context carries the decision_id
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
        # limits: an oversized write is refused whole (default MAX_UPDATES_PER_WRITE = 1000)
        big = [touch("document", f"big{i}", "viewer", "user", "tom") for i in range(1001)]
        refused = http.post("/v1/relationships/write", json={"updates": big}, headers=auth)
        assert refused.status_code == 400
        assert refused.json()["type"] == "urn:rebac:problem:limit-exceeded"
        read = http.post(
            "/v1/relationships/read",
            json={"relationshipFilter": {"resourceType": "document", "optionalResourceId": "big0"}},
            headers=auth,
        )
        assert read.json()["results"] == []
        # AuthZEN boxcarring semantics over the wire
        evaluations = http.post(
            "/access/v1/evaluations",
            json={
                "resource": {"type": "document", "id": "s1"},
                "action": {"name": "view"},
                "options": {"evaluations_semantic": "deny_on_first_deny"},
                "evaluations": [
                    {"subject": {"type": "user", "id": "tom"}},
                    {"subject": {"type": "user", "id": "eve"}},
                    {"subject": {"type": "user", "id": "tom"}},
                ],
            },
            headers={**auth, "X-Rebac-Consistency-Token": token["token"]},
        )
        assert [d["decision"] for d in evaluations.json()["evaluations"]] == [True, False]
    time.sleep(0.2)
    output = log.read_text(errors="replace")
    assert KEY not in output
    assert PASSWORD not in output


def test_unreachable_database_fails_without_leaking_the_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://rebac:{PASSWORD}@127.0.0.1:{free_port()}/nothing"
    log = tmp_path / "server.log"
    proc = start(url, free_port(), log)
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop(proc)
    output = log.read_text(errors="replace")
    assert PASSWORD not in output
    assert KEY not in output
    assert proc.returncode == 1
    # one line saying what is wrong and what to do, before any worker starts (no traceback)
    said = f"Error: the database at 127.0.0.1:{make_url(url).port} is not reachable: start PostgreSQL or set"
    assert output.strip().splitlines() == [f"{said} REBAC_DATABASE_URL"], output


def _cli(base: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REBAC_ENDPOINT": base, "REBAC_KEY": KEY}
    return subprocess.run(  # noqa: S603 - our own console script
        [REBAC, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_client_commands_against_the_real_server(server: tuple[str, Path]) -> None:
    base, _ = server
    with httpx.Client(base_url=base, timeout=10) as http:
        http.post("/v1/schema/write", json={"schema": SCHEMA}, headers={"Authorization": f"Bearer {KEY}"})
    wrote = _cli(base, "write", "document:c1#viewer@team:eng#member", "team:eng#member@user:tom")
    assert wrote.returncode == 0, wrote.stderr
    token = wrote.stdout.strip().rsplit(" ", 1)[-1]
    allowed = _cli(base, "check", "document:c1", "view", "user:tom", "--token", token)
    assert allowed.stdout.strip() == "allowed", allowed.stderr
    denied = _cli(base, "check", "document:c1", "view", "user:eve", "--token", token, "--json")
    assert json.loads(denied.stdout)["permissionship"] == "PERMISSIONSHIP_NO_PERMISSION"
    explained = _cli(base, "check", "document:c1", "view", "user:tom", "--token", token, "--explain")
    assert "team:eng#member" in explained.stdout
    resources = _cli(base, "lookup", "resources", "document", "view", "user:tom", "--token", token)
    assert resources.stdout.split() == ["document:c1"]
    subjects = _cli(base, "lookup", "subjects", "document:c1", "view", "user", "--token", token)
    assert subjects.stdout.split() == ["user:tom"]
    tree = _cli(base, "expand", "document:c1", "view", "--token", token)
    assert "document:c1#viewer: team:eng#member" in tree.stdout
    changes = _cli(base, "watch", "--timeout", "0.5")
    assert changes.returncode == 0, changes.stderr
    bad = _cli(base, "check", "document:c1", "nope", "user:tom")
    assert bad.returncode != 0
    assert "Unknown relation" in bad.stderr
    unauthorized = subprocess.run(  # noqa: S603
        [REBAC, "check", "document:c1", "view", "user:tom"],
        env={**os.environ, "REBAC_ENDPOINT": base, "REBAC_KEY": "wrong"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "401" in unauthorized.stderr

"""SIGTERM under load (issue 15): every decision a client was answered with is in the decision log.

``rebac serve`` runs on a loopback port against a fresh migrated database; three client threads
send a bounded loop of checks; the server gets SIGTERM (by its PID) while they run. Once it has
exited, every ``decisionId`` a client saw must be a row of ``decision_log``: a graceful shutdown
drains the recorder's queue before the store closes.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from faults_helpers import Load, wait_for
from live_server import KEY, free_port, start, stop, wait_ready
from sqlalchemy import make_url

from rebac.store.postgres.migrate import upgrade_to_head

pytestmark = pytest.mark.integration

SCHEMA = """
definition user {}

definition document {
    relation viewer: user
    permission view = viewer
}
"""
AUTH = {"Authorization": f"Bearer {KEY}"}


def check(client: httpx.Client, i: int) -> tuple[str, httpx.Response]:
    user = f"u{i % 7}"  # u0..u2 may view, the others may not: allows and denies both recorded
    body = {
        "resource": {"objectType": "document", "objectId": "d1"},
        "permission": "view",
        "subject": {"object": {"objectType": "user", "objectId": user}},
        "consistency": {"fullyConsistent": True},
    }
    return user, client.post("/v1/permissions/check", json=body)


def touch(user: str) -> dict[str, Any]:
    return {
        "operation": "OPERATION_TOUCH",
        "relationship": {
            "resource": {"objectType": "document", "objectId": "d1"},
            "relation": "viewer",
            "subject": {"object": {"objectType": "user", "objectId": user}},
        },
    }


def test_every_answered_decision_is_logged_after_sigterm(empty_database_url: str, tmp_path: Path) -> None:
    upgrade_to_head(empty_database_url)
    port = free_port()
    log = tmp_path / "serve.log"
    proc = start(empty_database_url, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        with httpx.Client(base_url=base, headers=AUTH, timeout=15) as client:
            assert client.post("/v1/schema/write", json={"schema": SCHEMA}).status_code == 200
            written = client.post(
                "/v1/relationships/write", json={"updates": [touch(f"u{i}") for i in range(3)]}
            )
            assert written.status_code == 200, written.text
        with Load(check, base, AUTH, threads=3, limit=5_000) as load:
            wait_for(lambda: load.count() >= 300, 60, "the load to run")
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pytest.fail("rebac serve did not exit within 30 s of SIGTERM")
        answers = list(load.answers)
    finally:
        stop(proc)
    assert proc.returncode == 0, log.read_text()[-2000:]

    answered = {
        str(a.body["decisionId"])
        for a in answers
        if a.status is not None and isinstance(a.body, dict) and a.body.get("decisionId")
    }
    assert len(answered) >= 300
    libpq = make_url(empty_database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq) as conn:
        rows = conn.execute("SELECT decision_id::text FROM decision_log").fetchall()
    logged = {row[0] for row in rows}
    missing = answered - logged
    print(f"{len(answers)} requests, {len(answered)} decisions answered, {len(logged)} logged")  # noqa: T201
    assert not missing, f"{len(missing)} of {len(answered)} answered decisions are not in the log"
    # Requests after the shutdown began got an answer or a refused connection, never a wrong one.
    for a in answers:
        if a.status == 200:
            allowed = a.body["permissionship"] == "PERMISSIONSHIP_HAS_PERMISSION"
            assert allowed == (a.name in {"u0", "u1", "u2"}), a

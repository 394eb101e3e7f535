"""``rebac serve`` start-up: one clear line for a database that cannot serve, step-by-step output,
the embedded database announced when it is created, and ``--demo`` that never replaces anything.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from live_server import KEY, REBAC, free_port, start, stop, wait_ready
from sqlalchemy import make_url

from rebac.api.app import create_app, one_line_startup_failures
from rebac.cli.serve_cmd import DEMO_RELATIONSHIPS, DEMO_SCHEMA, load_demo
from rebac.config import DatabaseSettings, Settings
from rebac.refs import parse_relationship
from rebac.services.core import Services
from rebac.services.types import (
    Consistency,
    ConsistencyMode,
    Operation,
    RelationshipFilter,
    RelationshipUpdate,
)
from rebac.store.postgres.migrate import upgrade_to_head
from rebac.store.postgres.probe import where

pytestmark = pytest.mark.integration

NOT_REACHABLE = "is not reachable: start PostgreSQL or set REBAC_DATABASE_URL"


def serve(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``rebac serve`` that is expected to exit by itself."""
    return subprocess.run(  # noqa: S603 - our own console script
        [REBAC, "serve", "--host", "127.0.0.1", "--port", str(free_port()), *args],
        env={**os.environ, "REBAC_PRESHARED_KEY": KEY, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_an_unreachable_database_is_one_line_and_a_failure() -> None:
    port = free_port()
    started = time.monotonic()
    done = serve({"REBAC_DATABASE_URL": f"postgresql://root:pw-never-shown@127.0.0.1:{port}/x"})
    assert done.returncode == 1
    assert time.monotonic() - started < 30
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"Error: the database at 127.0.0.1:{port} {NOT_REACHABLE}"]
    assert "pw-never-shown" not in done.stderr


def test_an_unmigrated_database_is_one_line_and_a_failure(empty_database_url: str) -> None:
    done = serve({"REBAC_DATABASE_URL": empty_database_url})
    assert done.returncode == 1
    place = where(make_url(empty_database_url))  # host:port/database (or socket directory/database)
    assert done.stderr.splitlines() == [
        f"Error: the database at {place} is not migrated: run `rebac migrate`"
    ]


def test_a_database_that_does_not_exist_is_one_line_and_a_failure(empty_database_url: str) -> None:
    url = make_url(empty_database_url)
    missing = url.set(database=f"rebac_missing_{uuid.uuid4().hex[:12]}")
    done = serve({"REBAC_DATABASE_URL": missing.render_as_string(hide_password=False)})
    assert done.returncode == 1
    server = where(url, database=False)  # host:port, or the socket directory of an embedded server
    said = (
        f"Error: the database {missing.database!r} does not exist on {server}: create it "
        f"(createdb {missing.database}) and run `rebac migrate`, or set REBAC_DATABASE_URL"
    )
    assert done.stderr.splitlines() == [said]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "REBAC_DATABASE_URL is not a database URL"),
        ("postgresql://root@127.0.0.1:notaport/x", "REBAC_DATABASE_URL is not a database URL"),
        ("mysql://root@127.0.0.1/x", "REBAC_DATABASE_URL is a mysql:// URL, and rebac needs PostgreSQL"),
    ],
)
def test_a_bad_database_url_is_one_line_and_a_failure(url: str, says: str) -> None:
    done = serve({"REBAC_DATABASE_URL": url})
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"Error: {says}")
    assert "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE" in lines[0]


def test_a_bad_preshared_subject_is_one_line_and_a_failure() -> None:
    done = serve({"REBAC_PRESHARED_SUBJECT": "team:eng#member", "REBAC_DATABASE_URL": "unused"})
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Error: REBAC_PRESHARED_SUBJECT must name one object such as user:alice, not team:eng#member"
    ]


async def _lifespan_startup(app: Any) -> list[dict[str, Any]]:
    """Run ``app``'s lifespan startup as a server does; return what it sent."""
    sent: list[dict[str, Any]] = []
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await events.put({"type": "lifespan.startup"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, events.get, send)
    return sent


async def test_a_failing_lifespan_reports_one_line_to_the_server() -> None:
    """What granian is told when the app itself cannot open the store (it logs the message)."""
    port = free_port()
    url = f"postgresql://root:pw-never-shown@127.0.0.1:{port}/x"
    app = one_line_startup_failures(create_app(Settings(database=DatabaseSettings(url=url))))
    # no exception reaches the server (granian would log its traceback), only the one line
    assert await _lifespan_startup(app) == [
        {"type": "lifespan.startup.failed", "message": f"the database at 127.0.0.1:{port} {NOT_REACHABLE}"}
    ]


async def test_a_lifespan_failing_with_a_bug_keeps_its_traceback() -> None:
    async def broken(_: Any) -> None:
        msg = "a bug"
        raise RuntimeError(msg)

    app = one_line_startup_failures(Litestar(on_startup=[broken]))
    with pytest.raises(BaseException) as raised:  # noqa: PT011 - whatever Litestar wraps it in
        await _lifespan_startup(app)
    assert "a bug" in repr(raised.value) or "a bug" in str(raised.value.__cause__)


_LIFESPAN_ONLY = """
import contextlib, sys
import rebac.api.app as app

@contextlib.contextmanager
def unchecked(settings, *, say):
    yield

app.serving_database = unchecked  # so the worker's lifespan is what fails
from rebac.cli.main import cli
cli(["serve", "--host", "127.0.0.1", "--port", sys.argv[1]])
"""


def test_a_lifespan_failure_in_the_worker_prints_no_traceback() -> None:
    """Past the start-up check (a database that fails later), granian's worker says one line."""
    port = free_port()
    done = subprocess.run(  # noqa: S603 - our own code, run by our interpreter
        [sys.executable, "-c", _LIFESPAN_ONLY, str(free_port())],
        env={
            **os.environ,
            "REBAC_PRESHARED_KEY": KEY,
            "REBAC_DATABASE_URL": f"postgresql://root@127.0.0.1:{port}/x",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert f"the database at 127.0.0.1:{port} {NOT_REACHABLE}" in output
    assert "Traceback" not in output, output
    assert len(output.splitlines()) < 12, output


def _serve_until_ready(env: dict[str, str], log: Path) -> str:
    """Start ``rebac serve`` (stdout and stderr to ``log``), wait for it, stop it; return the log."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own console script
            [REBAC, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, timeout=120)
        deadline = time.monotonic() + 10
        while "listening at" not in log.read_text(errors="replace") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop(proc)
    return log.read_text(errors="replace")


@pytest.fixture
def fresh_home() -> Iterator[Path]:
    # not under pytest's basetemp (mode 0700 for the embedded server's unprivileged user)
    home = Path(tempfile.mkdtemp(prefix="rebac-serve-home-"))
    try:
        yield home / "not-yet-there"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_new_embedded_database_is_announced_and_each_step_said(fresh_home: Path, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "REBAC_DATABASE_URL"}
    env.update({"REBAC_HOME": str(fresh_home), "REBAC_PRESHARED_KEY": KEY})
    first = _serve_until_ready(env, tmp_path / "first.log")
    second = _serve_until_ready(env, tmp_path / "second.log")
    data = fresh_home / "pgdata"
    assert f"rebac: creating a new embedded database in {data}" in first
    assert "rebac: migrating the embedded database to the newest revision" in first
    assert "rebac: listening at http://127.0.0.1:" in first
    assert first.index("creating a new") < first.index("migrating") < first.index("listening at")
    assert "creating a new" not in second
    assert f"rebac: starting the embedded database in {data}" in second
    assert "Traceback" not in first + second


# --- --demo -------------------------------------------------------------------------------------

DEMO_LINES = [
    line for line in DEMO_RELATIONSHIPS.read_text().splitlines() if line and not line.startswith("//")
]
OTHER_SCHEMA = """
definition user {}
definition document {
    relation reader: user
    permission view = reader
}
"""


@pytest.fixture
async def services(store_factory: Any) -> AsyncIterator[Services]:
    async with store_factory("postgres", quantization_seconds=0) as store:
        yield Services(store, Settings(), schema_refresh_seconds=0)


async def everything(services: Services) -> list[str]:
    page = await services.relationships.read(
        RelationshipFilter(), consistency=Consistency(ConsistencyMode.FULLY_CONSISTENT), limit=1000
    )
    return sorted(str(rel) for rel in page.relationships)


async def test_demo_twice_loads_once_and_changes_nothing_after(services: Services) -> None:
    first = await load_demo(services)
    assert first.loaded
    assert first.message == f"demo: loaded schema/agents.zed and {len(DEMO_LINES)} relationships"
    loaded = await everything(services)
    assert loaded == sorted(DEMO_LINES)
    # a sample relationship the user changed (an expiry added) is not replaced by a second --demo
    changed = parse_relationship("agent:search#principal@agent:planner[expiration:2031-01-01T00:00:00Z]")
    current = await services.engines.current()
    await services.relationships.write(current, [RelationshipUpdate(Operation.TOUCH, changed)])
    second = await load_demo(services)
    assert second.loaded
    assert "already stored (version 1)" in second.message
    assert "0 missing sample relationships added, none changed" in second.message
    versions, now = await services.schemas.history()
    assert [v.version for v in versions] == [1]
    assert now is not None
    assert now.text == DEMO_SCHEMA.read_text()
    after = await everything(services)
    assert str(changed) in after
    assert len(after) == len(DEMO_LINES)


async def test_demo_on_a_store_with_another_schema_touches_nothing(services: Services) -> None:
    await services.schemas.write(OTHER_SCHEMA, author="someone")
    current = await services.engines.current()
    mine = parse_relationship("document:roadmap#reader@user:carol")
    await services.relationships.write(current, [RelationshipUpdate(Operation.TOUCH, mine)])
    outcome = await load_demo(services)
    assert not outcome.loaded
    assert outcome.message.startswith("--demo: this store already has another schema (version 1)")
    assert "REBAC_HOME" in outcome.message
    assert "\n" not in outcome.message
    versions, now = await services.schemas.history()
    assert [(v.version, v.author) for v in versions] == [(1, "someone")]
    assert now is not None
    assert now.text == OTHER_SCHEMA
    assert await everything(services) == [str(mine)]


async def test_demo_never_orphans_relationships_stored_without_a_schema(services: Services) -> None:
    stray = parse_relationship("gadget:g1#holder@user:ann")  # a type the demo schema lacks
    await services.relationships.bulk_import([stray], schema_version=0)
    outcome = await load_demo(services)
    assert not outcome.loaded
    assert outcome.message.startswith("--demo: nothing was loaded (")
    versions, now = await services.schemas.history()
    assert versions == []
    assert now is None
    assert await everything(services) == [str(stray)]


@pytest.fixture
def migrated_database(empty_database_url: str) -> str:
    upgrade_to_head(empty_database_url)
    return empty_database_url


def test_serve_demo_on_another_schema_says_so_and_serves_it(migrated_database: str, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    proc = start(migrated_database, port, log)
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {KEY}"}
    try:
        wait_ready(base, proc)
        with httpx.Client(base_url=base, timeout=10) as http:
            assert (
                http.post("/v1/schema/write", json={"schema": OTHER_SCHEMA}, headers=auth).status_code == 200
            )
    finally:
        stop(proc)
    proc = start(migrated_database, port, log, "--demo")
    try:
        wait_ready(base, proc)
        with httpx.Client(base_url=base, timeout=10) as http:
            schema = http.post("/v1/schema/read", headers=auth).json()
    finally:
        stop(proc)
    output = log.read_text(errors="replace")
    assert schema["version"] == 1
    assert schema["schemaText"] == OTHER_SCHEMA
    said = [line for line in output.splitlines() if line.startswith("--demo:")]
    assert len(said) == 1
    assert "already has another schema (version 1)" in said[0]
    assert "curl -s" not in output  # no demo check is offered for data that is not there

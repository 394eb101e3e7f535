"""A live ``rebac serve`` for the CLI tests, and a runner of ``rebac`` that points at it.

The server runs on a free loopback port against a fresh, migrated database and is stopped by its
PID (``tests/integration/api/live_server.py``). :class:`Cli` runs commands in process (click's
runner) with a contexts file of the test's own, so no test reads the developer's contexts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from click.testing import CliRunner
from live_server import KEY, free_port, start, stop, wait_ready
from sqlalchemy import make_url

from rebac.cli.main import cli
from rebac.store.postgres.migrate import sync_url, upgrade_to_head

__all__ = ["KEY", "Cli", "Result", "live_server"]


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def live_server(server_url: str, log: Path) -> Iterator[tuple[str, str]]:
    """A server on a fresh, migrated database: its URL and the database's URL."""
    name = f"rebac_cli_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(sync_url(server_url)).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_to_head(url)
        port = free_port()
        proc = start(url, port, log)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, proc)
            yield base, url
        finally:
            stop(proc)
    finally:
        with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Result:
    """What a command printed and its exit status."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """Standard output as one JSON document."""
        return json.loads(self.out)

    def lines(self) -> list[Any]:
        """Standard output as NDJSON."""
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


@dataclass(frozen=True)
class Cli:
    """Runs ``rebac`` in process with the given environment (its own contexts file)."""

    env: dict[str, str]

    def __call__(self, *args: str, stdin: str | None = None, **env: str) -> Result:
        done = CliRunner().invoke(cli, list(args), env={**self.env, **env}, input=stdin)
        assert done.exception is None or isinstance(done.exception, SystemExit), done.exc_info
        return Result(done.exit_code, done.stdout, done.stderr)

    def ok(self, *args: str, stdin: str | None = None) -> Result:
        """Run and assert exit status 0."""
        result = self(*args, stdin=stdin)
        assert result.code == 0, (args, result.out, result.err)
        return result

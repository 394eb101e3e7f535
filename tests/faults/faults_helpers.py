"""A PostgreSQL server of the fault test's own (stopped and started at will) and a bounded load.

The server is the embedded ``pgserver`` build the suite already uses, in a temporary data
directory, listening on a Unix socket only (no TCP port at all). ``rebac serve`` runs against it
on a random loopback port (see ``live_server``). Every process here is started by the test and
ended by its PID.
"""

from __future__ import annotations

import atexit
import importlib
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx
import psycopg
from sqlalchemy import make_url

from rebac.store.postgres.migrate import upgrade_to_head


@dataclass
class OwnPostgres:
    """A running server of the test's own: its URL, and stop/start."""

    url: str
    server: Any
    socket_dir: str

    def _pg_ctl(self, *args: str) -> None:
        pg_ctl = _pgserver("pgserver._commands").pg_ctl  # pgserver's own pg_ctl (it drops root)
        pg_ctl(list(args), pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)

    def stop(self) -> None:
        """Stop the server (fast shutdown: every session is terminated), waiting until it is down."""
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        """Start it again with the same socket, waiting until it accepts connections."""
        log = str(Path(self.server.pgdata) / "log")
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", log, "start")


def _pgserver(name: str) -> Any:
    """Import (a module of) pgserver, the suite's embedded server build, untyped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        return importlib.import_module(name)


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    """A fresh server with a migrated database ``rebac``; stopped and deleted afterwards."""
    pgserver = _pgserver("pgserver")
    home = Path(tempfile.mkdtemp(prefix="rebac-fault-pg-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(home / "pgdata", cleanup_mode="stop")
        try:
            uri = make_url(server.get_uri())
            libpq = uri.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(libpq, autocommit=True) as conn:
                conn.execute("CREATE DATABASE rebac")
            url = uri.set(drivername="postgresql+psycopg", database="rebac")
            rendered = url.render_as_string(hide_password=False)
            upgrade_to_head(rendered)
            yield OwnPostgres(rendered, server, str(uri.query["host"]))
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server.cleanup()
            atexit.unregister(server._cleanup)  # stopped already; its exit hook would log to a closed stream
    finally:
        shutil.rmtree(home, ignore_errors=True)


@dataclass
class Answer:
    """One request of the load: when it was sent and answered, and what came back."""

    name: str
    sent: float
    done: float
    status: int | None  # None: no HTTP answer (a transport error)
    body: Any = None
    content_type: str = ""


@dataclass
class Load:
    """Bounded request loops on ``threads`` threads (each at most ``limit`` requests, or until stopped)."""

    send: Callable[[httpx.Client, int], tuple[str, httpx.Response]]
    base: str
    headers: dict[str, str]
    threads: int = 1
    limit: int = 20_000
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=15) as client:
            for i in range(self.limit):
                if self._stop.is_set():
                    return
                sent = time.monotonic()
                try:
                    name, response = self.send(client, i)
                except httpx.TransportError:
                    self.answers.append(Answer("transport", sent, time.monotonic(), None))
                    continue
                try:
                    body = response.json()
                except ValueError:
                    body = response.text
                self.answers.append(
                    Answer(
                        name,
                        sent,
                        time.monotonic(),
                        response.status_code,
                        body,
                        response.headers.get("content-type", ""),
                    )
                )

    def __enter__(self) -> Self:
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, name=f"fault-load-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def count(self) -> int:
        return len(self.answers)


def wait_for(done: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``done`` every 20 ms for at most ``seconds``; fail with ``what`` otherwise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")

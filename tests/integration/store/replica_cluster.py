"""A PostgreSQL primary and a streaming replica of the test's own, for the read-replica tests.

The machine's server (``REBAC_TEST_DATABASE_URL``) is never reconfigured: the test runs its own
primary (``initdb`` + ``pg_ctl``, ``wal_level=replica``, on a free loopback port; initdb's own
``pg_hba.conf`` trusts replication connections from 127.0.0.1) and a hot standby made from it with
``pg_basebackup -R -X stream``, started on another free port. The binaries are the machine's
PostgreSQL 15 (``/usr/lib/postgresql/15/bin``, Debian's ``postgresql-15``) when installed, else
pgserver's bundled build. PostgreSQL refuses to run as root, so as root every server command runs
as an unprivileged system user (``postgres`` when it exists, else pgserver's ``pgserver``).

Each server is stopped by its postmaster's PID (SIGINT, PostgreSQL's fast shutdown), waiting at
most 15 s, then SIGQUIT (immediate shutdown) and 5 s more: nothing else is ever signalled.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from rebac.store.postgres.migrate import upgrade_to_head

__all__ = ["Cluster", "replica_cluster"]

_DEBIAN_BIN = Path("/usr/lib/postgresql/15/bin")
_COMMAND_SECONDS = 60


def _pgserver_bin() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        commands = importlib.import_module("pgserver._commands")
    return Path(commands.POSTGRES_BIN_PATH)


def _binaries() -> Path:
    """The machine's PostgreSQL 15 binaries, else pgserver's."""
    if (_DEBIAN_BIN / "pg_basebackup").exists():
        return _DEBIAN_BIN
    return _pgserver_bin()


def _server_user() -> str | None:
    """The user the servers run as: ``None`` (this one) unless this process is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    useradd = ["/usr/sbin/useradd", "-s", "/bin/sh", "pgserver"]  # as pgserver itself does
    subprocess.run(useradd, check=True, capture_output=True)  # noqa: S603 - a fixed command
    return "pgserver"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Server:
    """One running server of the test's own."""

    data: Path
    port: int
    pid: int

    def libpq(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database} connect_timeout=5"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Fast shutdown by PID, bounded; immediate shutdown if that did not end it."""
        for sig, seconds in ((signal.SIGINT, 15.0), (signal.SIGQUIT, 5.0)):
            if not _alive(self.pid):
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            deadline = time.monotonic() + seconds
            while _alive(self.pid) and time.monotonic() < deadline:
                time.sleep(0.05)


@dataclass
class Cluster:
    """The primary and its hot standby; the database ``rebac`` is migrated on the primary."""

    primary: Server
    standby: Server

    @property
    def primary_url(self) -> str:
        return self.primary.url("rebac")

    @property
    def standby_url(self) -> str:
        return self.standby.url("rebac")

    def on_standby(self, sql: str) -> object:
        """Run ``sql`` on the standby (autocommit) and return the first column of its first row."""
        with psycopg.connect(self.standby.libpq("rebac"), autocommit=True) as conn:
            row = conn.execute(sql).fetchone()
        return None if row is None else row[0]

    def pause_replay(self) -> None:
        """Stop the standby replaying WAL; returns once it is paused (it keeps receiving)."""
        self.on_standby("SELECT pg_wal_replay_pause()")
        deadline = time.monotonic() + 30
        while self.on_standby("SELECT pg_get_wal_replay_pause_state()") != "paused":
            if time.monotonic() > deadline:
                raise AssertionError("the standby did not pause its replay")
            time.sleep(0.02)

    def resume_replay(self) -> None:
        self.on_standby("SELECT pg_wal_replay_resume()")


class _Runner:
    def __init__(self, binaries: Path, user: str | None, log: Path) -> None:
        self.binaries = binaries
        self.user = user
        self.log = log

    def __call__(self, program: str, *args: str) -> None:
        with self.log.open("a") as out:
            subprocess.run(  # noqa: S603 - PostgreSQL's own programs, arguments of the test's own
                [str(self.binaries / program), *args],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
                user=self.user,
                timeout=_COMMAND_SECONDS,
                cwd="/",
            )

    def start(self, data: Path, port: int, sockets: Path) -> Server:
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
        log = str(data / "server.log")
        self("pg_ctl", "-D", str(data), "-w", "-t", "30", "-l", log, "-o", options, "start")
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        return Server(data, port, pid)


@contextmanager
def replica_cluster() -> Iterator[Cluster]:
    """Start a primary (database ``rebac``, migrated) and a streaming hot standby of it."""
    binaries = _binaries()
    user = _server_user()
    home = Path(tempfile.mkdtemp(prefix="rebac-replica-"))
    home.chmod(0o755)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        if binaries != _DEBIAN_BIN:  # pgserver's build sits under a venv the server user must reach
            utils = importlib.import_module("pgserver.utils")
            utils.ensure_prefix_permissions(binaries)
    run = _Runner(binaries, user, home / "commands.log")
    servers: list[Server] = []
    try:
        primary_data = home / "primary"
        run("initdb", "-D", str(primary_data), "--auth=trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        with (primary_data / "postgresql.conf").open("a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 4\nfsync = off\nfull_page_writes = off\n")
        servers.append(run.start(primary_data, _free_port(), home))
        primary = servers[0]
        with psycopg.connect(primary.libpq("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE rebac")
        upgrade_to_head(primary.url("rebac"))
        standby_data = home / "standby"
        run(
            "pg_basebackup",
            "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(standby_data), "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        servers.append(run.start(standby_data, _free_port(), home))
        yield Cluster(primary, servers[1])
    except subprocess.CalledProcessError as exc:
        log = (home / "commands.log").read_text(errors="replace")[-4000:]
        raise AssertionError(f"{exc}\n{log}") from exc
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(home, ignore_errors=True)

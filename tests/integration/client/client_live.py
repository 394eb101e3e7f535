"""Live servers and network faults for the SDK tests (the fixtures are in ``client_fixtures``).

A real ``rebac serve`` runs on a free loopback port against a fresh, migrated database; it is
started and stopped by its PID (the helpers of ``tests/integration/api/live_server.py``, copied
because test folders are not packages). The fault servers are plain loopback sockets:
:class:`HangingServer` accepts and never answers, :class:`ResettingServer` accepts, reads and
resets, and :class:`FaultProxy` answers scripted 503 problems before it forwards to a live server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx
import psycopg
import pytest
from sqlalchemy import make_url

from rebac.store.postgres.migrate import sync_url, upgrade_to_head

KEY = "sdk-preshared-7f6e5d4c3b2a1908"
REBAC = str(Path(sys.executable).with_name("rebac"))

SCHEMA = """
use expiration

definition user {}

/** An agent acts for its principals; its grants are time-bound. */
definition agent {
    relation principal: user | agent | user with expiration | agent with expiration
    acts_for principal
}

definition team {
    relation member: user | agent | team#member
}

caveat on_weekday(day string) {
    day != "sat" && day != "sun"
}

definition document {
    relation owner: user
    relation viewer: user | team#member | user:* | user with on_weekday | agent | agent with expiration
    relation banned: user
    permission edit = owner
    permission view = (viewer + edit) - banned
}

definition tool {
    relation invoker: user | team#member | agent with expiration
    relation limited: user | agent with on_weekday and expiration
    permission invoke = invoker
    permission use_limited = limited
}

/** No expiration allowed here: a time-bound grant is refused. */
definition vault {
    relation reader: user | agent
    permission read = reader
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server_url: str) -> str:
    name = f"rebac_sdk_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(sync_url(server_url)).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    with psycopg.connect(libpq(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (read from /proc: the server's workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class Live:
    """A running ``rebac serve``."""

    url: str
    database_url: str
    proc: subprocess.Popen[bytes]
    log: Path
    key: str = KEY

    def pids(self) -> list[int]:
        """The server's process and its workers (all started by this test run)."""
        return [self.proc.pid, *descendants(self.proc.pid)]

    def freeze(self) -> None:
        """SIGSTOP every process of the server: requests are accepted by the kernel, never answered."""
        for pid in self.pids():
            os.kill(pid, signal.SIGSTOP)

    def kill(self) -> None:
        """SIGKILL every process of the server (an outage: sockets close, the port refuses)."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop."""
        if self.proc.poll() is not None:
            return
        workers = descendants(self.proc.pid)
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def scoped_key(self, *scopes: str) -> str:
        """A new scoped key, made with ``rebac keys create --direct`` on the server's database."""
        args = [REBAC, "keys", "create", "--direct", *(f"--scope={s}" for s in scopes), "--name", "sdk-test"]
        done = subprocess.run(  # noqa: S603 - our own console script
            args,
            env={**os.environ, "REBAC_DATABASE_URL": self.database_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.splitlines()[0].strip()


def start_server(database_url: str, log: Path) -> Live:
    """Serve a fresh, migrated database on a free loopback port; wait until it is ready."""
    upgrade_to_head(database_url)
    port = free_port()
    env = {**os.environ, "REBAC_DATABASE_URL": database_url, "REBAC_PRESHARED_KEY": KEY}
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own console script
            [REBAC, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    live = Live(f"http://127.0.0.1:{port}", database_url, proc, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"rebac serve exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{live.url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    else:
        live.stop()
        pytest.fail("rebac serve did not become ready")
    response = httpx.post(
        f"{live.url}/v1/schema/write",
        json={"schema": SCHEMA},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return live


# --- network faults ------------------------------------------------------------------------------


@dataclass
class _SocketServer:
    """A loopback listener whose connections a thread handles; counts connections."""

    connections: int = 0
    _sock: socket.socket = field(default_factory=socket.socket)
    _threads: list[threading.Thread] = field(default_factory=list)
    _open: list[socket.socket] = field(default_factory=list)
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for conn in self._open:
            conn.close()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)
            with contextlib.suppress(OSError):
                self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError


def read_request(conn: socket.socket) -> bytes:
    """One whole HTTP/1.1 request (headers and a Content-Length body)."""
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class HangingServer(_SocketServer):
    """Accepts, reads the request, and never answers (a timeout)."""

    def handle(self, conn: socket.socket) -> None:
        read_request(conn)


class ResettingServer(_SocketServer):
    """Accepts, reads the request, then resets the connection (RST: an outage mid-call)."""

    def handle(self, conn: socket.socket) -> None:
        read_request(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


def problem_response(status: int, slug: str) -> bytes:
    problem = {"type": f"urn:rebac:problem:{slug}", "title": "scripted", "status": status, "detail": slug}
    body = json.dumps(problem).encode()
    return (
        f"HTTP/1.1 {status} Service Unavailable\r\nContent-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


@dataclass
class FaultProxy(_SocketServer):
    """Answers the first requests with scripted 503 problems, then forwards to ``upstream``.

    ``script`` holds one problem slug per faulty answer (``store-unavailable``,
    ``serialization-failure``); ``requests`` records the method and path of every request seen.
    """

    upstream: str = ""
    script: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def handle(self, conn: socket.socket) -> None:
        raw = read_request(conn)
        line = raw.split(b"\r\n", 1)[0].decode()
        self.requests.append(" ".join(line.split()[:2]))
        if self.script:
            conn.sendall(problem_response(503, self.script.pop(0)))
            conn.close()
            return
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = [h for h in head.split(b"\r\n") if not h.lower().startswith(b"connection:")]
        request = b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body
        host, port = self.upstream.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as up:
            up.sendall(request)
            while chunk := up.recv(65536):
                conn.sendall(chunk)
        conn.close()


class Spy(httpx.BaseTransport):
    """A real HTTP transport that records what the client sent (method, path, JSON body, headers)."""

    def __init__(self) -> None:
        self._real = httpx.HTTPTransport()
        self.sent: list[tuple[str, str, Any, httpx.Headers]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.sent.append((request.method, request.url.path, body, request.headers))
        return self._real.handle_request(request)

    def close(self) -> None:
        self._real.close()

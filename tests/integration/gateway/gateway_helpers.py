"""Live parts for the gateway tests: a rebac server, the demo MCP server, the gateway, tokens, a client.

Every process runs on loopback and is stopped by its PID. Tokens are RS256 JWTs signed with a key
made for the test run; the gateway reads its public half from a JWKS file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from live_server import KEY, free_port, start, stop, wait_ready
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import make_url

from rebac.client import Client
from rebac.store.postgres.migrate import sync_url, upgrade_to_head

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "mcp_gateway"
DEMO_SERVER = EXAMPLE / "server.py"
REBAC = str(Path(sys.executable).with_name("rebac"))
ISSUER = "https://idp.test"
KID = "test-key-1"

__all__ = [
    "ISSUER",
    "KEY",
    "Keys",
    "Proc",
    "free_port",
    "gateway",
    "guarded_server",
    "load_demo",
    "mcp_session",
    "rebac_server",
    "stdio_command",
    "upstream_http",
]


class Keys:
    """A signing key, its JWKS file, and tokens minted with it (or with a forger's key)."""

    def __init__(self, directory: Path) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        public.update({"kid": KID, "alg": "RS256", "use": "sig"})
        self.jwks = directory / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": [public]}), encoding="utf-8")

    def public_pem(self, directory: Path) -> Path:
        """The verification key as a PEM file (FastMCP's ``JWTVerifier`` reads one)."""
        path = directory / "public.pem"
        path.write_bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return path

    def token(self, audience: str, *, forged: bool = False, lifetime: int = 300, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": audience, "iat": now, "exp": now + lifetime, "sub": "alice", **claims}
        key = self.forger if forged else self.private
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": KID})


@contextmanager
def rebac_server(server_url: str, log: Path) -> Iterator[str]:
    """A ``rebac serve`` on a fresh, migrated database; yields its URL."""
    name = f"rebac_gw_{uuid.uuid4().hex[:12]}"
    libpq = make_url(sync_url(server_url)).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(sync_url(server_url)).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_to_head(url)
        port = free_port()
        proc = start(url, port, log)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, proc)
            yield base
        finally:
            stop(proc)
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_demo(base: str) -> None:
    """The example's schema and relationships, written through the SDK."""
    with Client(base, key=KEY) as client:
        client.write_schema((EXAMPLE / "schema.zed").read_text(encoding="utf-8"))
        lines = (EXAMPLE / "tuples.txt").read_text(encoding="utf-8").splitlines()
        client.write_relationships([line for line in lines if line.strip()])


class Proc:
    """A child process (stopped by its PID) and where it listens."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{url}: the process exited:\n{log.read_text(errors='replace')}")
        try:
            httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        return
    pytest.fail(f"{url} did not come up:\n{log.read_text(errors='replace')}")


@contextmanager
def _spawn(args: list[str], url: str, probe: str, log: Path, env: dict[str, str]) -> Iterator[Proc]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        _wait_http(probe, proc, log)
        yield Proc(proc, url, log)
    finally:
        stop(proc)


@contextmanager
def upstream_http(calls: Path, log: Path) -> Iterator[Proc]:
    """The demo MCP server over streamable HTTP."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    args = [sys.executable, str(DEMO_SERVER), "http", str(port)]
    with _spawn(args, url, url, log, {"MCP_DEMO_CALLS": str(calls)}) as proc:
        yield proc


@contextmanager
def guarded_server(rebac: str, keys: Keys, calls: Path, directory: Path) -> Iterator[Proc]:
    """The example's FastMCP server with rebac's middleware, over streamable HTTP."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    env = {
        "MCP_DEMO_CALLS": str(calls),
        "REBAC_ENDPOINT": rebac,
        "REBAC_KEY": KEY,
        "MCP_JWT_PUBLIC_KEY": str(keys.public_pem(directory)),
        "MCP_JWT_ISSUER": ISSUER,
        "MCP_JWT_AUDIENCE": url,
    }
    args = [sys.executable, str(EXAMPLE / "guarded_server.py"), str(port)]
    with _spawn(args, url, url, directory / "guarded.log", env) as proc:
        yield proc


def stdio_command() -> str:
    """The demo MCP server as a stdio command."""
    return f"{sys.executable} {DEMO_SERVER} stdio"


@contextmanager
def gateway(
    rebac: str, keys: Keys, log: Path, calls: Path, *upstream: str, extra: tuple[str, ...] = ()
) -> Iterator[Proc]:
    """``rebac mcp-gateway`` in front of ``upstream`` (``--upstream URL`` or ``--upstream-command CMD``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    args = [
        REBAC,
        "mcp-gateway",
        "--listen",
        f"127.0.0.1:{port}",
        *upstream,
        "--endpoint",
        rebac,
        "--key",
        KEY,
        "--jwks",
        str(keys.jwks),
        "--issuer",
        ISSUER,
        "--audience",
        url,
        "--name",
        "gw-test",
        *extra,
    ]
    probe = f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource"
    with _spawn(args, url, probe, log, {"MCP_DEMO_CALLS": str(calls)}) as proc:
        yield proc


@asynccontextmanager
async def mcp_session(url: str, token: str | None) -> AsyncIterator[ClientSession]:
    """An initialized MCP SDK client session to ``url`` with ``token`` as its bearer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session

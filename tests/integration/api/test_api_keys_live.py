"""Scoped API keys end to end: the key table (both engines), ``rebac keys``, and a real server."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from alembic import command
from api_helpers import SCHEMA, check_body
from live_server import KEY, REBAC, free_port, start, stop, wait_ready

from rebac.errors import ConflictError
from rebac.services.keys import generate_key
from rebac.store.memory import MemoryKeyStore
from rebac.store.postgres import PostgresKeyStore
from rebac.store.postgres.migrate import alembic_config, upgrade_to_head

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "postgres"])
async def key_store(request: pytest.FixtureRequest, empty_database_url: str) -> AsyncIterator[object]:
    if request.param == "memory":
        yield MemoryKeyStore()
        return
    upgrade_to_head(empty_database_url)
    store = PostgresKeyStore.connect(empty_database_url)
    try:
        yield store
    finally:
        await store.close()


async def test_key_table_create_find_list_revoke(key_store: PostgresKeyStore) -> None:
    key = generate_key()
    created = await key_store.create_key(key.key_id, key.secret_hash, frozenset({"check", "write"}), "ci")
    assert created.key_id == key.key_id
    found = await key_store.find_key(key.key_id)
    assert found is not None
    assert found.secret_hash == key.secret_hash
    assert found.scopes == frozenset({"check", "write"})
    assert not found.revoked
    assert await key_store.find_key("nope") is None
    with pytest.raises(ConflictError):
        await key_store.create_key(key.key_id, key.secret_hash, frozenset({"check"}))
    assert [k.key_id for k in await key_store.list_keys()] == [key.key_id]
    assert await key_store.revoke_key(key.key_id) is True
    assert await key_store.revoke_key(key.key_id) is False
    revoked = await key_store.find_key(key.key_id)
    assert revoked is not None
    assert revoked.revoked


async def test_key_table_stores_and_returns_the_subject(key_store: PostgresKeyStore) -> None:
    acting, plain = generate_key(), generate_key()
    created = await key_store.create_key(
        acting.key_id, acting.secret_hash, frozenset({"admin"}), "reviewer", subject="user:alice"
    )
    assert created.subject == "user:alice"
    await key_store.create_key(plain.key_id, plain.secret_hash, frozenset({"check"}))
    found = await key_store.find_key(acting.key_id)
    assert found is not None
    assert found.subject == "user:alice"
    assert (await key_store.find_key(plain.key_id)) is not None
    assert {k.key_id: k.subject for k in await key_store.list_keys()} == {
        acting.key_id: "user:alice",
        plain.key_id: None,
    }
    await key_store.revoke_key(acting.key_id)
    revoked = await key_store.find_key(acting.key_id)
    assert revoked is not None
    assert revoked.subject == "user:alice"
    assert revoked.revoked_at is not None


def test_keys_created_before_the_subject_column_act_for_no_subject(empty_database_url: str) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "7a3e5c1d9b20")  # the revision before api_key.subject
    libpq = empty_database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO api_key (key_id, secret_hash, scopes, name, created_at) "
            "VALUES ('old1', %s, ARRAY['check'], 'old', now())",
            ("0" * 64,),
        )
    upgrade_to_head(empty_database_url)
    with psycopg.connect(libpq) as conn:
        row = conn.execute("SELECT key_id, subject FROM api_key").fetchall()
    assert row == [("old1", None)]
    command.downgrade(config, "7a3e5c1d9b20")  # and back: the column goes, the key stays
    with psycopg.connect(libpq) as conn:
        assert conn.execute("SELECT key_id FROM api_key").fetchall() == [("old1",)]


def _keys_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REBAC_DATABASE_URL": url}
    return subprocess.run(  # noqa: S603 - our own console script
        [REBAC, "keys", args[0], "--direct", *args[1:]],  # on the database, as the first key is made
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def live_with_keys(empty_database_url: str, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    upgrade_to_head(empty_database_url)
    port = free_port()
    log = tmp_path / "server.log"
    proc = start(empty_database_url, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield base, empty_database_url, log
    finally:
        stop(proc)


def test_scoped_keys_against_a_real_server(live_with_keys: tuple[str, str, Path]) -> None:
    base, url, log = live_with_keys
    created = _keys_cli(url, "create", "--scope", "check", "--name", "gateway")
    assert created.returncode == 0, created.stderr
    text = created.stdout.strip()
    assert text.startswith("rbk_")
    key_id = text.split("_")[1]
    listed = _keys_cli(url, "list")
    assert key_id in listed.stdout
    assert "check" in listed.stdout
    assert text.split("_", 2)[2] not in listed.stdout  # never the secret
    with httpx.Client(base_url=base, timeout=10) as http:
        admin = {"Authorization": f"Bearer {KEY}"}
        assert http.post("/v1/schema/write", json={"schema": SCHEMA}, headers=admin).status_code == 200
        scoped = {"Authorization": f"Bearer {text}"}
        assert (
            http.post(
                "/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=scoped
            ).status_code
            == 200
        )
        wrong = http.post("/v1/relationships/write", json={"updates": []}, headers=scoped)
        assert wrong.status_code == 403
        assert wrong.json()["type"] == "urn:rebac:problem:forbidden"
        revoked = _keys_cli(url, "revoke", key_id)
        assert revoked.returncode == 0, revoked.stderr
        time.sleep(2.5)  # the server reuses a looked-up key for up to 2 s
        after = http.post("/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=scoped)
        assert after.status_code == 401
        assert after.headers["www-authenticate"].startswith("Bearer")
    output = log.read_text(errors="replace")
    assert text not in output
    assert KEY not in output
    again = _keys_cli(url, "revoke", key_id)
    assert again.returncode != 0

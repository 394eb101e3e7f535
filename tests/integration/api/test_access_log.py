"""The access log: one JSON line per request on ``rebac.access`` (real app, real PostgreSQL keys)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import AUTH, PRESHARED, check_body, create_database, drop_database, settings
from litestar.testing import AsyncTestClient
from live_server import KEY, free_port, start, stop, wait_ready

from rebac.api.app import access_logger, create_app
from rebac.config import Settings
from rebac.store.base import TupleStore
from rebac.store.postgres.migrate import upgrade_to_head

pytestmark = pytest.mark.integration

FIELDS = {"time", "method", "path", "status", "keyId", "latencyMs", "requestId"}


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(record.getMessage()))


def flushed(client: AsyncTestClient[Any], access: _Lines) -> list[dict[str, Any]]:
    """The lines so far: the app's access log writes from a thread, so flush it first."""
    client.app.asgi_handler.access_log.flush()
    return access.lines


@pytest.fixture
def access() -> Iterator[_Lines]:
    handler = _Lines()
    logger = logging.getLogger("rebac.access")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
async def app_client(store_factory: Any) -> AsyncIterator[AsyncTestClient[Any]]:
    """The app over the store's own PostgreSQL key table (keys made through ``POST /v1/keys``)."""
    async with store_factory("indexed", quantization_seconds=0, with_keys=True) as store:
        app = create_app(settings(), store=store, schema_refresh_seconds=0, key_cache_seconds=0)
        async with AsyncTestClient(app) as client:
            yield client


async def _key(client: AsyncTestClient[Any], *scopes: str) -> tuple[str, str]:
    response = await client.post("/v1/keys", json={"scopes": list(scopes), "name": "log"}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["key"], body["keyId"]


async def test_every_request_leaves_one_line_with_its_key_status_and_request_id(
    app_client: AsyncTestClient[Any], access: _Lines
) -> None:
    secret, key_id = await _key(app_client, "check")
    flushed(app_client, access).clear()
    bearer = {"Authorization": f"Bearer {secret}"}
    ok = await app_client.post("/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=bearer)
    anonymous = await app_client.post("/v1/permissions/check", json=check_body("d1", "view", "tom"))
    wrong = await app_client.post("/v1/relationships/write", json={"updates": []}, headers=bearer)
    bad_key = await app_client.get("/v1/keys", headers={"Authorization": "Bearer rbk_nope_secret"})
    unknown = await app_client.get("/v1/nothing-here", headers={**AUTH, "X-Request-ID": "mine-1"})
    health = await app_client.get("/healthz")
    assert [r.status_code for r in (ok, anonymous, wrong, bad_key, unknown, health)] == [
        404,
        401,
        403,
        401,
        404,
        200,
    ]
    # (the check is a 404: no schema yet, a problem from the hot route's fall-through handler)
    lines = flushed(app_client, access)
    assert len(lines) == 6
    assert all(set(line) == FIELDS for line in lines)
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("POST", "/v1/permissions/check", 404),
        ("POST", "/v1/permissions/check", 401),
        ("POST", "/v1/relationships/write", 403),
        ("GET", "/v1/keys", 401),
        ("GET", "/v1/nothing-here", 404),
        ("GET", "/healthz", 200),
    ]
    # An unknown route authenticates no one (no guard runs), so its line names no key.
    assert [line["keyId"] for line in lines] == [key_id, None, key_id, None, None, None]
    responses = (ok, anonymous, wrong, bad_key, unknown, health)
    assert [line["requestId"] for line in lines] == [r.headers["x-request-id"] for r in responses]
    assert lines[4]["requestId"] == "mine-1"  # echoed
    assert len({line["requestId"] for line in lines}) == 6  # the others assigned, each its own
    assert all(line["latencyMs"] >= 0 and line["time"].endswith("+00:00") for line in lines)
    text = json.dumps(lines)
    assert secret not in text
    # The secret part never appears (rbk_<id>_<secret>; the secret itself may hold underscores).
    assert secret.split("_", 2)[2] not in text
    assert PRESHARED not in text


async def test_the_hot_route_logs_its_caller(app_client: AsyncTestClient[Any], access: _Lines) -> None:
    from api_helpers import SCHEMA  # noqa: PLC0415 - only here

    assert (await app_client.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)).is_success
    secret, key_id = await _key(app_client, "check")
    flushed(app_client, access).clear()
    bearer = {"Authorization": f"Bearer {secret}", "X-Request-ID": "hot-7"}
    response = await app_client.post(
        "/v1/permissions/check", json=check_body("d1", "view", "tom"), headers=bearer
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "hot-7"
    [line] = flushed(app_client, access)
    assert (line["status"], line["keyId"], line["requestId"]) == (200, key_id, "hot-7")


async def test_an_insane_request_id_is_replaced(app_client: AsyncTestClient[Any], access: _Lines) -> None:
    response = await app_client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assigned = response.headers["x-request-id"]
    assert assigned != "x" * 500
    assert len(assigned) == 32
    assert flushed(app_client, access)[-1]["requestId"] == assigned


def test_the_setting_turns_the_log_off() -> None:
    assert Settings.from_env({}).api.access_log is True
    assert Settings.from_env({"REBAC_ACCESS_LOG": "off"}).api.access_log is False
    assert access_logger(False) is None  # noqa: FBT003 - the setting's value
    assert access_logger(True) is logging.getLogger("rebac.access")  # noqa: FBT003


async def test_with_the_log_off_no_line_is_written(pg_store: TupleStore, access: _Lines) -> None:
    app = create_app(settings(access_log=False), store=pg_store, schema_refresh_seconds=0)
    async with AsyncTestClient(app) as client:
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.headers["x-request-id"]  # request ids stay
    assert access.lines == []


@pytest.fixture(scope="module")
def served(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    url = create_database(pg_server_url, "rebac_access")
    upgrade_to_head(url)
    port = free_port()
    log = tmp_path_factory.mktemp("access") / "server.log"
    proc = start(url, port, log)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        yield f"http://127.0.0.1:{port}", log
    finally:
        stop(proc)
        drop_database(pg_server_url, url)


def test_rebac_serve_writes_the_lines_to_standard_error_by_default(served: tuple[str, Path]) -> None:
    base, log = served
    response = httpx.get(
        f"{base}/v1/keys", headers={"Authorization": f"Bearer {KEY}", "X-Request-ID": "srv-9"}
    )
    assert response.status_code == 200
    denied = httpx.get(f"{base}/v1/keys", headers={"Authorization": "Bearer wrong"})
    assert denied.status_code == 401
    lines: list[dict[str, Any]] = []
    for _ in range(100):  # the line is written once the response has been sent: poll, bounded
        lines = [
            line
            for line in (json.loads(raw) for raw in log.read_text().splitlines() if raw.startswith("{"))
            if line.get("path") == "/v1/keys"
        ]
        if len(lines) >= 2:
            break
        time.sleep(0.05)
    assert [(line["status"], line["keyId"]) for line in lines] == [(200, "preshared"), (401, None)]
    assert lines[0]["requestId"] == "srv-9"
    assert KEY not in log.read_text()

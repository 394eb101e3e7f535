"""Fixtures of the SDK tests (a pytest plugin: test modules say ``pytest_plugins = ["client_fixtures"]``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from client_live import Live, create_database, drop_database, start_server

from rebac.client import AsyncClient, Client


@pytest.fixture(scope="session")
def sdk_live(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One server for the whole session (tests use unique object ids)."""
    url = create_database(pg_server_url)
    live = start_server(url, tmp_path_factory.mktemp("sdk") / "server.log")
    try:
        yield live
    finally:
        live.stop()
        drop_database(pg_server_url, url)


@pytest.fixture
def doomed(pg_server_url: str, tmp_path: Path) -> Iterator[Live]:
    """A server of the test's own, which the test may freeze and kill."""
    url = create_database(pg_server_url)
    live = start_server(url, tmp_path / "doomed.log")
    try:
        yield live
    finally:
        if live.proc.poll() is None:
            live.kill()
        drop_database(pg_server_url, url)


@pytest.fixture
def fresh_live(pg_server_url: str, tmp_path: Path) -> Iterator[Live]:
    """A server of the test's own on a fresh database (the test may write its own schema)."""
    url = create_database(pg_server_url)
    live = start_server(url, tmp_path / "fresh.log")
    try:
        yield live
    finally:
        live.stop()
        drop_database(pg_server_url, url)


@pytest.fixture
def uid() -> str:
    """A short unique id for the objects of one test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def sdk(sdk_live: Live) -> Iterator[Client]:
    """A sync client of the session's server (admin key)."""
    with Client(sdk_live.url, key=sdk_live.key) as client:
        yield client


@pytest.fixture
async def asdk(sdk_live: Live) -> AsyncIterator[AsyncClient]:
    """An async client of the session's server (admin key)."""
    async with AsyncClient(sdk_live.url, key=sdk_live.key) as client:
        yield client

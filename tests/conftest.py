"""Shared test fixtures (names are stable: other suites rely on them).

PostgreSQL comes from ``REBAC_TEST_DATABASE_URL`` when set (any database on the server; the role
must be allowed to ``CREATE DATABASE``), else from an embedded ``pgserver`` started by the tests in a
temporary directory, so the suite passes on a machine with no server. Each session creates its own
uniquely named database, migrates it with Alembic (the same ``upgrade_to_head`` the CLI uses) and
drops it at the end.

Fixtures:

``pg_server_url`` (session)
    SQLAlchemy URL of the *maintenance* database of the test server.
``pg_url`` (session)
    SQLAlchemy URL (``postgresql+psycopg://``) of this session's fresh, migrated database.
``pg_libpq`` (session)
    ``pg_url`` as a libpq string (raw psycopg connections).
``empty_database_url`` (function)
    SQLAlchemy URL of a brand-new, EMPTY (not migrated) database, dropped after the test.
``store_factory`` (function)
    ``async with store_factory("memory" | "postgres" | "indexed", **kwargs) as store:`` yields a
    fresh EMPTY store (``indexed``: Postgres with the in-memory relationship index loaded);
    ``kwargs`` go to the engine (``quantization_seconds``, ``max_updates_per_write``; the
    memory engine also takes ``clock``). Postgres stores share ``pg_url``: each one truncates the
    tables first (a few ms) and gets a new ``store_id``, so open one Postgres store at a time.
``store_kind`` (function, parametrized ``ids=["memory", "postgres", "indexed"]``)
    The engine name, for tests that build their own store: ``store_factory(store_kind, ...)``.
``store`` (function, parametrized ``ids=["memory", "postgres", "indexed"]``)
    A fresh empty store with production defaults. NOTE: default ``minimize_latency`` reads are
    quantized (up to ``limits.QUANTIZATION_SECONDS`` stale); read with the write's token
    (``at_least_as_fresh``) or ``fully_consistent``, or use
    ``store_factory(kind, quantization_seconds=0)``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url

from rebac.store.base import TupleStore
from rebac.store.memory import MemoryTupleStore
from rebac.store.postgres import IndexSettings, PostgresTupleStore
from rebac.store.postgres.embedded import embedded_postgres
from rebac.store.postgres.migrate import sync_url, upgrade_to_head

StoreFactory = Callable[..., AbstractAsyncContextManager[TupleStore]]

STORE_KINDS = ["memory", "postgres", "indexed"]
"""Every store engine: the shared suites run against each (``indexed``: the index-served path)."""

_RESET = """
TRUNCATE relation_tuple, revision, store_meta, schema_version, decision_log, identity_review, api_key,
    access_request;
INSERT INTO revision (value, committed_at) VALUES (0, now());
INSERT INTO store_meta (id) VALUES (1);
"""


def libpq(url: str) -> str:
    """A libpq connection string for a SQLAlchemy URL (for raw psycopg connections)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server_url: str, prefix: str = "rebac_test") -> str:
    """Create a uniquely named empty database on the server; return its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(sync_url(server_url)).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    """Drop the database at ``url`` (kicking out leftover connections)."""
    name = make_url(url).database
    with psycopg.connect(libpq(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", autouse=True)
def _rebac_home() -> Iterator[Path]:
    """A throwaway ``REBAC_HOME`` for the session (unless one is set): the decision spool,
    keys and other local state of every server the tests start stay out of the user's home."""
    if os.environ.get("REBAC_HOME"):
        yield Path(os.environ["REBAC_HOME"])
        return
    home = Path(tempfile.mkdtemp(prefix="rebac-test-home-"))
    os.environ["REBAC_HOME"] = str(home)
    try:
        yield home
    finally:
        os.environ.pop("REBAC_HOME", None)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    configured = os.environ.get("REBAC_TEST_DATABASE_URL")
    if configured:
        yield sync_url(configured)
        return
    # Not under pytest's basetemp: every pytest session resets that tree to mode 0700, which would
    # lock the server's (unprivileged) user out of a data directory another session is using.
    home = Path(tempfile.mkdtemp(prefix="rebac-test-pg-"))
    try:
        with embedded_postgres(home) as url:
            yield url
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(pg_server_url: str) -> Iterator[str]:
    url = create_database(pg_server_url)
    try:
        upgrade_to_head(url)
        yield url
    finally:
        drop_database(pg_server_url, url)


@pytest.fixture
def empty_database_url(pg_server_url: str) -> Iterator[str]:
    url = create_database(pg_server_url, prefix="rebac_empty")
    try:
        yield url
    finally:
        drop_database(pg_server_url, url)


@pytest.fixture(scope="session")
def _pg_reset(pg_url: str) -> Iterator[Callable[[], None]]:
    conn = psycopg.connect(libpq(pg_url), autocommit=True)

    def reset() -> None:
        conn.execute(_RESET)

    try:
        yield reset
    finally:
        conn.close()


@pytest.fixture(scope="session")
def pg_libpq(pg_url: str) -> str:
    """``pg_url`` as a libpq connection string, for raw psycopg connections in tests."""
    return libpq(pg_url)


@pytest.fixture
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    @asynccontextmanager
    async def make(kind: str, **kwargs: Any) -> AsyncIterator[TupleStore]:
        store: TupleStore
        if kind == "memory":
            store = MemoryTupleStore(**kwargs)
        elif kind in {"postgres", "indexed"}:
            url: str = request.getfixturevalue("pg_url")
            request.getfixturevalue("_pg_reset")()
            index = IndexSettings() if kind == "indexed" else None
            pg = await PostgresTupleStore.connect(url, index=index, **kwargs)
            if index is not None and not await pg.wait_index_loaded(timeout=30):
                await pg.close()
                msg = "the relationship index did not load"
                raise RuntimeError(msg)
            store = pg
        else:
            msg = f"unknown store kind {kind!r}"
            raise ValueError(msg)
        try:
            yield store
        finally:
            await store.close()

    return make


@pytest.fixture(params=STORE_KINDS, ids=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=STORE_KINDS, ids=STORE_KINDS)
async def store(request: pytest.FixtureRequest, store_factory: StoreFactory) -> AsyncIterator[TupleStore]:
    async with store_factory(request.param) as fresh:
        yield fresh

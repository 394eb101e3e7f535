"""Fixtures of the gateway tests: one rebac server with the demo loaded, JWKS keys, a calls file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_helpers import Keys, load_demo, rebac_server


@pytest.fixture(scope="module")
def rebac(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live rebac server with the example's schema and relationships."""
    log = tmp_path_factory.mktemp("rebac") / "serve.log"
    with rebac_server(pg_server_url, log) as base:
        load_demo(base)
        yield base


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """The test JWKS and its signing key."""
    return Keys(tmp_path_factory.mktemp("jwks"))


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file the demo server appends each call to."""
    path = tmp_path_factory.mktemp("calls") / "calls.txt"
    path.write_text("", encoding="utf-8")
    return path

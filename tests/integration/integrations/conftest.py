"""A live ``rebac serve`` with the agents' tools and documents, for the framework guards' tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_live import KEY, live_server

from rebac.client import Client

SCHEMA = """
definition user {}

definition agent {
    relation principal: user
    acts_for principal
}

definition tool {
    relation caller: user | agent
    permission call = caller
}

definition document {
    relation viewer: user | agent
    permission view = viewer
}
"""
RELATIONSHIPS = [
    "agent:helper#principal@user:alice",
    # search: the agent and its human may both call it
    "tool:search#caller@user:alice",
    "tool:search#caller@agent:helper",
    # delete_database: granted to the agent, but its human principal lacks it (the chain caps it)
    "tool:delete_database#caller@agent:helper",
    # documents: d0..d9 alice may view; the agent may view the even ones only
    *[f"document:d{n}#viewer@user:alice" for n in range(10)],
    *[f"document:d{n}#viewer@agent:helper" for n in range(0, 20, 2)],
]


@pytest.fixture(scope="module")
def rebac_url(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a server holding :data:`SCHEMA` and :data:`RELATIONSHIPS`."""
    log: Path = tmp_path_factory.mktemp("guards") / "server.log"
    with live_server(pg_server_url, log) as (base, _), Client(base, key=KEY) as client:
        client.write_schema(SCHEMA)
        client.write_relationships(RELATIONSHIPS)
        _wait_until_default_reads_see_the_writes(base)
        yield base


def _wait_until_default_reads_see_the_writes(base: str) -> None:
    """Guards read at the default consistency (a snapshot up to 0.1 s old): wait for the setup to show."""
    deadline = time.monotonic() + 15
    with Client(base, key=KEY, read_your_writes=False) as fresh:
        while not fresh.allowed("tool:search", "call", "agent:helper", via=["agent:helper", "user:alice"]):
            assert time.monotonic() < deadline, "the setup's relationships never reached default reads"
            time.sleep(0.05)


@pytest.fixture
def client(rebac_url: str) -> Iterator[Client]:
    with Client(rebac_url, key=KEY) as made:
        yield made

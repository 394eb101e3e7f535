"""The agent examples run with their one command against a live rebac server and say what they should."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_live import KEY, live_server

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def fresh_url(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of the examples' own (they write their own schema)."""
    with live_server(pg_server_url, tmp_path_factory.mktemp("examples") / "server.log") as (base, _):
        yield base


def _run(script: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own example, run with this interpreter
        [sys.executable, str(ROOT / script), "--url", url, "--key", KEY],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


def test_agent_guard_refuses_the_poisoned_delete(fresh_url: str) -> None:
    done = _run("examples/agent_guard/agent.py", fresh_url)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "tool search_docs [success]: 3 documents match 'Find the Q3 planning notes'" in lines
    refused = next(line for line in lines if line.startswith("tool delete_database"))
    assert refused.startswith("tool delete_database [error]: ")
    assert "rebac denied tool 'delete_database' for agent:helper -> user:alice: delegation" in refused
    assert "user:alice" in refused
    assert re.search(r"decision [0-9a-zA-Z-]{8,}", refused), refused
    assert "deleted" not in refused
    assert "database 'prod' intact: yes" in lines


def test_rag_filter_keeps_only_what_the_whole_chain_may_read(fresh_url: str) -> None:
    done = _run("examples/rag_filter/rag.py", fresh_url)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "retrieved: board-notes, incident-42, okrs, salaries, roadmap" in lines
    assert "post-filter kept (one bulk check): incident-42, okrs, roadmap" in lines
    assert "pre-filter ids (lookup resources): incident-42, okrs, onboarding, roadmap" in lines
    assert "pre-filtered search: incident-42, okrs, roadmap" in lines  # salaries, board-notes: bob lacks them
    assert "filters agree: yes; leaked: none" in lines

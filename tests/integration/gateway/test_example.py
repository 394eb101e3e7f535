"""``examples/mcp_gateway/run.py`` runs in one command and shows the forbidden call denied."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from gateway_helpers import EXAMPLE

from rebac.store.postgres.migrate import upgrade_to_head

pytestmark = pytest.mark.integration


def test_the_example_runs_and_denies_the_forbidden_call(empty_database_url: str) -> None:
    upgrade_to_head(empty_database_url)  # a database of its own: the example writes its own schema
    env = {**os.environ, "REBAC_DATABASE_URL": empty_database_url}
    done = subprocess.run(  # noqa: S603 - our own example
        [sys.executable, str(EXAMPLE / "run.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tools the agent may see: search, transfer, files.read" in out
    assert "ALLOWED search" in out
    assert (
        'DENIED delete_database {"name": "production"}: rebac denied call on tool:delete_database: delegation'
        in out
    )
    assert 'ALLOWED transfer {"amount": 40, "to": "bob"}' in out
    assert 'DENIED transfer {"amount": 4000, "to": "mallory"}' in out
    assert out.count("source=mcp-gateway") == 2

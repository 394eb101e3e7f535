"""The README's first-check walkthrough runs, as written, against a live ``rebac serve``.

All ```sh blocks of README.md run in order as ONE bash script (later blocks use variables the
earlier ones set), with ``set -euo pipefail`` and a ``curl`` that fails on any HTTP error, against a
fresh server started with the README's preshared key. The walkthrough greps for the expected
allowed and denied answers itself, so a wrong decision fails the script.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import free_port, start, stop, wait_ready

from rebac.store.postgres.migrate import upgrade_to_head

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
BASH = shutil.which("bash") or "/bin/bash"
PRELUDE = (
    'set -euo pipefail\ncurl() { command curl --fail-with-body --silent --show-error --max-time 20 "$@"; }\n'
)


def readme_script(base: str) -> str:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) >= 5, "the README lost its walkthrough"
    script = "\n".join(blocks)
    assert "export KEY=dev-key URL=http://127.0.0.1:8080" in script
    return PRELUDE + script.replace("URL=http://127.0.0.1:8080", f"URL={base}")


@pytest.fixture
def readme_server(empty_database_url: str, tmp_path: Path) -> Iterator[str]:
    assert shutil.which("curl") is not None, "the README walkthrough needs curl"
    upgrade_to_head(empty_database_url)
    port = free_port()
    proc = start(empty_database_url, port, tmp_path / "server.log", "--preshared-key", "dev-key")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield base
    finally:
        stop(proc)


def test_readme_walkthrough_gives_the_documented_answers(readme_server: str) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(  # noqa: S603 - our own README, run by bash
        [BASH, "-c", readme_script(readme_server)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    answers = [line for line in done.stdout.splitlines() if line in {"allowed", "denied"}]
    # curl: alice allowed, the agent denied on payroll; AuthZEN: allowed; the CLI: the same two
    # checks; the SDK: the agent allowed on the plan, denied on payroll
    assert answers == ["allowed", "denied", "allowed", "allowed", "denied", "allowed", "denied"], done.stdout
    assert "capped by user:alice" in done.stdout, "the SDK must name the hop that capped the agent"
    assert "hop 1 user:alice: denied" in done.stdout, "the CLI must name the hop that capped the agent"

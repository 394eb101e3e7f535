"""Every shell example in ``docs/api.md`` runs, as written, against a live ``rebac serve --demo``.

Blocks run in document order with ``set -euo pipefail``; ``curl`` fails on any HTTP error status,
so an example that drifts from the API fails here. The same harness can run the README's examples.
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
from live_server import KEY, free_port, start, stop, wait_ready

from rebac.store.postgres.migrate import upgrade_to_head

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "api.md"
BASH = shutil.which("bash") or "/bin/bash"
PRELUDE = (
    'set -euo pipefail\ncurl() { command curl --fail-with-body --silent --show-error --max-time 20 "$@"; }\n'
)


def shell_blocks(markdown: str) -> list[str]:
    """The ```sh blocks of a markdown text, in order."""
    return re.findall(r"```sh\n(.*?)```", markdown, flags=re.DOTALL)


@pytest.fixture
def demo_server(empty_database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    upgrade_to_head(empty_database_url)
    port = free_port()
    log = tmp_path / "server.log"
    proc = start(empty_database_url, port, log, "--demo")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield base, log
    finally:
        stop(proc)


def test_demo_prints_a_working_curl(demo_server: tuple[str, Path]) -> None:
    _, log = demo_server
    printed = log.read_text(errors="replace")
    command = printed[printed.index("curl -s") :].split("\n\n", 1)[0]
    done = subprocess.run(  # noqa: S603 - the command rebac printed
        [BASH, "-c", command], capture_output=True, text=True, timeout=60, check=False
    )
    assert '"permissionship":"PERMISSIONSHIP_HAS_PERMISSION"' in done.stdout, done.stderr


def test_every_doc_example_runs(demo_server: tuple[str, Path]) -> None:
    assert shutil.which("curl") is not None, "the documentation examples need curl"
    base, _ = demo_server
    blocks = shell_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) > 5
    env = {
        **os.environ,
        "URL": base,
        "KEY": KEY,
        "REBAC_ENDPOINT": base,
        "REBAC_KEY": KEY,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    for block in blocks:
        if "rebac serve" in block:
            continue  # the server is already running
        script = PRELUDE + block.replace("export KEY=dev-key URL=http://127.0.0.1:8080", "")
        script = script.replace("export REBAC_ENDPOINT=http://127.0.0.1:8080 REBAC_KEY=dev-key", "")
        done = subprocess.run(  # noqa: S603 - our own documentation, run by bash
            [BASH, "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (
            f"example failed:\n{block}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )

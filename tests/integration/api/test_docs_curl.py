"""Every shell example in ``docs/api.md`` runs, as written, against a live ``rebac serve --demo``.

Blocks run in document order with ``set -euo pipefail``; ``curl`` fails on any HTTP error status,
so an example that drifts from the API fails here. The same harness can run the README's examples.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
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


def run_blocks(base: str) -> dict[str, str]:
    """Run every shell block of ``docs/api.md`` against ``base``, in order; return each one's output."""
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
    outputs: dict[str, str] = {}
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
        outputs[block] = done.stdout
    return outputs


def test_every_doc_example_runs(demo_server: tuple[str, Path]) -> None:
    assert shutil.which("curl") is not None, "the documentation examples need curl"
    base, _ = demo_server
    outputs = run_blocks(base)
    # the examples of the key, decision and review endpoints did what the text says
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, timeout=10) as http:
        keys = {key["name"]: key for key in http.get("/v1/keys", headers=auth).json()["keys"]}
        reviews = http.get("/v1/reviews", params={"subject": "agent:planner"}, headers=auth).json()
    assert keys["ci"]["subject"] == "user:alice"
    assert keys["ci"]["revokedAt"] is not None  # the DELETE example revoked it
    assert keys["security review"]["subject"] == "user:sec"
    assert keys["security review"]["revokedAt"] is None
    assert [(r["reviewer"], r["note"]) for r in reviews["reviews"]] == [("user:sec", "quarterly")]
    (one_decision,) = (out for block, out in outputs.items() if "/v1/decisions/$DECISION" in block)
    decision = json.loads(one_decision)  # the decision of the block's own check, read back by its id
    assert (decision["subject"], decision["permission"], decision["resource"]) == (
        "agent:planner",
        "view",
        "document:roadmap",
    )
    (created,) = (out for block, out in outputs.items() if 'echo "$CREATED"' in block)
    assert json.loads(created.splitlines()[0])["subject"] == "user:alice"  # the created key, as echoed


def test_the_docs_show_every_endpoint_of_the_keys_decisions_and_reviews(
    demo_server: tuple[str, Path],
) -> None:
    base, _ = demo_server
    text = "\n".join(shell_blocks(DOC.read_text(encoding="utf-8")))
    for shown in (
        "$URL/v1/keys ",
        "-X DELETE $URL/v1/keys/$KEY_ID",
        "$URL/v1/decisions/$DECISION",
        "$URL/v1/reviews ",
    ):
        assert shown in text, shown
    assert '"reviewer"' not in text  # the reviewer is the key's subject, never a body field
    with httpx.Client(base_url=base, timeout=10) as http:
        spec = http.get("/schema/openapi.json").json()
    assert {"/v1/keys", "/v1/keys/{keyId}", "/v1/decisions/{decisionId}"} <= set(spec["paths"])

"""Freshness across processes: a write through one ``rebac serve``, then an AuthZEN evaluation with no
token through another on the same database, sees it within a (generous) bound.

The default read staleness is ``limits.DEFAULT_STALENESS_SECONDS`` (0.1 s);
``scripts/bench_freshness.py`` reports the distribution. This test only asserts a bound a loaded
CI machine keeps, and that no evaluation sent after the bound passed still denies.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_server import KEY, free_port, start, stop, wait_ready

from rebac.store.postgres.migrate import upgrade_to_head

pytestmark = pytest.mark.integration

SCHEMA = (
    "definition user {}\ndefinition document {\n    relation viewer: user\n    permission view = viewer\n}\n"
)
HEADERS = {"Authorization": f"Bearer {KEY}"}
BOUND_SECONDS = 2.0
WRITES = 10


@pytest.fixture
def two_servers(empty_database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    upgrade_to_head(empty_database_url)
    procs = []
    bases = []
    try:
        for name in ("a", "b"):
            port = free_port()
            procs.append(start(empty_database_url, port, tmp_path / f"{name}.log"))
            bases.append(f"http://127.0.0.1:{port}")
        for base, proc in zip(bases, procs, strict=True):
            wait_ready(base, proc)
        yield bases[0], bases[1]
    finally:
        for proc in procs:
            stop(proc)


def test_a_write_on_one_server_is_visible_on_another_without_a_token(two_servers: tuple[str, str]) -> None:
    writer_url, reader_url = two_servers
    with (
        httpx.Client(base_url=writer_url, headers=HEADERS, timeout=10) as writer,
        httpx.Client(base_url=reader_url, headers=HEADERS, timeout=10) as reader,
    ):
        assert writer.post("/v1/schema/write", json={"schema": SCHEMA}).status_code == 200
        delays = []
        for n in range(WRITES):
            update = {
                "operation": "OPERATION_TOUCH",
                "relationship": {
                    "resource": {"objectType": "document", "objectId": f"d{n}"},
                    "relation": "viewer",
                    "subject": {"object": {"objectType": "user", "objectId": "u"}},
                },
            }
            body = {
                "subject": {"type": "user", "id": "u"},
                "action": {"name": "view"},
                "resource": {"type": "document", "id": f"d{n}"},
            }
            written = writer.post("/v1/relationships/write", json={"updates": [update]})
            assert written.status_code == 200, written.text
            acked = time.monotonic()
            while True:
                answer = reader.post("/access/v1/evaluation", json=body)
                assert answer.status_code == 200, answer.text
                waited = time.monotonic() - acked
                if answer.json()["decision"]:
                    break
                assert waited < BOUND_SECONDS, f"write {n} still invisible after {waited:.2f} s"
                time.sleep(0.01)
            delays.append(waited)
        assert max(delays) < BOUND_SECONDS

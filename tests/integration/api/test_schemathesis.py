"""Property-based API tests: schemathesis against the served OpenAPI document of a real server.

Bounded examples per operation. Every response must be non-5xx and match the documented schema
(status code, content type and body), errors included (problem details are documented).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from api_helpers import SCHEMA, create_database, drop_database, touch
from hypothesis import HealthCheck, given, settings
from live_server import KEY, free_port, start, stop, wait_ready
from schemathesis import checks

from rebac.api.app import create_app
from rebac.config import Settings
from rebac.store.postgres.migrate import upgrade_to_head

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def live(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = create_database(pg_server_url, "rebac_fuzz")
    upgrade_to_head(url)
    port = free_port()
    log: Path = tmp_path_factory.mktemp("fuzz") / "server.log"
    proc = start(url, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        with httpx.Client(base_url=base, headers=AUTH, timeout=10) as http:
            http.post("/v1/schema/write", json={"schema": SCHEMA}).raise_for_status()
            updates = [
                touch("document", "d1", "viewer", "user", "tom"),
                touch("team", "eng", "member", "user", "ann"),
            ]
            http.post("/v1/relationships/write", json={"updates": updates}).raise_for_status()
        yield base
    finally:
        stop(proc)
        drop_database(pg_server_url, url)


def _operations() -> list[Any]:
    document = create_app(Settings()).openapi_schema.to_schema()
    results: list[Any] = list(schemathesis.openapi.from_dict(document).get_all_operations())
    return [result.ok() for result in results]


OPERATIONS = _operations()


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_server_errors_and_responses_match_the_schema(operation: Any, live: str) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        if operation.path == "/v1/watch" and isinstance(case.body, dict):
            case.body["optionalTimeoutSeconds"] = 0.1  # a watch otherwise waits for changes (30 s)
        case.call_and_validate(
            base_url=live,
            headers=AUTH,
            checks=[
                checks.not_a_server_error,
                checks.status_code_conformance,
                checks.content_type_conformance,
                checks.response_schema_conformance,
            ],
            timeout=30,
        )

    run()

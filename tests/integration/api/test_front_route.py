"""The check route served before Litestar's router answers exactly as the routed app does.

``create_app(fast_path=True)`` offers ``POST /v1/permissions/check`` to its hot route in
:class:`rebac.api.middleware.EdgeMiddleware`, ahead of the router; ``fast_path=False`` routes it.
The same table of requests (ordinary, caveated, refused, malformed, unauthenticated, oversized,
deeply nested, wrong method or content type) goes to both apps over the same store, and the status,
the content type, the request id and the body (less the decision's id) must match.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from api_helpers import AUTH, FULL, SCHEMA, Client, KeyTable, check_body, flush_decisions, settings, touch
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.store.base import TupleStore

pytestmark = pytest.mark.integration

CHECK = "/v1/permissions/check"
_VARYING = {"decisionId", "decision_id", "duration", "instance"}
_DEEP = ("[" * 5000 + "]" * 5000).encode()


def _stable(answer: Any) -> Any:
    if isinstance(answer, dict):
        return {k: _stable(v) for k, v in answer.items() if k not in _VARYING}
    if isinstance(answer, list):
        return [_stable(v) for v in answer]
    return answer


@pytest.fixture
async def pair(pg_store: TupleStore, keys: KeyTable) -> AsyncIterator[tuple[Client, Client]]:
    def app(*, fast: bool) -> Any:
        return create_app(
            settings(max_request_bytes=4096),
            store=pg_store,
            keys=keys,
            schema_refresh_seconds=0,
            key_cache_seconds=0,
            fast_path=fast,
        )

    async with AsyncTestClient(app(fast=True)) as front, AsyncTestClient(app(fast=False)) as routed:
        assert (
            await front.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)
        ).status_code == 200
        updates = [
            touch("document", "d1", "viewer", "team", "eng", "member"),
            touch("team", "eng", "member", "user", "tom"),
            touch("document", "d1", "banned", "user", "bob"),
            touch("document", "d1", "viewer", "user", "bob"),
        ]
        written = await front.post("/v1/relationships/write", json={"updates": updates}, headers=AUTH)
        assert written.status_code == 200, written.text
        yield front, routed


JSON = {**AUTH, "Content-Type": "application/json"}
CASES: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("allowed", "POST", json.dumps(check_body("d1", "view", "tom", **FULL)).encode(), JSON),
    ("denied", "POST", json.dumps(check_body("d1", "view", "bob", **FULL)).encode(), JSON),
    ("unknown subject", "POST", json.dumps(check_body("d1", "view", "zed")).encode(), JSON),
    ("traced", "POST", json.dumps(check_body("d1", "view", "tom", withTracing=True, **FULL)).encode(), JSON),
    ("unknown permission", "POST", json.dumps(check_body("d1", "nope", "tom")).encode(), JSON),
    (
        "unknown type",
        "POST",
        json.dumps(
            {**check_body("d1", "view", "tom"), "resource": {"objectType": "nope", "objectId": "x"}}
        ).encode(),
        JSON,
    ),
    (
        "unknown field",
        "POST",
        json.dumps({**check_body("d1", "view", "tom"), "consistncy": {}}).encode(),
        JSON,
    ),
    ("missing fields", "POST", b'{"permission": "view"}', JSON),
    ("bad json", "POST", b"{not json", JSON),
    ("deep json", "POST", _DEEP, JSON),
    ("nul", "POST", json.dumps(check_body("d1", "view", "t\x00m")).encode(), JSON),
    (
        "text/plain",
        "POST",
        json.dumps(check_body("d1", "view", "tom")).encode(),
        {**AUTH, "Content-Type": "text/plain"},
    ),
    (
        "no key",
        "POST",
        json.dumps(check_body("d1", "view", "tom")).encode(),
        {"Content-Type": "application/json"},
    ),
    (
        "wrong key",
        "POST",
        json.dumps(check_body("d1", "view", "tom")).encode(),
        {"Authorization": "Bearer wrong", "Content-Type": "application/json"},
    ),
    (
        "too large",
        "POST",
        json.dumps(check_body("d1", "view", "tom", context={"p": "x" * 5000})).encode(),
        JSON,
    ),
    (
        "bad token",
        "POST",
        json.dumps(check_body("d1", "view", "tom", consistency={"atLeastAsFresh": {"token": "zz"}})).encode(),
        JSON,
    ),
    ("GET", "GET", b"", AUTH),
]


@pytest.mark.parametrize(("name", "method", "body", "headers"), CASES, ids=[c[0] for c in CASES])
async def test_front_and_routed_answer_alike(
    pair: tuple[Client, Client], name: str, method: str, body: bytes, headers: dict[str, str]
) -> None:
    front, routed = pair
    sent = {**headers, "X-Request-ID": f"req-{name.replace(' ', '-')}"}
    a = await front.request(method, CHECK, content=body or None, headers=sent)
    b = await routed.request(method, CHECK, content=body or None, headers=sent)
    assert a.status_code == b.status_code, (a.text, b.text)
    assert a.headers.get("content-type") == b.headers.get("content-type")
    assert a.headers["x-request-id"] == b.headers["x-request-id"] == sent["X-Request-ID"]
    assert a.headers.get("www-authenticate") == b.headers.get("www-authenticate")
    if a.content:
        assert _stable(a.json()) == _stable(b.json())
    else:
        assert not b.content


async def test_front_route_decisions_are_recorded(pair: tuple[Client, Client]) -> None:
    front, _ = pair
    answer = (await front.post(CHECK, json=check_body("d1", "view", "tom", **FULL), headers=AUTH)).json()
    assert answer["permissionship"] == "PERMISSIONSHIP_HAS_PERMISSION"
    await flush_decisions(front)
    listed = (await front.get("/v1/decisions", headers=AUTH)).json()["decisions"]
    found = {d["decisionId"]: d for d in listed}
    record = found[answer["decisionId"]]
    assert (record["result"], record["subject"], record["permission"]) == ("allowed", "user:tom", "view")

"""The hot route of the decision endpoints answers exactly as their Litestar handlers do.

An ordinary request (``check``-scoped key, sized body that decodes) is served by
:class:`rebac.api.hot.HotRoute`; a request whose body arrives without ``Content-Length`` (chunked)
is not, so it reaches the handler. Both are sent here and compared, and the cases the hot route
hands over (auth, size, body) are checked to keep their problems, the body replayed intact.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_helpers import AUTH, FULL, PRESHARED, SCHEMA, Client, KeyTable, check_body, settings
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.store.base import TupleStore

pytestmark = pytest.mark.integration

CHECK = "/v1/permissions/check"
EVALUATION = "/access/v1/evaluation"


async def _via_handler(
    client: Client, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """POST ``body`` in two chunks without ``Content-Length``: the hot route hands it over."""
    sent: list[dict[str, Any]] = []
    chunks = [
        {"type": "http.request", "body": body[:7], "more_body": True},
        {"type": "http.request", "body": body[7:], "more_body": False},
    ]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw = [(b"authorization", f"Bearer {PRESHARED}".encode()), (b"content-type", b"application/json")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": raw,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "extensions": {},
        "state": {},
    }
    await client.app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    out_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], out_headers, json.loads(payload)


_VARYING = {"decisionId", "decision_id", "duration"}


def _evaluation(subject: str, action: str = "view") -> dict[str, Any]:
    return {
        "subject": {"type": "user", "id": subject},
        "resource": {"type": "document", "id": "d1"},
        "action": {"name": action},
    }


def _without_id(answer: Any) -> Any:
    """The answer minus what differs between two decisions (their ids, traced durations)."""
    if isinstance(answer, dict):
        return {k: _without_id(v) for k, v in answer.items() if k not in _VARYING}
    if isinstance(answer, list):
        return [_without_id(v) for v in answer]
    return answer


@pytest.mark.parametrize(
    "body",
    [
        check_body("d1", "view", "tom", **FULL),
        check_body("d1", "view", "bob", **FULL),
        check_body("d1", "view", "tom"),
        check_body("d1", "view", "tom", withTracing=True, **FULL),
    ],  # an unknown field is refused on both paths: test_robustness.py
)
async def test_check_hot_and_handler_answer_alike(seeded: Client, body: dict[str, Any]) -> None:
    hot = await seeded.post(CHECK, json=body, headers=AUTH)
    status, headers, answer = await _via_handler(seeded, CHECK, json.dumps(body).encode())
    assert hot.status_code == status == 200
    assert hot.headers["content-type"] == headers["content-type"] == "application/json"
    assert "decisionId" in hot.json()
    assert "decisionId" in answer
    assert _without_id(hot.json()) == _without_id(answer)


@pytest.mark.parametrize("body", [_evaluation("tom"), _evaluation("bob"), _evaluation("tom", "nope")])
async def test_evaluation_hot_and_handler_answer_alike(seeded: Client, body: dict[str, Any]) -> None:
    hot = await seeded.post(EVALUATION, json=body, headers=AUTH)
    status, _, answer = await _via_handler(seeded, EVALUATION, json.dumps(body).encode())
    assert hot.status_code == status
    assert _without_id(hot.json()) == _without_id(answer)


async def test_evaluation_token_header_reaches_the_hot_route(seeded: Client) -> None:
    body = _evaluation("tom")
    bad = {"X-Rebac-Consistency-Token": "garbage"}
    hot = await seeded.post(EVALUATION, json=body, headers={**AUTH, **bad})
    status, _, answer = await _via_handler(seeded, EVALUATION, json.dumps(body).encode(), bad)
    assert hot.status_code == status == 400
    assert hot.json() == answer
    assert hot.json()["type"] == "urn:rebac:problem:invalid-token"


async def test_hot_route_errors_are_problems_with_the_request_id(seeded: Client) -> None:
    headers = {**AUTH, "X-Request-ID": "req-42"}
    response = await seeded.post(CHECK, json=check_body("d1", "nope", "tom"), headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["x-request-id"] == "req-42"
    assert response.json()["type"] == "urn:rebac:problem:unknown-relation"
    ok = await seeded.post(CHECK, json=check_body("d1", "view", "tom"), headers=headers)
    assert ok.status_code == 200
    assert ok.headers["x-request-id"] == "req-42"


@pytest.mark.parametrize("path", [CHECK, EVALUATION])
async def test_handed_over_requests_keep_their_problems(seeded: Client, keys: KeyTable, path: str) -> None:
    body = _evaluation("tom") if path == EVALUATION else check_body("d1", "view", "tom")
    no_key = await seeded.post(path, json=body)
    assert no_key.status_code == 401
    assert no_key.headers["www-authenticate"]
    writer = keys.add("write")
    wrong_scope = await seeded.post(path, json=body, headers={"Authorization": f"Bearer {writer.text}"})
    assert wrong_scope.status_code == 403
    malformed = await seeded.post(path, content=b"{not json", headers=AUTH)
    assert malformed.status_code == 400
    assert malformed.headers["content-type"].startswith("application/problem+json")
    missing = await seeded.post(path, json={"permission": "view"}, headers=AUTH)
    assert missing.status_code == 400
    assert missing.json()["type"] == "urn:rebac:problem:invalid-request"
    checker = keys.add("check")
    scoped = await seeded.post(path, json=body, headers={"Authorization": f"Bearer {checker.text}"})
    assert scoped.status_code == 200


async def test_body_over_the_limit_is_413(pg_store: TupleStore, keys: KeyTable) -> None:
    app = create_app(settings(max_request_bytes=1000), store=pg_store, keys=keys, schema_refresh_seconds=0)
    async with AsyncTestClient(app) as small:
        await small.post("/v1/schema/write", json={"schema": SCHEMA}, headers=AUTH)
        fits = await small.post(CHECK, json=check_body("d1", "view", "tom"), headers=AUTH)
        assert fits.status_code == 200
        huge = check_body("d1", "view", "tom", context={"pad": "x" * 2000})
        response = await small.post(CHECK, json=huge, headers=AUTH)
        assert response.status_code == 413
        assert response.json()["type"] == "urn:rebac:problem:limit-exceeded"
        status, _, answer = await _via_handler(small, CHECK, json.dumps(huge).encode())
        assert status == 413
        assert answer == response.json()


async def test_ordinary_requests_do_not_reach_the_handler(
    seeded: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(_: object) -> None:
        raise AssertionError("the handler ran")

    monkeypatch.setattr("rebac.api.controllers.permissions.caller_of", unreachable)
    monkeypatch.setattr("rebac.api.controllers.authzen.caller_of", unreachable)
    check = await seeded.post(CHECK, json=check_body("d1", "view", "tom"), headers=AUTH)
    assert check.status_code == 200
    evaluation = await seeded.post(EVALUATION, json=_evaluation("tom"), headers=AUTH)
    assert evaluation.json()["decision"] is True
    handed_over = await seeded.post(CHECK, json={"permission": "view"}, headers=AUTH)
    assert handed_over.status_code == 400  # the handler decodes (and refuses) before it runs

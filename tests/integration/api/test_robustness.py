"""The HTTP API under bad input, against the real app and PostgreSQL (issue 15's probe findings).

Deep nesting, NUL characters, echoed input, unknown fields, non-JSON content types and a watch
that asks for no wait: each is refused with a problem (or answered at once) and writes nothing.
The hot routes (``/v1/permissions/check``, ``/access/v1/evaluation``) answer as the ordinary route.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from api_helpers import AUTH, FULL, SCHEMA, Client, check_body, obj, rel, settings, touch
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.refs import parse_subject
from rebac.store.base import TupleStore

pytestmark = pytest.mark.integration

CHECK = "/v1/permissions/check"
EVALUATION = "/access/v1/evaluation"
JSON = {**AUTH, "Content-Type": "application/json"}

AGENTS = """
definition user {}
definition agent {
    relation principal: user | agent
    acts_for principal
}
definition document {
    relation viewer: user | agent
    permission view = viewer
}
"""


def _json_post_paths(client: Client) -> list[str]:
    """Every POST route of the API that takes a JSON body (its handler has a ``data`` parameter).

    The console's routes take HTML forms behind a session cookie, so they are not JSON endpoints
    (``test_console_posts_refuse_a_deep_json_body_without_a_500`` covers them).
    """
    return sorted(
        {
            route.path
            for route in client.app.routes
            for handler in getattr(route, "route_handlers", [])
            if "POST" in handler.http_methods
            and "data" in handler.parsed_fn_signature.parameters
            and not route.path.startswith("/console")
        }
    )


def _console_post_paths(client: Client) -> list[str]:
    return sorted(
        {
            route.path
            for route in client.app.routes
            for handler in getattr(route, "route_handlers", [])
            if "POST" in handler.http_methods and route.path.startswith("/console")
        }
    )


def _problem(response: Any, status: int, kind: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if kind is not None:
        assert body["type"] == f"urn:rebac:problem:{kind}", body
    return body


async def _relationships(client: Client) -> list[str]:
    response = await client.post(
        "/v1/relationships/read",
        json={"relationshipFilter": {"resourceType": "document"}, **FULL},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    return sorted(json.dumps(r["relationship"], sort_keys=True) for r in response.json()["results"])


# --- deep nesting ---------------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


async def test_every_json_post_endpoint_refuses_deep_nesting_with_a_400(seeded: Client) -> None:
    paths = _json_post_paths(seeded)
    assert CHECK in paths
    assert EVALUATION in paths
    assert "/v1/relationships/write" in paths
    assert len(paths) >= 20
    for path in paths:
        for body in (b"[" * 5000 + b"]" * 5000, _nested(1200), _nested(100)):
            response = await seeded.post(path, content=body, headers=JSON)
            problem = _problem(response, 400)
            assert "nested" in problem["detail"], (path, problem)


async def test_console_posts_refuse_a_deep_json_body_without_a_500(seeded: Client) -> None:
    paths = _console_post_paths(seeded)
    assert "/console/login" in paths
    for path in paths:
        response = await seeded.post(path, content=_nested(1200), headers=JSON)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:300])


@pytest.mark.parametrize("depth", [100, 3000])
async def test_a_deep_caveat_context_is_a_400_on_both_check_paths(seeded: Client, depth: int) -> None:
    raw = json.dumps(check_body("d1", "view", "tom", **FULL))[:-1].encode()
    body = raw + b', "context": ' + _nested(depth) + b"}"
    hot = _problem(await seeded.post(CHECK, content=body, headers=JSON), 400, "invalid-input")
    bulk = b'{"items": [' + body + b"]}"
    ordinary = _problem(await seeded.post("/v1/permissions/checkbulk", content=bulk, headers=JSON), 400)
    assert hot["detail"] == ordinary["detail"] == "the JSON body is nested more than 64 levels deep"


async def test_a_deep_import_line_is_a_400_and_writes_nothing(seeded: Client) -> None:
    before = await _relationships(seeded)
    line = b'{"relationship": "document:d9#viewer@user:zed", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    body = b"document:d8#viewer@user:zed\n" + line + b"\n"
    response = await seeded.post("/v1/relationships/importbulk", content=body, headers=AUTH)
    problem = _problem(response, 400, "malformed-reference")
    assert problem["detail"].startswith("line 2:")
    assert await _relationships(seeded) == before


# --- NUL characters -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/decisions", "/v1/decisions/export"])
@pytest.mark.parametrize("query", ["subject=user:a%00b", "resource=document:d1%00", "permission=vi%00ew"])
async def test_a_nul_in_a_decision_filter_is_a_400(seeded: Client, path: str, query: str) -> None:
    response = await seeded.get(f"{path}?{query}", headers=AUTH)
    problem = _problem(response, 400, "invalid-input")
    assert "NUL" in problem["detail"]


async def test_a_nul_in_a_review_is_a_400_and_records_nothing(pg_store: TupleStore) -> None:
    app = create_app(
        settings(preshared_subject=parse_subject("user:sec")),
        store=pg_store,
        schema_refresh_seconds=0,
        key_cache_seconds=0,
    )
    async with AsyncTestClient(app) as client:
        write = await client.post("/v1/schema/write", json={"schema": AGENTS}, headers=AUTH)
        assert write.status_code == 200, write.text
        updates = [
            touch("document", "1", "viewer", "agent", "a1"),
            touch("agent", "a1", "principal", "user", "u"),
        ]
        assert (
            await client.post("/v1/relationships/write", json={"updates": updates}, headers=AUTH)
        ).is_success
        for body in (
            {"subject": obj("agent", "a1"), "note": "fine\x00not"},
            {"subject": obj("agent", "a1\x00"), "note": ""},
            {"subject": {"objectType": "agent", "objectId": "a1", "x\x00": 1}, "note": ""},
        ):
            problem = _problem(
                await client.post("/v1/reviews", json=body, headers=AUTH), 400, "invalid-input"
            )
            assert "NUL" in problem["detail"]
        listed = await client.get("/v1/reviews?subject=agent:a1", headers=AUTH)
        assert listed.json()["reviews"] == []
        assert (
            await client.post("/v1/reviews", json={"subject": obj("agent", "a1")}, headers=AUTH)
        ).is_success


async def test_a_nul_anywhere_in_a_body_is_a_400_and_writes_nothing(seeded: Client) -> None:
    before = await _relationships(seeded)
    caveated = rel("document", "d5", "viewer", "user", "amy")
    caveated["optionalCaveat"] = {"caveatName": "on_weekday", "context": {"day": "mon\x00"}}
    update = {"operation": "OPERATION_TOUCH", "relationship": caveated}
    _problem(await seeded.post("/v1/relationships/write", json={"updates": [update]}, headers=AUTH), 400)
    context_nul = check_body("d1", "view", "tom", context={"day\x00": "mon"}, **FULL)
    _problem(await seeded.post(CHECK, json=context_nul, headers=AUTH), 400, "invalid-input")
    _problem(await seeded.post("/v1/schema/write", json={"schema": SCHEMA + "\x00"}, headers=AUTH), 400)
    line = json.dumps({"relationship": 'document:d6#viewer@user:amy[on_weekday:{"day":"m\\u0000"}]'})
    imported = await seeded.post("/v1/relationships/importbulk", content=line.encode(), headers=AUTH)
    assert "NUL" in _problem(imported, 400)["detail"]
    assert await _relationships(seeded) == before


# --- echoed input ---------------------------------------------------------------------------------


async def test_error_bodies_echo_a_bounded_prefix_of_bad_input(seeded: Client) -> None:
    huge_id = "x" * 100_000
    response = await seeded.post(CHECK, json=check_body(huge_id, "view", "tom"), headers=AUTH)
    problem = _problem(response, 400, "malformed-reference")
    assert len(response.content) < 2_000
    assert problem["detail"].endswith(" characters)")  # the length of what was cut is said
    assert problem["text"].endswith("… (100009 characters)")
    # In a bulk check a malformed item makes the request malformed: one clipped problem.
    bulk = {"items": [check_body("d1", "view", "tom"), check_body(huge_id, "view", "tom")]}
    response = await seeded.post("/v1/permissions/checkbulk", json=bulk, headers=AUTH)
    _problem(response, 400, "malformed-reference")
    assert len(response.content) < 2_000
    unknown = {**check_body("d1", "view", "tom"), "y" * 100_000: 1}
    response = await seeded.post(CHECK, json=unknown, headers=AUTH)
    _problem(response, 400, "invalid-request")
    assert len(response.content) < 3_000
    line = b"document:d1#viewer@user:" + b"z" * 5_000_000 + b"\n"
    response = await seeded.post("/v1/relationships/importbulk", content=line, headers=AUTH)
    problem = _problem(response, 400)
    assert len(response.content) < 3_000
    assert problem["detail"].startswith("line 1:")
    assert "characters)" in problem["detail"]


# --- unknown fields -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (CHECK, {**check_body("d1", "view", "tom"), "consistncy": {"fullyConsistent": True}}, "consistncy"),
        (
            CHECK,
            {**check_body("d1", "view", "tom"), "resource": {**obj("document", "d1"), "kind": 1}},
            "kind",
        ),
        ("/v1/permissions/checkbulk", {"items": [{**check_body("d1", "view", "tom"), "ctx": {}}]}, "ctx"),
        (
            "/v1/relationships/read",
            {"relationshipFilter": {"resourceType": "document", "resourceId": "d1"}},
            "resourceId",
        ),
        ("/v1/schema/write", {"schema": SCHEMA, "forse": True}, "forse"),
        ("/v1/watch", {"optionalTimeoutSecond": 0}, "optionalTimeoutSecond"),
    ],
)
async def test_an_unknown_v1_field_is_refused_naming_it(
    seeded: Client, path: str, body: dict[str, Any], field: str
) -> None:
    problem = _problem(await seeded.post(path, json=body, headers=AUTH), 400, "invalid-request")
    assert f"unknown field `{field}`" in problem["detail"]


async def test_an_unknown_field_is_refused_on_the_hot_and_the_ordinary_check_path_alike(
    seeded: Client,
) -> None:
    body = {**check_body("d1", "view", "tom", **FULL), "withTrace": True}
    hot = await seeded.post(CHECK, json=body, headers=AUTH)  # the preshared key: the hot route
    bulk = await seeded.post(
        "/v1/permissions/checkbulk",
        json={"items": [check_body("d1", "view", "tom")], "withTrace": True},
        headers=AUTH,
    )
    assert "unknown field `withTrace`" in _problem(hot, 400)["detail"]
    assert "unknown field `withTrace`" in _problem(bulk, 400)["detail"]


async def test_an_unknown_write_field_writes_nothing(seeded: Client) -> None:
    before = await _relationships(seeded)
    update = {**touch("document", "d7", "viewer", "user", "amy"), "optionalPrecondition": []}
    _problem(await seeded.post("/v1/relationships/write", json={"updates": [update]}, headers=AUTH), 400)
    assert await _relationships(seeded) == before


async def test_authzen_stays_extensible(seeded: Client) -> None:
    body = {
        "subject": {"type": "user", "id": "tom", "extension": 1},
        "resource": {"type": "document", "id": "d1"},
        "action": {"name": "view"},
        "future": {"member": True},
    }
    response = await seeded.post(EVALUATION, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["decision"] is True


# --- content type ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "media",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data; boundary=x"],
)
@pytest.mark.parametrize("path", [CHECK, EVALUATION, "/v1/relationships/write", "/v1/schema/write"])
async def test_a_non_json_content_type_is_refused(seeded: Client, path: str, media: str) -> None:
    """415 on the v1 API; 400 on AuthZEN, whose certification scenario asks for 400."""
    before = await _relationships(seeded)
    body = {
        CHECK: check_body("d1", "view", "tom"),
        EVALUATION: {
            "subject": {"type": "user", "id": "tom"},
            "resource": {"type": "document", "id": "d1"},
            "action": {"name": "view"},
        },
        "/v1/relationships/write": {"updates": [touch("document", "d7", "viewer", "user", "amy")]},
        "/v1/schema/write": {"schema": SCHEMA},
    }[path]
    response = await seeded.post(path, content=json.dumps(body), headers={**AUTH, "Content-Type": media})
    if path == EVALUATION:
        assert response.status_code == 400, response.text
    else:
        _problem(response, 415, "unsupported-media-type")
    assert await _relationships(seeded) == before


@pytest.mark.parametrize(
    "media",
    ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.rebac+json"],
)
@pytest.mark.parametrize("path", [CHECK, "/v1/permissions/checkbulk"])
async def test_json_content_types_are_accepted(seeded: Client, path: str, media: str) -> None:
    item = check_body("d1", "view", "tom", **FULL)
    body = {"items": [check_body("d1", "view", "tom")], **FULL} if "bulk" in path else item
    response = await seeded.post(path, content=json.dumps(body), headers={**AUTH, "Content-Type": media})
    assert response.status_code == 200, response.text


# --- watch ----------------------------------------------------------------------------------------


async def _watch(client: Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    # A bound, not a timing assertion: a watch that waited its default 30 s would fail here.
    response = await asyncio.wait_for(client.post("/v1/watch", json=body, headers=AUTH), timeout=20)
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line]


async def test_a_watch_with_a_zero_timeout_answers_what_is_there_without_waiting(seeded: Client) -> None:
    start = (await seeded.post("/v1/schema/read", headers=AUTH)).json()["readAt"]
    write = await seeded.post(
        "/v1/relationships/write",
        json={"updates": [touch("document", "d3", "viewer", "user", "amy")]},
        headers=AUTH,
    )
    assert write.status_code == 200, write.text
    lines = await _watch(seeded, {"optionalStartCursor": start, "optionalTimeoutSeconds": 0})
    changes = [u["relationship"]["resource"]["objectId"] for line in lines for u in line["result"]["updates"]]
    assert changes == ["d3"]
    assert lines[-1]["result"]["isCheckpoint"] is True
    quiet = await _watch(seeded, {"optionalTimeoutSeconds": 0})
    assert len(quiet) == 1
    assert quiet[0]["result"]["isCheckpoint"] is True


@pytest.mark.parametrize("timeout", [-1, 300.5, 1e9])
async def test_a_watch_timeout_out_of_bounds_is_a_400(seeded: Client, timeout: float) -> None:
    response = await seeded.post("/v1/watch", json={"optionalTimeoutSeconds": timeout}, headers=AUTH)
    assert "optionalTimeoutSeconds" in _problem(response, 400, "invalid-input")["detail"]


# --- what the document says is what the server does -----------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/relationships/exportbulk", {"consistency": {"fullyConsistent": 0}}),
        ("/v1/schema/write", {"schema": SCHEMA, "force": 0}),
        (CHECK, {**check_body("d1", "view", "tom"), "withTracing": "true"}),
        ("/v1/watch", {"optionalLimit": -1, "optionalTimeoutSeconds": 0}),
        ("/v1/relationships/exportbulk", {"optionalLimit": -1}),
        (
            "/v1/relationships/read",
            {"relationshipFilter": {"resourceType": "document"}, "optionalLimit": "5"},
        ),
    ],
)
async def test_a_member_of_the_wrong_json_type_or_out_of_bounds_is_a_400(
    seeded: Client, path: str, body: dict[str, Any]
) -> None:
    _problem(await seeded.post(path, json=body, headers=AUTH), 400, "invalid-request")


async def test_an_integral_float_is_an_integer(seeded: Client) -> None:
    body = {"relationshipFilter": {"resourceType": "document"}, "optionalLimit": 5.0, **FULL}
    response = await seeded.post("/v1/relationships/read", json=body, headers=AUTH)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "allow"), [("/v1/keys", "GET, OPTIONS, POST"), ("/v1/reviews", "GET, OPTIONS, POST")]
)
async def test_options_lists_every_method_of_the_path(seeded: Client, path: str, allow: str) -> None:
    response = await seeded.options(path, headers=AUTH)
    assert response.status_code == 204
    assert response.headers["allow"] == allow

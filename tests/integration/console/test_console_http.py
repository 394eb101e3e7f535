"""The console's sign-in, session and CSRF rules over HTTP (Litestar's test client, real stores).

The browser tests cover the pages; these cover the edges a browser does not reach easily: a
forged, expired or foreign cookie, a revoked key, a non-admin key, a sign-in form without its
token, a deployment with no console secret, and the headers of every kind of answer.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from console_keys import TestKeys
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.config import ApiSettings, Settings
from rebac.console.session import COOKIE, SessionCodec, console_secret
from rebac.errors import InvalidInputError
from rebac.store.base import TupleStore

pytestmark = pytest.mark.integration

KEY = "console-http-preshared-0123456789"
SETTINGS = Settings(api=ApiSettings(preshared_key=KEY, access_log=False))

Client = AsyncTestClient[Any]


@pytest.fixture
async def store(store_factory: Any) -> AsyncIterator[TupleStore]:
    """The memory store: these tests are about the console's rules. The live-server browser tests
    run the same pages on PostgreSQL (an indexed store opened by a test's fixture can be bound to
    another event loop than Litestar's test client serves on, which fails a read at random)."""
    async with store_factory("memory", quantization_seconds=0) as opened:
        yield opened


@pytest.fixture
def keys(store: TupleStore, pg_url: str) -> TestKeys:
    return TestKeys(store, pg_url)


@pytest.fixture
async def client(store: TupleStore, keys: TestKeys) -> AsyncIterator[Client]:
    app = create_app(SETTINGS, store=store, keys=keys.lookup, schema_refresh_seconds=0, key_cache_seconds=0)
    async with AsyncTestClient(app) as test_client:
        yield test_client


async def _form_token(client: Client) -> str:
    page = await client.get("/console/login")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found[1]


async def _sign_in(client: Client, key: str) -> Any:
    token = await _form_token(client)
    return await client.post("/console/login", data={"csrf": token, "key": key}, follow_redirects=False)


def _page_csrf(text: str) -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', text)
    assert found is not None
    return found[1]


async def test_sign_in_sets_a_strict_http_only_cookie_and_no_key(client: Client) -> None:
    signed = await _sign_in(client, KEY)
    assert signed.status_code == 303
    assert signed.headers["location"] == "/console/decisions"
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over TLS the cookie is Secure
    assert KEY not in cookie
    page = await client.get("/console/decisions")
    assert page.status_code == 200
    assert "Sign out" in page.text


async def test_a_wrong_key_or_a_missing_form_token_sets_no_session(client: Client) -> None:
    wrong = await _sign_in(client, "wrong-key")
    assert wrong.status_code == 401
    assert "unknown or revoked" in wrong.text
    assert COOKIE not in client.cookies
    bare = await client.post("/console/login", data={"key": KEY}, follow_redirects=False)
    assert bare.status_code == 403
    assert COOKIE not in client.cookies
    forged = await client.post("/console/login", data={"key": KEY, "csrf": "x"}, follow_redirects=False)
    assert forged.status_code == 403
    assert COOKIE not in client.cookies


async def test_a_key_without_the_admin_scope_is_refused(client: Client, keys: TestKeys) -> None:
    _, text = await keys.add({"check"})
    refused = await _sign_in(client, text)
    assert refused.status_code == 403
    assert "admin key" in refused.text
    assert COOKIE not in client.cookies


async def test_revoking_the_key_ends_its_session(client: Client, keys: TestKeys) -> None:
    key_id, text = await keys.add({"admin"})
    assert (await _sign_in(client, text)).status_code == 303
    assert (await client.get("/console/decisions")).status_code == 200
    await keys.revoke(key_id)
    after = await client.get("/console/decisions", follow_redirects=False)
    assert after.status_code == 303
    assert after.headers["location"].startswith("/console/login")


async def test_forged_expired_and_foreign_cookies_are_no_session(client: Client) -> None:
    secret = console_secret(SETTINGS.api)
    assert secret is not None
    codec = SessionCodec(secret)
    valid, _ = codec.issue("preshared", "0" * 64)  # a fingerprint of another secret hash
    now = int(time.time())
    claims = {
        "sub": "preshared",
        "fp": "x",
        "csrf": "c",
        "iat": now - 10,
        "exp": now - 1,
        "aud": "rebac-console",
    }
    expired = jwt.encode(claims, secret, algorithm="HS256")
    foreign = jwt.encode(
        {**claims, "exp": now + 60}, b"another deployment, another secret", algorithm="HS256"
    )
    unsigned = jwt.encode({**claims, "exp": now + 60}, "", algorithm="none")
    for value in (valid, expired, foreign, unsigned, "garbage"):
        client.cookies.set(COOKIE, value, path="/console")
        answer = await client.get("/console/decisions", follow_redirects=False)
        assert answer.status_code == 303, value
        assert answer.headers["location"].startswith("/console/login")
        htmx = await client.get(
            "/console/decisions/new", headers={"HX-Request": "true"}, follow_redirects=False
        )
        assert htmx.status_code == 401
        assert htmx.headers["hx-redirect"] == "/console/login"


async def test_state_changes_need_the_sessions_csrf_token(client: Client) -> None:
    assert (await _sign_in(client, KEY)).status_code == 303
    page = await client.get("/console/decisions")
    token = _page_csrf(page.text)
    for data, headers in (({}, {}), ({"csrf": "forged"}, {}), ({}, {"X-CSRF-Token": "forged"})):
        refused = await client.post("/console/logout", data=data, headers=headers, follow_redirects=False)
        assert refused.status_code == 403
        assert "CSRF" in refused.text
    assert (await client.get("/console/decisions")).status_code == 200  # still signed in
    review = await client.post(
        "/console/identities/review", data={"subject": "agent:x"}, follow_redirects=False
    )
    assert review.status_code == 403
    out = await client.post("/console/logout", headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert (await client.get("/console/decisions", follow_redirects=False)).status_code == 303


async def test_every_console_answer_carries_the_csp(client: Client) -> None:
    answers = [
        await client.get("/console/login"),
        await client.get("/console/decisions", follow_redirects=False),
        await client.get("/console/static/console.css"),
        await client.post("/console/login", data={"key": KEY}, follow_redirects=False),
    ]
    assert (await _sign_in(client, KEY)).status_code == 303
    answers.append(await client.get("/console/decisions/not-a-uuid"))
    for answer in answers:
        policy = answer.headers["content-security-policy"]
        assert policy.startswith("default-src 'self'")
        assert "'unsafe-inline'" not in policy
        assert "'unsafe-eval'" not in policy
        assert answer.headers["x-frame-options"] == "DENY"
    assert answers[-1].status_code in {400, 404}  # a malformed id (or no log): a page, not JSON
    assert 'id="problem"' in answers[-1].text
    assert "text/html" in answers[-1].headers["content-type"]


def test_a_short_console_secret_is_refused_at_startup() -> None:
    with pytest.raises(InvalidInputError, match="REBAC_CONSOLE_SECRET"):
        create_app(Settings(api=ApiSettings(console_secret="short")))  # noqa: S106


async def test_without_a_console_secret_nobody_signs_in(store: TupleStore, keys: TestKeys) -> None:
    app = create_app(Settings(api=ApiSettings(access_log=False)), store=store, keys=keys.lookup)
    async with AsyncTestClient(app) as bare:
        page = await bare.get("/console/login")
        assert page.status_code == 503
        assert "REBAC_CONSOLE_SECRET" in page.text
        posted = await bare.post("/console/login", data={"key": "anything"}, follow_redirects=False)
        assert posted.status_code == 503
        assert COOKIE not in bare.cookies


async def test_decisions_filter_by_source(client: Client) -> None:
    assert (await _sign_in(client, KEY)).status_code == 303
    schema = "definition user {}\ndefinition doc {\n relation viewer: user\n permission view = viewer\n}"
    auth = {"Authorization": f"Bearer {KEY}"}
    written = await client.post("/v1/schema/write", json={"schema": schema}, headers=auth)
    assert written.status_code == 200, written.text
    body = {
        "subject": {"type": "user", "id": "u"},
        "action": {"name": "view"},
        "resource": {"type": "doc", "id": "d"},
    }
    assert (await client.post("/access/v1/evaluation", json=body, headers=auth)).status_code == 200
    check = {
        "resource": {"objectType": "doc", "objectId": "d"},
        "permission": "view",
        "subject": {"object": {"objectType": "user", "objectId": "u"}},
    }
    assert (await client.post("/v1/permissions/check", json=check, headers=auth)).status_code == 200
    sources: set[str] = set()
    for _ in range(100):  # the recorder writes in batches
        page = await client.get("/console/decisions?source=authzen")
        sources = set(re.findall(r"<td>(authzen|check)</td>", page.text))
        if sources:
            break
        await asyncio.sleep(0.05)
    assert sources == {"authzen"}
    everything = await client.get("/console/decisions")
    assert set(re.findall(r"<td>(authzen|check)</td>", everything.text)) == {"authzen", "check"}


async def test_older_pages_follow_the_keyset_cursor_and_time_filters_apply(client: Client) -> None:
    assert (await _sign_in(client, KEY)).status_code == 303
    schema = "definition user {}\ndefinition doc {\n relation viewer: user\n permission view = viewer\n}"
    auth = {"Authorization": f"Bearer {KEY}"}
    assert (await client.post("/v1/schema/write", json={"schema": schema}, headers=auth)).status_code == 200
    for n in range(60):
        body = {
            "subject": {"type": "user", "id": f"u{n}"},
            "action": {"name": "view"},
            "resource": {"type": "doc", "id": "d"},
        }
        assert (await client.post("/access/v1/evaluation", json=body, headers=auth)).status_code == 200
    for _ in range(200):  # the recorder writes in batches: wait for all 60
        logged = await client.get("/v1/decisions", params={"limit": 100}, headers=auth)
        if len(logged.json()["decisions"]) == 60:
            break
        await asyncio.sleep(0.05)
    first = (await client.get("/console/decisions?source=authzen")).text
    assert first.count("data-decision=") == 50
    cursor = re.search(r'hx-get="/console/decisions\?source=authzen&amp;cursor=([^"]+)"', first)
    assert cursor is not None
    older = await client.get(
        f"/console/decisions?source=authzen&cursor={cursor[1]}", headers={"HX-Request": "true"}
    )
    assert older.status_code == 200
    assert "<html" not in older.text  # an htmx fragment: the rows only
    seen = set(re.findall(r'data-decision="([^"]+)"', first))
    more = set(re.findall(r'data-decision="([^"]+)"', older.text))
    assert len(more) == 10
    assert not seen & more
    future = await client.get("/console/decisions?since=2999-01-01T00:00")
    assert "No decisions match." in future.text
    bad = await client.get("/console/decisions?since=yesterday")
    assert bad.status_code == 400
    assert "since must be an ISO 8601 time" in bad.text


async def test_ids_are_escaped_in_pages(client: Client) -> None:
    assert (await _sign_in(client, KEY)).status_code == 303
    schema = "definition user {}\ndefinition doc {\n relation viewer: user\n permission view = viewer\n}"
    auth = {"Authorization": f"Bearer {KEY}"}
    assert (await client.post("/v1/schema/write", json={"schema": schema}, headers=auth)).status_code == 200
    hostile = '<img src=x onerror="alert(1)">'
    body = {
        "subject": {"type": "user", "id": hostile},
        "action": {"name": "view"},
        "resource": {"type": "doc", "id": "d"},
    }
    answer = await client.post("/access/v1/evaluation", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    decision_id = answer.json()["context"]["decision_id"]
    text = ""
    for _ in range(100):  # the recorder writes in batches
        text = (await client.get("/console/decisions")).text
        if decision_id in text:
            break
        await asyncio.sleep(0.05)
    assert decision_id in text
    detail = (await client.get(f"/console/decisions/{decision_id}")).text
    for page in (text, detail):
        assert "<img" not in page
        assert "&lt;img" in page

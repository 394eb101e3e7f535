"""The schema page over HTTP: the versions, one version's text, a diff between two, the refusals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from console_client import Client, sign_in
from console_keys import TestKeys
from litestar.testing import AsyncTestClient

from rebac.api.app import create_app
from rebac.config import ApiSettings, Settings
from rebac.store.base import TupleStore

pytestmark = pytest.mark.integration

KEY = "console-schema-preshared-0123456789"
ADMIN = {"Authorization": f"Bearer {KEY}"}
V1 = (
    "definition user {}\n/** Docs <b>bold</b> & co. */\ndefinition document {\n    relation viewer: user\n}\n"
)
V2 = V1.replace("  relation viewer: user\n", "  relation viewer: user\n  permission view = viewer\n")


@pytest.fixture
async def store(store_factory: Any) -> AsyncIterator[TupleStore]:
    """The memory store, as the console's other HTTP tests (see test_console_http.py)."""
    async with store_factory("memory", quantization_seconds=0) as opened:
        yield opened


@pytest.fixture
async def client(store: TupleStore, pg_url: str) -> AsyncIterator[Client]:
    settings = Settings(api=ApiSettings(preshared_key=KEY, access_log=False))
    keys = TestKeys(store, pg_url)
    app = create_app(settings, store=store, keys=keys.lookup, schema_refresh_seconds=0, key_cache_seconds=0)
    async with AsyncTestClient(app) as test_client:
        yield test_client


async def _write(client: Client, *texts: str) -> None:
    for text in texts:
        written = await client.post("/v1/schema/write", json={"schema": text}, headers=ADMIN)
        assert written.status_code == 200, written.text


def _diff(text: str) -> list[tuple[str, str]]:
    found = re.search(r'<pre class="diff" id="schema-diff">(.*?)</pre>', text, re.DOTALL)
    assert found is not None, "no diff on the page"
    return re.findall(r'<span class="(\w+)">(.*?)</span>', found[1])


async def test_no_schema_yet(client: Client) -> None:
    await sign_in(client, KEY, "/console/schema")
    page = await client.get("/console/schema")
    assert page.status_code == 200
    assert 'id="no-schema"' in page.text


async def test_versions_the_current_text_and_the_diff_from_the_previous(client: Client) -> None:
    await _write(client, V1, V2)
    await sign_in(client, KEY, "/console/schema")
    page = await client.get("/console/schema")
    assert page.status_code == 200
    assert re.findall(r'<tr data-version="(\d+)"', page.text) == ["2", "1"]  # newest first
    current = page.text.split('<tr data-version="2"')[1].split("</tr>")[0]
    assert "current" in current
    assert "permission view = viewer" in page.text.split('id="schema-text">')[1]
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co." in page.text  # the schema's text is escaped
    assert "<b>bold</b>" not in page.text
    lines = _diff(page.text)
    assert ("file", "--- version 1") in lines
    assert ("file", "+++ version 2") in lines
    assert ("add", "+  permission view = viewer") in lines
    assert not [t for kind, t in lines if kind == "del"]


async def test_an_older_version_and_a_chosen_diff(client: Client) -> None:
    await _write(client, V1, V2)
    await sign_in(client, KEY, "/console/schema")
    first = await client.get("/console/schema", params={"version": "1"})
    assert first.status_code == 200
    shown = first.text.split('id="schema-text">')[1].split("</pre>")[0]
    assert "permission view" not in shown
    assert 'id="schema-diff"' not in first.text  # version 1 has no previous version
    backwards = await client.get("/console/schema", params={"from": "2", "to": "1"})
    lines = _diff(backwards.text)
    assert ("del", "-  permission view = viewer") in lines
    assert re.search(r'<option value="2" selected>version 2</option>', backwards.text)
    same = await client.get("/console/schema", params={"from": "2", "to": "2"})
    assert 'id="schema-diff-same"' in same.text


async def test_a_bad_or_unknown_version_is_refused(client: Client) -> None:
    await _write(client, V1)
    await sign_in(client, KEY, "/console/schema")
    for params, status, words in (
        ({"version": "two"}, 400, "schema version number"),
        ({"from": "0", "to": "1"}, 400, "1 or more"),
        ({"version": "9"}, 404, "9"),
        ({"from": "1", "to": "7"}, 404, "7"),
    ):
        refused = await client.get("/console/schema", params=params)
        assert refused.status_code == status, params
        assert 'id="problem"' in refused.text
        assert words in refused.text, params

"""The schema page over HTTP: the versions, one version's text, a diff between two, the refusals."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from console_client import Client, console_app, evaluate, logged, seed, sign_in

pytestmark = pytest.mark.integration

KEY = "console-schema-preshared-0123456789"
ADMIN = {"Authorization": f"Bearer {KEY}"}
V1 = (
    "definition user {}\n/** Docs <b>bold</b> & co. */\ndefinition document {\n    relation viewer: user\n}\n"
)
V2 = V1.replace("  relation viewer: user\n", "  relation viewer: user\n  permission view = viewer\n")


@pytest.fixture
async def client(store_factory: Any, pg_url: str) -> AsyncIterator[Client]:
    async with console_app(store_factory, pg_url, KEY) as opened:
        yield opened


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


WHAT_IF_SCHEMA = """definition user {}
definition document {
  relation owner: user
  relation viewer: user
  permission view = viewer + owner
}
"""


async def _logged_world(client: Client) -> None:
    await seed(
        client,
        ADMIN,
        WHAT_IF_SCHEMA,
        ["document:a#viewer@user:alice", "document:b#viewer@user:bob", "document:b#owner@user:dan"],
    )
    assert await evaluate(client, ADMIN, "document:a#view@user:alice")
    assert await evaluate(client, ADMIN, "document:b#view@user:bob")
    assert not await evaluate(client, ADMIN, "document:a#view@user:carol")
    await logged(client, ADMIN, 3)


def _flips(text: str) -> set[tuple[str, str, str, str, str]]:
    table = text.split('id="flips"')[1].split("</table>", maxsplit=1)[0]
    rows = re.findall(r"<tr data-flip=[^>]*>(.*?)</tr>", table, re.DOTALL)
    found = set()
    for row in rows:
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.DOTALL)]
        found.add((cells[1], cells[2], cells[4], cells[5], cells[6]))  # kind, subject, resource, old, new
    return found


async def test_what_if_relationship_changes_list_the_flips_and_write_nothing(client: Client) -> None:
    await _logged_world(client)
    csrf = await sign_in(client, KEY, "/console/schema")
    changes = (
        "// swap alice for carol\ndelete document:a#viewer@user:alice\ntouch document:a#viewer@user:carol\n"
    )
    page = await client.post(
        "/console/schema/what-if", data={"csrf": csrf, "changes": changes, "since": "1h"}
    )
    assert page.status_code == 200, page.text
    assert "2 of 3 decisions would flip (1 revoked, 1 granted)" in page.text
    assert _flips(page.text) == {
        ("revoked", "user:alice", "document:a", "allowed", "denied"),
        ("granted", "user:carol", "document:a", "denied", "allowed"),
    }
    assert re.search(r'id="what-if-subjects">user:alice, user:carol<', page.text)
    assert "delete document:a#viewer@user:alice" in page.text  # the proposal is kept in the form
    # the live store is unchanged: alice still views document:a, carol still does not
    assert await evaluate(client, ADMIN, "document:a#view@user:alice")
    assert not await evaluate(client, ADMIN, "document:a#view@user:carol")


async def test_what_if_an_uploaded_schema(client: Client) -> None:
    await _logged_world(client)
    csrf = await sign_in(client, KEY, "/console/schema")
    owners_only = WHAT_IF_SCHEMA.replace("permission view = viewer + owner", "permission view = owner")
    page = await client.post(
        "/console/schema/what-if",
        data={"csrf": csrf, "since": "24h", "schema": ""},
        files={"schema_file": ("owners.zed", owners_only.encode(), "text/plain")},
    )
    assert page.status_code == 200, page.text
    assert "a new schema" in page.text
    assert _flips(page.text) == {
        ("revoked", "user:alice", "document:a", "allowed", "denied"),
        ("revoked", "user:bob", "document:b", "allowed", "denied"),
    }
    history = await client.post("/v1/schema/read", json={}, headers=ADMIN)
    assert history.json()["version"] == 1  # nothing was written
    unchanged = await client.post("/console/schema/what-if", data={"csrf": csrf, "schema": WHAT_IF_SCHEMA})
    assert unchanged.status_code == 200
    assert 'id="what-if-verdict">no flips<' in unchanged.text
    assert 'id="flips"' not in unchanged.text


async def test_a_bad_proposal_is_shown_beside_the_form_and_nothing_runs(client: Client) -> None:
    await _logged_world(client)
    csrf = await sign_in(client, KEY, "/console/schema")
    for data, words in (
        ({"schema": "definition document {\n  relation viewer: robot\n}\n"}, "robot"),
        ({"changes": "touch document:a#nonsense@user:carol"}, "changes:1:"),
        ({"changes": "delete document:a#viewer@user:alice", "since": "yesterday"}, "since"),
        ({"since": "1h"}, "propose a schema"),
    ):
        refused = await client.post("/console/schema/what-if", data={"csrf": csrf, **data})
        assert refused.status_code == 400, data
        error = re.search(r'id="what-if-error">(.*?)</p>', refused.text, re.DOTALL)
        assert error is not None, data
        assert words in html.unescape(error[1]), (data, error[1])
        assert 'id="what-if-report"' not in refused.text
    kept = await client.post("/console/schema/what-if", data={"csrf": csrf, "changes": "touch nonsense"})
    assert "touch nonsense</textarea>" in kept.text


async def test_what_if_without_the_csrf_token_is_refused(client: Client) -> None:
    await _logged_world(client)
    await sign_in(client, KEY, "/console/schema")
    refused = await client.post(
        "/console/schema/what-if",
        data={"changes": "delete document:a#viewer@user:alice"},
        files={"x": ("", b"")},
    )
    assert refused.status_code == 403
    assert "CSRF" in refused.text

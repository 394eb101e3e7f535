"""The least-privilege view over HTTP: held against used, the grants to remove, the refusals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from console_client import Client, console_app, evaluate, logged, seed, sign_in

pytestmark = pytest.mark.integration

KEY = "console-lp-preshared-0123456789"
ADMIN = {"Authorization": f"Bearer {KEY}"}
SCHEMA = """
definition user {}
definition agent {
  relation owner: user
  relation principal: user
  acts_for principal
}
definition doc {
  relation viewer: user | agent
  permission view = viewer
}
"""
LINES = [
    "agent:bot#principal@user:alice",
    "agent:bot#owner@user:alice",
    *(f"doc:{n}#viewer@user:alice" for n in "abc"),
    *(f"doc:{n}#viewer@agent:bot" for n in "abc"),
]


@pytest.fixture
async def client(store_factory: Any, pg_url: str) -> AsyncIterator[Client]:
    async with console_app(store_factory, pg_url, KEY) as opened:
        yield opened


async def test_held_against_used_and_the_grants_to_remove(client: Client) -> None:
    await seed(client, ADMIN, SCHEMA, LINES)
    assert await evaluate(client, ADMIN, "doc:a#view@agent:bot")
    assert await evaluate(client, ADMIN, "doc:a#view@agent:bot")
    await logged(client, ADMIN, 2)
    await sign_in(client, KEY, "/console/identities")
    inventory = await client.get("/console/identities")
    assert 'href="/console/identities/least-privilege?subject=agent%3Abot"' in inventory.text
    page = await client.get(
        "/console/identities/least-privilege", params={"subject": "agent:bot", "since": "1d"}
    )
    assert page.status_code == 200, page.text
    assert "agent:bot holds 3 permissions, used 1 in the last 1 day" in page.text
    assert re.search(r'id="lp-held">3<', page.text)
    assert re.search(r'id="lp-used">1<', page.text)
    removable = re.findall(
        r"<li><code>([^<]+)</code></li>", page.text.split('id="lp-removable"')[1].split("</ul>")[0]
    )
    assert sorted(removable) == ["doc:b#viewer@agent:bot", "doc:c#viewer@agent:bot"]
    used = page.text.split('id="lp-used-table"')[1].split("</table>")[0]
    assert re.search(r"<td>doc:a</td><td>view</td><td class=\"num\">2</td>", used)
    unused = set(re.findall(r'data-unused="([^"]+)"', page.text))
    assert unused == {"doc:b#view", "doc:c#view"}
    assert "<code>doc:b#viewer@agent:bot</code>" in page.text.split('data-unused="doc:b#view"')[1]
    # nothing was removed: bot still views doc:b
    assert await evaluate(client, ADMIN, "doc:b#view@agent:bot")


async def test_the_form_alone_and_the_refusals(client: Client) -> None:
    await seed(client, ADMIN, SCHEMA, LINES)
    await sign_in(client, KEY, "/console/identities")
    form = await client.get("/console/identities/least-privilege")
    assert form.status_code == 200
    assert 'id="least-privilege"' not in form.text
    for params, status, words in (
        ({"subject": "agent:bot", "since": "a month"}, 400, "since"),
        ({"subject": "robot:x"}, 400, "robot"),
        ({"subject": "agent:*"}, 400, "wildcard"),
    ):
        refused = await client.get("/console/identities/least-privilege", params=params)
        assert refused.status_code == status, (params, refused.text)
        assert words in refused.text, params

"""The console in a real browser (Debian's Chromium under Playwright) against a live server.

One server and one browser serve the module; the tests run in file order and build on each
other's state where the story needs it (the review, then the approval). Screenshots are saved
under pytest's tmp dir (``REBAC_CONSOLE_SCREENSHOTS`` overrides it, to refresh ``docs/console/``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from console_helpers import (
    Console,
    Recorded,
    check,
    chromium,
    chromium_missing,
    live_console,
    recorded,
    sign_in,
)
from live_server import KEY
from playwright.sync_api import Browser, expect

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

if (why := chromium_missing()) is not None:  # pragma: no cover - .ci/run installs it
    pytest.fail(why, pytrace=False)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("REBAC_CONSOLE_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("console-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def console(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with live_console(pg_server_url, tmp_path_factory.mktemp("console-server")) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Recorded]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    found = recorded(context.new_page())
    try:
        yield found
    finally:
        context.close()
    assert found.outside(console.base) == [], "a console page requested another origin"


def test_wrong_key_is_refused(page: Recorded, console: Console, shots: Path) -> None:
    sign_in(page.page, console.base, "not-a-key-0123456789abcdef")
    expect(page.page.locator("#refused")).to_contain_text("unknown or revoked")
    page.page.screenshot(path=shots / "refused.png")
    cookies = {c["name"] for c in page.page.context.cookies()}
    assert "rebac_console" not in cookies
    page.page.goto(f"{console.base}/console/decisions")
    expect(page.page).to_have_url(re.compile(r"/console/login\?next=/console/decisions$"))


def test_sign_in_filter_decisions_and_open_one(page: Recorded, console: Console, shots: Path) -> None:
    sign_in(page.page, console.base, KEY)
    expect(page.page).to_have_url(re.compile(r"/console/decisions$"))
    cookie = next(c for c in page.page.context.cookies() if c["name"] == "rebac_console")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert KEY not in cookie["value"]
    rows = page.page.locator("#rows tr[data-decision]")
    expect(rows.first).to_be_visible()
    page.page.screenshot(path=shots / "decisions.png", full_page=True)
    page.page.fill("input[name=subject]", "agent:search")
    page.page.select_option("select[name=result]", "denied")
    page.page.click("#apply-filters")
    expect(page.page).to_have_url(re.compile(r"subject=agent%3Asearch"))
    subjects = page.page.locator("#rows tr[data-decision] td:nth-child(3)").all_inner_texts()
    assert subjects
    assert set(subjects) == {"agent:search"}
    results = page.page.locator("#rows tr[data-decision] .badge").all_inner_texts()
    assert set(results) == {"denied"}
    page.page.locator(f"tr[data-decision='{console.denied_id}'] a.open-decision").click()
    expect(page.page.locator("#verdict")).to_have_text("denied")
    failing = page.page.locator("#failing-hop")
    expect(failing).to_contain_text("agent:planner")
    expect(failing).to_contain_text("failing hop")
    page.page.screenshot(path=shots / "decision.png", full_page=True)


def test_the_table_follows_new_decisions(page: Recorded, console: Console) -> None:
    sign_in(page.page, console.base, KEY)
    page.page.goto(f"{console.base}/console/decisions?subject=user:carol")
    expect(page.page.locator("#rows tr.empty")).to_be_visible()
    with httpx.Client(base_url=console.base, timeout=10) as http:
        check(http, "document:roadmap", "view", "user:carol", {"Authorization": f"Bearer {KEY}"})
    live = page.page.locator("#live tr[data-decision]")
    expect(live).to_have_count(1, timeout=20_000)
    expect(live.first).to_contain_text("user:carol")


def test_csp_header_on_every_console_response(console: Console) -> None:
    with httpx.Client(base_url=console.base, timeout=10) as http:
        for path in ("/console/login", "/console/static/console.css", "/console/decisions"):
            response = http.get(path)
            policy = response.headers.get("content-security-policy", "")
            assert "default-src 'self'" in policy, path
            assert "unsafe-inline" not in policy
            assert "script-src 'self'" in policy


def test_a_state_change_without_the_csrf_token_is_refused(page: Recorded, console: Console) -> None:
    sign_in(page.page, console.base, KEY)
    expect(page.page).to_have_url(re.compile(r"/console/decisions$"))
    request = page.page.request
    refused = request.post(f"{console.base}/console/logout", form={"csrf": "forged"}, max_redirects=0)
    assert refused.status == 403
    missing = request.post(f"{console.base}/console/logout", form={}, max_redirects=0)
    assert missing.status == 403
    page.page.goto(f"{console.base}/console/decisions")
    expect(page.page).to_have_url(re.compile(r"/console/decisions$"))  # still signed in


def test_sign_out(page: Recorded, console: Console) -> None:
    sign_in(page.page, console.base, KEY)
    expect(page.page).to_have_url(re.compile(r"/console/decisions$"))
    page.page.click("#sign-out")
    expect(page.page).to_have_url(re.compile(r"/console/login$"))
    assert "rebac_console" not in {c["name"] for c in page.page.context.cookies()}
    page.page.goto(f"{console.base}/console/decisions")
    expect(page.page).to_have_url(re.compile(r"/console/login\?next="))

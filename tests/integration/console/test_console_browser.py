"""The console in a real browser (Debian's Chromium under Playwright) against a live server.

One server and one browser serve the module; the tests run in file order and build on each
other's state where the story needs it (the review, then the approval). Screenshots are saved
under pytest's tmp dir (``REBAC_CONSOLE_SCREENSHOTS`` overrides it, to refresh ``docs/console/``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from console_helpers import (
    APPROVAL_LINE,
    Console,
    Recorded,
    check,
    chromium,
    chromium_missing,
    console_schema,
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
    assert [e for e in found.console_errors if "Content Security Policy" in e] == []


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
    page.page.fill("input[name=source]", "access_request.created")
    page.page.click("#apply-filters")
    expect(page.page).to_have_url(re.compile(r"source=access_request.created"))
    sources = page.page.locator("#rows tr[data-decision] td:nth-child(6)").all_inner_texts()
    assert sources == ["access_request.created"]
    page.page.fill("input[name=source]", "")
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
    expect(page.page.locator(".hop-path[data-path='agent:search'] ol.steps")).to_contain_text(
        "document:payroll#viewer@agent:search"
    )
    expect(page.page.locator(".hop-path[data-path='agent:planner'] .no-path")).to_be_visible()
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
        for path in (
            "/console/login",
            "/console/static/console.css",
            "/console/decisions",
            "/console/blast-radius",
            "/console/schema",
            "/console/static/reach.js",
            "/console/static/vendor/cytoscape/cytoscape-3.34.4.min.js",
        ):
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


def test_review_an_identity(page: Recorded, console: Console, shots: Path) -> None:
    sign_in(page.page, console.base, console.approver_key)
    page.page.goto(f"{console.base}/console/identities")
    row = page.page.locator("tr[data-identity='agent:planner']")
    expect(row.locator("[data-flag=never_reviewed]")).to_be_visible()
    expect(row).to_contain_text("user:alice")
    page.page.screenshot(path=shots / "identities.png", full_page=True)
    row.locator("input[name=note]").fill("quarterly review")
    row.locator("form.review button").click()
    expect(page.page.locator("#reviewed")).to_contain_text("agent:planner")
    row = page.page.locator("tr[data-identity='agent:planner']")
    expect(row.locator("[data-flag=never_reviewed]")).to_have_count(0)
    expect(row).to_contain_text("by user:bob")
    with httpx.Client(base_url=console.base, timeout=10) as http:
        reviews = http.get(
            "/v1/reviews", params={"subject": "agent:planner"}, headers={"Authorization": f"Bearer {KEY}"}
        )
    assert reviews.status_code == 200
    assert [(r["reviewer"], r["note"]) for r in reviews.json()["reviews"]] == [
        ("user:bob", "quarterly review")
    ]


def test_a_review_by_a_key_acting_for_no_one_is_refused(page: Recorded, console: Console) -> None:
    sign_in(page.page, console.base, KEY)  # the preshared key acts for no subject here
    page.page.goto(f"{console.base}/console/identities")
    page.page.locator("tr[data-identity='agent:search'] form.review button").click()
    expect(page.page.locator("#problem")).to_contain_text("subject")
    with httpx.Client(base_url=console.base, timeout=10) as http:
        reviews = http.get(
            "/v1/reviews", params={"subject": "agent:search"}, headers={"Authorization": f"Bearer {KEY}"}
        )
    assert reviews.json()["reviews"] == []


def test_approve_a_request_and_the_agents_next_check_is_allowed(
    page: Recorded, console: Console, shots: Path
) -> None:
    agent = {"Authorization": f"Bearer {console.agent_key}"}
    with httpx.Client(base_url=console.base, timeout=10) as http:
        assert check(http, "document:specs", "view", "agent:planner", agent)["decision"] is False
    sign_in(page.page, console.base, console.approver_key)
    page.page.goto(f"{console.base}/console/requests")
    row = page.page.locator(f"#pending tr[data-request='{console.request_id}']")
    expect(row).to_contain_text("agent:planner")
    expect(row).to_contain_text("document:specs")
    page.page.screenshot(path=shots / "requests.png", full_page=True)
    row.locator("form.approve select[name=duration]").select_option("900")
    row.locator("form.approve input[name=reason]").fill("ok for the summary")
    row.locator("form.approve button").click()
    expect(page.page.locator("#decided")).to_contain_text(console.request_id)
    expect(page.page.locator(f"#pending tr[data-request='{console.request_id}']")).to_have_count(0)
    expect(page.page.locator(f"#recent tr[data-request='{console.request_id}'] .badge")).to_have_text(
        "approved"
    )
    with httpx.Client(base_url=console.base, timeout=10) as http:
        assert check(http, "document:specs", "view", "agent:planner", agent)["decision"] is True
        status = http.get(
            f"/access/v1/requests/{console.request_id}", headers={"Authorization": f"Bearer {KEY}"}
        )
    granted = status.json()["request"]
    assert granted["decided_by"] == "user:bob"
    assert granted["reason"] == "ok for the summary"
    until = datetime.fromisoformat(granted["grant"]["expires_at"])
    assert until - datetime.now(UTC) <= timedelta(minutes=15)  # the approver's 15 minutes, not the hour asked
    step = page.page.locator("#trail tr[data-step='access_request.approved']")
    for _ in range(40):  # the decision log is written in batches: reload until the step is there
        page.page.goto(f"{console.base}/console/requests/{console.request_id}")
        if step.count() == 1:
            break
        page.page.wait_for_timeout(250)
    expect(page.page.locator("#status")).to_have_text("approved")
    expect(step).to_have_count(1)
    expect(step).to_contain_text("user:bob")
    expect(step).to_contain_text(f"until {until.isoformat()}")  # the grant's end, not the one asked for
    page.page.screenshot(path=shots / "request.png", full_page=True)


def _click_node(page: Recorded, node_id: str) -> None:
    """A real mouse click on a drawn node (its rendered position inside the graph's box)."""
    graph = page.page.locator("#reach-graph.ready")
    expect(graph).to_be_visible()
    graph.scroll_into_view_if_needed()
    x, y = page.page.evaluate(
        """(id) => {
            const node = window.rebacReach.cy.getElementById(id);
            if (node.empty()) { throw new Error("no node " + id); }
            window.rebacReach.cy.resize();  // drop cytoscape's cached container offset (the page scrolled)
            const at = node.renderedPosition();
            const box = document.getElementById("reach-graph").getBoundingClientRect();
            return [box.left + at.x, box.top + at.y];
        }""",
        node_id,
    )
    page.page.mouse.click(x, y)
    expect(page.page.locator("#reach-graph")).to_have_attribute("data-selected", node_id)


def _classes(page: Recorded, ids: list[str]) -> dict[str, list[str]]:
    """Cytoscape's classes of the elements ``ids`` (its own state, not the DOM's: it draws on a canvas)."""
    found: dict[str, list[str]] = page.page.evaluate(
        "(ids) => Object.fromEntries(ids.map((id) => [id, rebacReach.cy.getElementById(id).classes()]))",
        ids,
    )
    return found


def test_draw_a_blast_radius_and_click_a_path(page: Recorded, console: Console, shots: Path) -> None:
    sign_in(page.page, console.base, KEY)
    page.page.click("header nav a[href='/console/blast-radius']")
    page.page.fill("#reach-form input[name=subject]", "agent:search")
    page.page.click("#draw")
    expect(page.page).to_have_url(re.compile(r"subject=agent%3Asearch"))
    expect(page.page.locator("#reach-summary")).to_contain_text("removed by delegation caps")
    target = "document:payroll#view"
    path: list[str] = page.page.evaluate(
        "(id) => window.rebacReach.cy.getElementById(id).data('path')", target
    )
    assert path, "the reached node carries its path"
    others: list[str] = page.page.evaluate(
        "(ids) => window.rebacReach.cy.edges().filter((e) => !ids.includes(e.id())).map((e) => e.id())", path
    )
    before = _classes(page, [target, *path])
    assert all("highlighted" not in c for c in before.values())
    assert "state-capped" in before[target]  # agent:planner, whom it acts for, cannot view payroll
    _click_node(page, target)
    after = _classes(page, [target, *path, *others])
    assert all("highlighted" in after[e] for e in [target, *path])
    assert all("faded" in after[e] and "highlighted" not in after[e] for e in others)
    expect(page.page.locator("#reach-selected ol.steps")).to_contain_text(
        "document:payroll#viewer@agent:search"
    )
    timing = page.page.evaluate("[window.rebacReach.layoutMs, window.rebacReach.lastTapMs]")
    assert all(isinstance(t, int | float) for t in timing)
    page.page.screenshot(path=shots / "blast-radius-capped.png", full_page=True)
    page.page.mouse.click(
        *page.page.evaluate(
            "(() => { const b = document.getElementById('reach-graph').getBoundingClientRect();"
            " return [b.left + 6, b.top + 6]; })()"
        )
    )
    expect(page.page.locator("#reach-graph")).not_to_have_attribute("data-selected", target)
    assert all("highlighted" not in c for c in _classes(page, [target, *path]).values())
    page.page.goto(f"{console.base}/console/blast-radius?subject=agent:planner")
    _click_node(page, "document:roadmap#view")
    expect(page.page.locator("#reach-selected ol.steps")).to_contain_text(
        "team:research#member@agent:planner"
    )
    page.page.screenshot(path=shots / "blast-radius.png", full_page=True)


def test_the_reverse_view_from_a_clicked_resource(page: Recorded, console: Console, shots: Path) -> None:
    sign_in(page.page, console.base, KEY)
    page.page.goto(f"{console.base}/console/blast-radius?subject=agent:search")
    _click_node(page, "document:payroll#view")
    page.page.click("#reach-selected a.who-can-reach")
    expect(page.page).to_have_url(re.compile(r"resource=document%3Apayroll&permission=view"))
    expect(page.page.locator("#tab-reverse")).to_have_class("active")
    expect(page.page.locator("#reach-entries")).to_contain_text("user:bob")
    states = _classes(page, ["agent:search", "user:bob", "document:payroll#view"])
    assert "state-capped" in states["agent:search"]
    assert "state-effective" in states["user:bob"]
    assert "origin" in states["document:payroll#view"]
    _click_node(page, "user:bob")
    bob_path: list[str] = page.page.evaluate("window.rebacReach.cy.getElementById('user:bob').data('path')")
    assert bob_path
    assert all("highlighted" in c for c in _classes(page, bob_path).values())
    assert "faded" in _classes(page, ["agent:search"])["agent:search"]
    page.page.screenshot(path=shots / "who-can-reach.png", full_page=True)
    download_link = page.page.locator("#export-graphml")
    with page.page.expect_download() as download:
        download_link.click()
    assert download.value.suggested_filename == "who-can-reach-document_payroll.graphml"


def test_schema_versions_and_a_diff(page: Recorded, console: Console, shots: Path) -> None:
    newer = console_schema().replace(APPROVAL_LINE, APPROVAL_LINE + "\tpermission comment = view\n")
    with httpx.Client(base_url=console.base, timeout=10) as http:
        written = http.post(
            "/v1/schema/write", json={"schema": newer}, headers={"Authorization": f"Bearer {KEY}"}
        )
    assert written.status_code == 200, written.text
    version = written.json()["version"]
    sign_in(page.page, console.base, KEY)
    page.page.click("header nav a[href='/console/schema']")
    expect(page.page.locator(f"#schema-versions tr[data-version='{version}']")).to_contain_text("current")
    expect(page.page.locator("#schema-text")).to_contain_text("permission comment = view")
    expect(page.page.locator("#schema-diff .add")).to_have_text(["+\tpermission comment = view"])
    page.page.screenshot(path=shots / "schema.png", full_page=True)
    page.page.select_option("#diff-form select[name=from]", str(version))
    page.page.select_option("#diff-form select[name=to]", str(version - 1))
    page.page.click("#show-diff")
    expect(page.page.locator("#schema-diff .del")).to_have_text(["-\tpermission comment = view"])
    page.page.click(f"#schema-versions tr[data-version='{version - 1}'] a")
    expect(page.page.locator("#schema-text")).not_to_contain_text("permission comment")


def test_see_a_what_if_report(page: Recorded, console: Console, shots: Path) -> None:
    sign_in(page.page, console.base, KEY)
    page.page.goto(f"{console.base}/console/schema")
    form = page.page.locator("#what-if-form")
    form.locator("textarea[name=changes]").fill(
        "// research loses the roadmap\ndelete document:roadmap#viewer@team:research#member\n"
    )
    form.locator("input[name=since]").fill("1h")
    page.page.click("#run-what-if")
    expect(page.page.locator("#what-if-verdict")).to_have_text("flips")
    flip = page.page.locator("#flips tr.revoked", has_text="agent:planner")
    expect(flip).to_contain_text("document:roadmap")
    expect(flip.locator("td").nth(6)).to_have_text("denied")
    expect(page.page.locator("#what-if-subjects")).to_contain_text("agent:planner")
    # alice owns the roadmap: her decision does not flip
    expect(page.page.locator("#flips tr", has_text="user:alice")).to_have_count(0)
    page.page.locator("#what-if-report").scroll_into_view_if_needed()
    page.page.screenshot(path=shots / "what-if.png", full_page=True)
    with httpx.Client(base_url=console.base, timeout=10) as http:  # the live store is unchanged
        agent = {"Authorization": f"Bearer {KEY}"}
        assert check(http, "document:roadmap", "view", "agent:planner", agent)["decision"] is True


def test_least_privilege_of_an_agent(page: Recorded, console: Console, shots: Path) -> None:
    sign_in(page.page, console.base, KEY)
    page.page.goto(f"{console.base}/console/identities")
    page.page.locator("tr[data-identity='agent:planner'] a.least-privilege").click()
    expect(page.page.locator("#lp-message")).to_contain_text("agent:planner holds")
    expect(page.page.locator("#lp-message")).to_contain_text("in the last 30 days")
    expect(page.page.locator("#lp-used-table")).to_contain_text("document:roadmap")
    page.page.screenshot(path=shots / "least-privilege.png", full_page=True)

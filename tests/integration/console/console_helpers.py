"""A live ``rebac serve`` with console demo data, and Debian's Chromium driven by Playwright.

The server runs on a fresh database (the demo schema plus an ``approve_access`` permission on
documents, a few agents, recorded decisions and a pending access request). The browser is the
system's ``/usr/bin/chromium`` (``.ci/run`` installs it; Playwright never downloads one), and
every page records the URLs it requests, so a test can assert that none left the origin.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from unittest.mock import patch
from urllib.parse import urlsplit

import httpx
import psycopg
from live_server import KEY, free_port, start, stop, wait_ready
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import make_url

from rebac.store.postgres.migrate import sync_url, upgrade_to_head

CHROMIUM: Final = os.environ.get("REBAC_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
ROOT: Final = Path(__file__).resolve().parents[3]
DEMO_SCHEMA: Final = ROOT / "schema" / "agents.zed"
APPROVAL_LINE: Final = "\tpermission delete = owner + org->administer\n"
VIEWER_LINE: Final = "\trelation viewer: user | agent | team#member | user:* | agent:*\n"
ADMIN: Final = {"Authorization": f"Bearer {KEY}"}


@dataclass
class Console:
    """The live server and the keys and names the tests use."""

    base: str
    url: str
    log: Path
    approver_key: str = ""
    """An ``admin`` key acting for ``user:bob``, who may approve requests on his documents."""
    agent_key: str = ""
    """A ``check`` key acting for ``agent:planner`` (it asks for access)."""
    request_id: str = ""
    denied_id: str = ""
    """A recorded denial of agent:search (its chain fails at agent:planner)."""
    names: dict[str, str] = field(default_factory=dict)


def console_schema() -> str:
    """The demo schema where document owners approve requests for time-bound agent viewers."""
    text = DEMO_SCHEMA.read_text(encoding="utf-8")
    assert APPROVAL_LINE in text, "the demo schema changed: update console_helpers.APPROVAL_LINE"
    assert VIEWER_LINE in text, "the demo schema changed: update console_helpers.VIEWER_LINE"
    text = text.replace(VIEWER_LINE, VIEWER_LINE.replace("\n", " | agent with expiration\n"))
    return text.replace(APPROVAL_LINE, APPROVAL_LINE + "\tpermission approve_access = owner\n")


def check(http: httpx.Client, resource: str, permission: str, subject: str, headers: dict[str, str]) -> Any:
    """An AuthZEN evaluation (recorded in the decision log); the response's JSON."""
    rtype, rid = resource.split(":", 1)
    stype, sid = subject.split(":", 1)
    body = {
        "subject": {"type": stype, "id": sid},
        "action": {"name": permission},
        "resource": {"type": rtype, "id": rid},
    }
    response = http.post("/access/v1/evaluation", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _key(http: httpx.Client, scopes: list[str], subject: str) -> str:
    stype, sid = subject.split(":", 1)
    body = {"scopes": scopes, "name": f"console-{sid}", "subject": {"objectType": stype, "objectId": sid}}
    response = http.post("/v1/keys", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    return str(response.json()["key"])


def seed(console: Console) -> None:
    """Load the console's demo data through the API (so every step is a recorded decision)."""
    with httpx.Client(base_url=console.base, timeout=30) as http:
        response = http.post("/v1/schema/write", json={"schema": console_schema()}, headers=ADMIN)
        assert response.status_code == 200, response.text
        lines = [
            *(ROOT / "schema" / "agents_demo.txt").read_text(encoding="utf-8").splitlines(),
            "document:specs#owner@user:bob",
            "document:payroll#viewer@agent:search",
            "document:specs#viewer@user:alice",
            "agent:triage#principal@user:carol",
            "agent:triage#owner@user:carol",
        ]
        updates = []
        for line in lines:
            if not line.strip() or line.startswith("//"):
                continue
            match = re.fullmatch(r"(\w+):([\w-]+)#(\w+)@(\w+):([\w-]+)(?:#(\w+))?", line.strip())
            assert match, line
            subject: dict[str, Any] = {"object": {"objectType": match[4], "objectId": match[5]}}
            if match[6]:
                subject["optionalRelation"] = match[6]
            updates.append(
                {
                    "operation": "OPERATION_TOUCH",
                    "relationship": {
                        "resource": {"objectType": match[1], "objectId": match[2]},
                        "relation": match[3],
                        "subject": subject,
                    },
                }
            )
        response = http.post("/v1/relationships/write", json={"updates": updates}, headers=ADMIN)
        assert response.status_code == 200, response.text
        console.approver_key = _key(http, ["admin"], "user:bob")
        console.agent_key = _key(http, ["check"], "agent:planner")
        for resource, permission, who in (
            ("document:roadmap", "view", "user:alice"),
            ("document:roadmap", "view", "agent:planner"),
            ("document:payroll", "view", "agent:planner"),
            ("tool:shell", "invoke", "agent:search"),
            ("document:specs", "view", "user:alice"),
        ):
            check(http, resource, permission, who, ADMIN)
        denied = check(http, "document:payroll", "view", "agent:search", ADMIN)
        assert denied["decision"] is False
        console.denied_id = str(denied["context"]["decision_id"])
        agent = {"Authorization": f"Bearer {console.agent_key}"}
        asked = check(http, "document:specs", "view", "agent:planner", agent)
        assert asked["decision"] is False
        request = {
            "subject": {"type": "agent", "id": "planner"},
            "action": {"name": "view"},
            "resource": {"type": "document", "id": "specs"},
            "justification": "summarise the specs for alice",
            "requested_access": {"relation": "viewer", "duration_seconds": 3600},
        }
        response = http.post("/access/v1/requests", json=request, headers=agent)
        assert response.status_code == 202, response.text
        console.request_id = str(response.json()["task"]["id"])


def _create_database(server_url: str) -> str:
    name = f"rebac_console_{uuid.uuid4().hex[:12]}"
    libpq = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(sync_url(server_url)).set(database=name).render_as_string(hide_password=False)


def _drop_database(server_url: str, url: str) -> None:
    libpq = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@contextmanager
def live_console(server_url: str, workdir: Path) -> Iterator[Console]:
    """A seeded ``rebac serve`` on a fresh database, stopped (by its PID) and dropped after."""
    url = _create_database(server_url)
    try:
        upgrade_to_head(url)
        port = free_port()
        log = workdir / "server.log"
        # Fresh reads: a check right after a write must see it (no quantized snapshot).
        with patch.dict(os.environ, {"REBAC_QUANTIZATION_SECONDS": "0"}):
            proc = start(url, port, log, "--demo")
        try:
            console = Console(f"http://127.0.0.1:{port}", url, log)
            wait_ready(console.base, proc)
            seed(console)
            yield console
        finally:
            stop(proc)
    finally:
        _drop_database(server_url, url)


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here (``None``: they can)."""
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: .ci/run installs Debian's chromium"
    return None


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium under Playwright (never a downloaded browser)."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Recorded:
    """A page and every URL it requested (the CSP test asserts they stay on the origin)."""

    page: Page
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def outside(self, base: str) -> list[str]:
        """The requested URLs whose origin is not ``base``'s."""
        origin = urlsplit(base)[:2]
        return [
            u for u in self.requests if urlsplit(u)[:2] != origin and not u.startswith(("data:", "about:"))
        ]


def recorded(page: Page) -> Recorded:
    """Start recording ``page``'s requests and its console errors (CSP violations among them)."""
    found = Recorded(page)
    page.on("request", lambda request: found.requests.append(request.url))
    page.on("console", lambda msg: found.console_errors.append(msg.text) if msg.type == "error" else None)
    return found


def sign_in(page: Page, base: str, key: str) -> None:
    """Sign in through the form."""
    page.goto(f"{base}/console/login")
    page.fill("#key", key)
    page.click("#sign-in")

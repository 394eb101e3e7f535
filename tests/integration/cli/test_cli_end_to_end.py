"""The acceptance test: every ``rebac`` command against a live ``rebac serve``.

One server serves the module. The commands reach it through a saved context (``rebac context
set``), so the options, the environment and the contexts file are all exercised. Each command
is run with its human output (header rows, words) and with ``--json``; errors are one line.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cli_live import KEY, Cli, live_server

from rebac.refs import parse_subject, stored

pytestmark = pytest.mark.integration

REBAC = str(Path(sys.executable).with_name("rebac"))

SCHEMA_V1 = """
definition user {}

definition agent {
    relation principal: user
    acts_for principal
}

definition document {
    relation viewer: user | agent
    permission view = viewer
}
"""

SCHEMA_V2 = """
use expiration

definition user {}

definition agent {
    relation principal: user
    acts_for principal
}

caveat on_weekday(day string) {
    day != "sat" && day != "sun"
}

definition document {
    relation owner: user
    relation viewer: user | agent | user with on_weekday | agent with expiration
    permission edit = owner
    permission view = viewer + edit
}
"""


@pytest.fixture(scope="module")
def server(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with live_server(pg_server_url, tmp_path_factory.mktemp("cli") / "server.log") as found:
        yield found


@pytest.fixture(scope="module")
def rebac(server: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The CLI with a saved, current context for the server (no --endpoint/--key needed)."""
    config = tmp_path_factory.mktemp("config") / "contexts.json"
    run = Cli({"REBAC_CONFIG": str(config), "REBAC_ENDPOINT": "", "REBAC_KEY": "", "REBAC_CONTEXT": ""})
    run.ok("context", "set", "local", "--endpoint", server[0], "--key", KEY)
    return run


def write_file(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def wait_for_decisions(rebac: Cli, subject: str, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 15
    while True:
        found = rebac.ok("decisions", "list", "--subject", subject, "--json").json()
        if len(found) >= count or time.monotonic() > deadline:
            return list(found)
        time.sleep(0.2)


# --- contexts --------------------------------------------------------------------------------------


def test_contexts_are_saved_0600_listed_masked_and_switched(server: tuple[str, str], tmp_path: Path) -> None:
    config = tmp_path / "nested" / "contexts.json"
    run = Cli({"REBAC_CONFIG": str(config), "REBAC_ENDPOINT": "", "REBAC_KEY": ""})
    assert "no contexts saved" in run.ok("context", "list").out
    run.ok("context", "set", "prod", "--endpoint", "http://127.0.0.1:9", "--key", "prod-secret-key-123")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    config.chmod(0o644)  # a file others can read is tightened on the next write
    run.ok("context", "set", "local", "--endpoint", server[0], "--key", KEY)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    listed = run.ok("context", "list").out.splitlines()
    assert listed[0].split() == ["CURRENT", "NAME", "ENDPOINT", "KEY"]
    assert listed[1].split()[0] == "*"
    assert "local" in listed[1]
    assert "prod-secret-key-123" not in "\n".join(listed)
    assert run.ok("context", "list", "--reveal", "--json").json()[1]["key"] == "prod-secret-key-123"
    assert run.ok("context", "show", "--json").json()["name"] == "local"
    # the current context is used; --context picks another; options and the environment win
    run.ok("schema", "history")  # the current context reaches the server
    unreachable = run("schema", "history", "--context", "prod")
    assert unreachable.code == 1
    assert "127.0.0.1:9" in unreachable.err
    assert unreachable.err.count("\n") == 1
    assert "Traceback" not in unreachable.err
    run.ok("context", "use", "prod")
    assert run("schema", "history").code == 1
    assert run("schema", "history", "--endpoint", server[0], "--key", KEY).code == 0
    assert Cli({**run.env, "REBAC_ENDPOINT": server[0], "REBAC_KEY": KEY}).ok("schema", "history").code == 0
    assert run("context", "use", "nope").code == 1
    run.ok("context", "delete", "prod")
    assert "prod" not in run.ok("context", "list").out
    assert run("context", "show").code == 1  # the current one was deleted


# --- the whole walk ---------------------------------------------------------------------------------


def test_every_command_against_a_live_server(  # noqa: PLR0915 - one scenario, step by step
    rebac: Cli, server: tuple[str, str], tmp_path: Path
) -> None:
    v1 = write_file(tmp_path, "v1.zed", SCHEMA_V1)
    v2 = write_file(tmp_path, "v2.zed", SCHEMA_V2)

    # schema write / read / history / diff
    assert "wrote schema version 1" in rebac.ok("schema", "write", v1).out
    assert rebac.ok("schema", "write", v2, "--json").json()["version"] == 2
    assert rebac.ok("schema", "read").out.strip() == SCHEMA_V2.strip()
    assert rebac.ok("schema", "read", "--version", "1").out.strip() == SCHEMA_V1.strip()
    assert rebac.ok("schema", "read", "--json").json()["version"] == 2
    missing = rebac("schema", "read", "--version", "99")
    assert (missing.code, missing.err.count("\n")) == (1, 1)
    assert "no schema version 99" in missing.err
    history = rebac.ok("schema", "history").out.splitlines()
    assert history[0].split() == ["VERSION", "CURRENT", "WRITTEN", "SHA256", "AUTHOR"]
    assert history[2].split()[:2] == ["2", "yes"]
    assert [v["current"] for v in rebac.ok("schema", "history", "--json").json()] == [False, True]
    diff = rebac.ok("schema", "diff", "1", "2").out
    assert "+caveat on_weekday(day string) {" in diff
    assert rebac.ok("schema", "diff", "2", "--file", v2, "--json").json()["changed"] is False

    # relationships: write, create, read, delete, delete-matching
    written = rebac.ok(
        "write",
        "document:plan#viewer@user:alice",
        "agent:helper#principal@user:alice",
        "document:plan#viewer@agent:helper",
        "document:payroll#viewer@agent:helper",
        'document:memo#viewer@user:carol[on_weekday:{"day":"mon"}]',
        "document:memo#viewer@user:dave[on_weekday]",
    ).out
    assert written.startswith("wrote 6 relationships; token: ")
    token = written.rsplit(" ", 1)[1].strip()
    assert rebac.ok("relationship", "create", "document:tmp#viewer@user:eve", "--json").json()["updates"] == 1
    duplicate = rebac("relationship", "create", "document:tmp#viewer@user:eve")
    assert duplicate.code == 1
    assert "409" in duplicate.err
    rows = rebac.ok("relationship", "read", "document:plan", "--fully-consistent").out.splitlines()
    assert rows[0].split() == ["RESOURCE", "RELATION", "SUBJECT", "CAVEAT", "EXPIRES"]
    assert sorted(r.split()[2] for r in rows[1:]) == ["agent:helper", "user:alice"]
    as_json = rebac.ok(
        "relationship", "read", "document", "viewer", "agent", "--json", "--token", token
    ).lines()
    assert sorted(as_json) == ["document:payroll#viewer@agent:helper", "document:plan#viewer@agent:helper"]
    assert "deleted 1 relationship" in rebac.ok("relationship", "delete", "document:tmp#viewer@user:eve").out
    rebac.ok("relationship", "write", "document:tmp#viewer@user:eve", "document:tmp#viewer@user:fay")
    matched = rebac.ok("relationship", "delete-matching", "document:tmp", "--json").json()
    assert matched["deletedCount"] == 2

    # check: exit 0 allowed, 1 denied, 2 conditional, 3 error
    allowed = rebac("check", "document:plan", "view", "user:alice", "--token", token)
    assert (allowed.code, allowed.out) == (0, "allowed\n")
    denied = rebac("check", "document:payroll", "view", "agent:helper", "--token", token)
    assert denied.code == 1
    assert denied.out.splitlines() == [
        "denied",
        "  hop 0 agent:helper: granted",
        "  hop 1 user:alice: denied",
    ]
    conditional = rebac("check", "document:memo", "view", "user:dave", "--token", token)
    assert (conditional.code, conditional.out) == (2, "conditional (missing context: day)\n")
    weekday = '{"day": "tue"}'
    assert (
        rebac(
            "check", "document:memo", "view", "user:dave", "--caveat-context", weekday, "--token", token
        ).code
        == 0
    )
    unknown = rebac("check", "document:plan", "fly", "user:alice")
    assert unknown.code == 3
    assert unknown.err.startswith("Error: 400 ")
    assert unknown.err.count("\n") == 1
    checked = rebac("check", "document:plan", "view", "agent:helper", "--json", "--explain", "--token", token)
    assert checked.code == 0
    assert checked.json()["permissionship"] == "PERMISSIONSHIP_HAS_PERMISSION"
    assert checked.json()["trace"] is not None
    explained = rebac("check", "document:plan", "view", "agent:helper", "--explain", "--token", token).out
    assert "✓ document:plan#view" in explained
    assert rebac("check", "document:plan", "view", "user:alice", "--endpoint", "http://127.0.0.1:9").code == 3
    assert rebac("check", "document:plan", "view", "not a subject").code == 3

    # expand and lookups
    tree = rebac.ok("expand", "document:plan", "view", "--token", token).out
    assert "document:plan#view [union]" in tree
    assert "user:alice" in tree
    assert rebac.ok("expand", "document:plan", "view", "--json").json()["tree"]["operation"] == "union"
    resources = rebac.ok("lookup", "resources", "document", "view", "user:alice", "--token", token).out
    assert resources.splitlines() == ["document:plan"]
    subjects = rebac.ok("lookup", "subjects", "document:memo", "view", "user", "--token", token).out
    assert sorted(subjects.splitlines()) == ["user:carol", "user:dave (conditional)"]
    assert {
        r["resource"]
        for r in rebac.ok("lookup", "resources", "document", "view", "agent:helper", "--json").lines()
    } <= {"document:plan", "document:payroll"}

    # watch: the changes after a token
    rebac.ok("write", "document:watched#viewer@user:gus")
    watched = rebac.ok("watch", "--since", token, "--timeout", "1", "--type", "document")
    assert "touch   document:watched#viewer@user:gus" in watched.out
    assert "through token: " in watched.err
    events = rebac.ok("watch", "--since", token, "--timeout", "1", "--json").lines()
    assert any(u["relationship"] == "document:watched#viewer@user:gus" for e in events for u in e["updates"])

    # import and export over the API
    bulk = write_file(
        tmp_path, "bulk.txt", "document:bulk#viewer@user:h1\n\n// a comment\ndocument:bulk#viewer@user:h2\n"
    )
    assert rebac.ok("import", bulk).out.startswith("loaded 2 relationships; token: ")
    bad = write_file(tmp_path, "bad.txt", "document:bulk2#viewer@user:i1\n\ndocument:bulk2#viewer@user:\n")
    refused = rebac("import", bad)
    assert refused.code == 1
    assert "line 3" in refused.err
    assert refused.err.count("\n") == 1
    assert rebac.ok("import", "-", "--json", stdin="document:bulk3#viewer@user:j1\n").json()["loaded"] == 1
    exported = rebac.ok("export", "--resource-type", "document", "--resource-id", "bulk").lines()
    assert sorted(line["relationship"] for line in exported) == [
        "document:bulk#viewer@user:h1",
        "document:bulk#viewer@user:h2",
    ]
    everything = rebac.ok("export")
    assert "exported " in everything.err
    assert not any("bulk2" in line["relationship"] for line in everything.lines())  # nothing was written

    # decisions: list, show, export
    recorded = wait_for_decisions(rebac, "agent:helper", 3)
    assert recorded, "no decisions were recorded"
    table = rebac.ok("decisions", "list", "--subject", "agent:helper").out.splitlines()
    assert table[0].split()[:3] == ["DECIDED", "RESULT", "CHECK"]
    decision_id = str(recorded[0]["decisionId"])
    shown = rebac.ok("decisions", "show", decision_id).out
    assert decision_id in shown
    assert "agent:helper" in shown
    assert rebac.ok("decisions", "show", decision_id, "--json").json()["decisionId"] == decision_id
    unknown_decision = rebac("decisions", "show", "0192f0c0-1a2b-7c3d-8e4f-0123456789ab")
    assert unknown_decision.code == 1
    assert "404" in unknown_decision.err
    exported_decisions = rebac.ok("decisions", "export", "--subject", "agent:helper", "--limit", "2").lines()
    assert len(exported_decisions) == 2
    assert rebac.ok("decisions", "list", "--result", "denied", "--json").json()

    # keys: create (acting for a subject), list, revoke; a revoked key is refused
    created = rebac.ok(
        "keys", "create", "--scope", "admin", "--name", "bob's", "--subject", "user:bob", "--json"
    )
    bob_key, bob_id = created.json()["key"], created.json()["keyId"]
    keys = rebac.ok("keys", "list").out.splitlines()
    assert keys[0].split() == ["KEY", "ID", "SCOPES", "SUBJECT", "STATE", "CREATED", "NAME"]
    assert any(bob_id in row and "user:bob" in row and "active" in row for row in keys[1:])
    assert any(k["keyId"] == bob_id for k in rebac.ok("keys", "list", "--json").json())

    # identities and reviews: the reviewer is the key's subject
    identities = rebac.ok("identities").out.splitlines()
    assert identities[0].split()[:2] == ["IDENTITY", "FLAGS"]
    helper = next(row for row in identities if row.startswith("agent:helper"))
    assert "user:alice" in helper
    assert "never" in helper
    assert rebac.ok("identities", "--json").json()[0]["subject"] == "agent:helper"
    reviewed = rebac.ok("review", "agent:helper", "--note", "quarterly", "--key", bob_key).out
    assert reviewed.startswith("reviewed agent:helper at revision ")
    assert "by user:bob" in reviewed
    reviews = rebac.ok("reviews", "--subject", "agent:helper").out.splitlines()
    assert reviews[0].split()[:3] == ["ID", "IDENTITY", "REVIEWER"]
    assert "quarterly" in reviews[1]
    assert rebac.ok("reviews", "--json").json()[0]["reviewer"] == "user:bob"
    assert rebac("review", "agent:nobody").code == 1  # 404: no such identity

    # blast radius, both directions, text, JSON and GraphML
    blast = rebac.ok("blast-radius", "agent:helper").out
    assert blast.startswith("blast radius of agent:helper")
    assert "RESOURCE" in blast
    assert "capped by delegation" in blast
    assert rebac.ok("blast-radius", "agent:helper", "--json").json()["view"] == "blast_radius"
    assert "<graphml" in rebac.ok("blast-radius", "agent:helper", "--graph", "graphml").out
    small = rebac.ok("blast-radius", "agent:helper", "--budget", "2")
    assert "truncated" in small.out
    assert "truncated" in small.err
    reverse = rebac.ok("blast-radius", "--reverse", "document:plan#view").out
    assert "who can reach document:plan" in reverse
    assert rebac("blast-radius").code == 2  # a usage error: neither SUBJECT nor --reverse

    rebac.ok("keys", "revoke", bob_id)
    deadline = time.monotonic() + 10  # the server caches a key for a few seconds
    while (refused_key := rebac("reviews", "--key", bob_key)).code == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert refused_key.code == 1
    assert refused_key.err.startswith("Error: 401 ")
    assert rebac("keys", "revoke", bob_id).code == 1  # no longer active


# --- local commands and the bootstrap ------------------------------------------------------------


def test_local_commands_and_the_direct_bootstrap(rebac: Cli, server: tuple[str, str], tmp_path: Path) -> None:
    database = {"REBAC_DATABASE_URL": server[1]}
    local = Cli({**rebac.env, **database})
    assert "newest migration" in local.ok("migrate").out
    # the first key is made on the database; the running server accepts it
    made = local.ok(
        "keys", "create", "--direct", "--scope", "admin", "--subject", "user:root", "--json"
    ).json()
    assert made["subject"] == "user:root"
    assert any(k["keyId"] == made["keyId"] for k in local.ok("keys", "list", "--direct", "--json").json())
    deadline = time.monotonic() + 10
    while local("keys", "list", "--key", made["key"]).code != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert local.ok("keys", "list", "--key", made["key"], "--json").json()
    local.ok("keys", "revoke", "--direct", made["keyId"])
    # a free-id subject is stored as the API stores it, and shown as written
    free = local.ok("keys", "create", "--direct", "--scope", "check", "--subject", 'agent:"bot.v1"', "--json")
    assert free.json()["subject"] == 'agent:"bot.v1"'
    shown = {k["keyId"]: k["subject"] for k in local.ok("keys", "list", "--direct", "--json").json()}
    assert shown[free.json()["keyId"]] == 'agent:"bot.v1"'
    with psycopg.connect(server[1].replace("+psycopg", "")) as conn:
        row = conn.execute(
            "SELECT subject FROM api_key WHERE key_id = %s", (free.json()["keyId"],)
        ).fetchone()
    assert row == (str(stored(parse_subject('agent:"bot.v1"'))),)
    # import --direct (COPY) and gc stay local
    lines = write_file(
        tmp_path, "direct.txt", "document:direct#viewer@user:k1\ndocument:direct#viewer@user:k2\n"
    )
    assert "loaded 2 relationships" in local.ok("import", "--direct", lines, "--quiet").out
    assert len(rebac.ok("export", "--resource-type", "document", "--resource-id", "direct").lines()) == 2
    assert "removed" in local.ok("gc", "--older-than", "3600").out
    assert local.ok("gc", "--older-than", "3600", "--json").json()["removedVersions"] >= 0
    assert local.ok("migrate", "--json").json() == {"migrated": True}
    checked = local(
        "schema",
        "check",
        write_file(tmp_path, "bad.zed", "definition doc {\n  relation r: nosuch\n}\n"),
        "--json",
    )
    assert checked.code == 1
    assert checked.json()[0]["ok"] is False
    assert "bad.zed:2:" in checked.json()[0]["errors"][0]


# --- the real process: exit codes, one-line errors, --help ---------------------------------------


def test_the_installed_command_exits_with_the_documented_codes(rebac: Cli, server: tuple[str, str]) -> None:
    rebac.ok("write", "document:proc#viewer@user:pat")
    env = {
        **os.environ,
        "REBAC_ENDPOINT": server[0],
        "REBAC_KEY": KEY,
        "REBAC_CONFIG": rebac.env["REBAC_CONFIG"],
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own console script
            [REBAC, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    assert run("check", "document:proc", "view", "user:pat", "--fully-consistent").returncode == 0
    assert run("check", "document:proc", "view", "user:nobody", "--fully-consistent").returncode == 1
    broken = run("check", "document:proc", "view", "user:pat", "--key", "wrong")
    assert broken.returncode == 3
    assert broken.stderr.startswith("Error: 401 ")
    assert broken.stderr.count("\n") == 1
    assert run("check", "document:proc").returncode == 2  # click's usage error
    helped = run("--help")
    assert helped.returncode == 0
    for command in ("check", "context", "decisions", "import", "keys", "relationship", "schema", "serve"):
        assert f"  {command} " in helped.stdout

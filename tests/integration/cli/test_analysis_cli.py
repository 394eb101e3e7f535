"""``rebac least-privilege`` and ``rebac what-if`` against a live server (exit codes, tables, bad files)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_live import KEY, Cli, live_server

pytestmark = pytest.mark.integration

SCHEMA = """definition user {}

definition agent {
    relation principal: user
    acts_for principal
}

definition document {
    relation viewer: user | agent
    relation owner: user | agent
    permission edit = owner
    permission view = viewer + edit
}
"""


@pytest.fixture
def rebac(pg_server_url: str, tmp_path: Path) -> Iterator[Cli]:
    with live_server(pg_server_url, tmp_path / "server.log") as (base, _):
        yield Cli({"REBAC_ENDPOINT": base, "REBAC_KEY": KEY, "REBAC_CONFIG": str(tmp_path / "none.json")})


def _seed(rebac: Cli, tmp_path: Path) -> None:
    schema = tmp_path / "schema.zed"
    schema.write_text(SCHEMA, encoding="utf-8")
    rebac.ok("schema", "write", str(schema))
    token = (
        rebac.ok(
            "write",
            "agent:planner#principal@user:alice",
            "document:plan#viewer@user:alice",
            "document:plan#viewer@agent:planner",
            "document:memo#owner@user:alice",
            "document:memo#owner@agent:planner",
        )
        .out.rsplit(" ", 1)[1]
        .strip()
    )
    assert rebac("check", "document:plan", "view", "agent:planner", "--token", token).code == 0
    assert rebac("check", "document:memo", "view", "agent:planner", "--token", token).code == 0
    assert rebac("check", "document:plan", "edit", "agent:planner", "--token", token).code == 1
    deadline = time.monotonic() + 10
    while len(rebac.ok("decisions", "list", "--json").json()) < 3:  # the log is written in batches
        assert time.monotonic() < deadline, "the decisions were not logged"
        time.sleep(0.1)


def test_least_privilege_table_and_json(rebac: Cli, tmp_path: Path) -> None:
    _seed(rebac, tmp_path)
    out = rebac.ok("least-privilege", "agent:planner", "--since", "30d").out
    lines = out.splitlines()
    assert lines[0] == "agent:planner holds 3 permissions, used 2 in the last 30 days"
    assert "RESOURCE       PERMISSION  USES  LAST USED" in out
    assert "  none" in out.split("grants to remove")[1]  # the memo's owner grant carries a used view
    report = rebac.ok("least-privilege", "agent:planner", "--since", "30d", "--json").json()
    assert [(u["resource"], u["permission"]) for u in report["unused"]] == [("document:memo", "edit")]
    assert report["removable"] == []
    bad = rebac("least-privilege", "agent:planner", "--since", "soon")
    assert bad.code == 1
    assert "since" in bad.err


def test_what_if_exit_codes_and_bad_files(rebac: Cli, tmp_path: Path) -> None:
    _seed(rebac, tmp_path)
    proposed = tmp_path / "new.zed"
    proposed.write_text(SCHEMA.replace("viewer + edit", "viewer"), encoding="utf-8")
    flipping = rebac("what-if", "--schema", str(proposed), "--since", "1h")
    assert flipping.code == 3, (flipping.out, flipping.err)
    assert "document:memo" in flipping.out
    assert "FLIPS" not in flipping.out
    assert "DECISION" in flipping.out
    assert "subjects affected: agent:planner" in flipping.out
    assert "1 of 3 decisions would flip (1 revoked, 0 granted)" in flipping.out
    assert "what-if gate failed: 1 decisions would flip (--allow-flips 0)" in flipping.err
    allowed = rebac("what-if", "--schema", str(proposed), "--since", "1h", "--allow-flips", "1", "--json")
    assert allowed.code == 0, allowed.err
    assert [f["resource"] for f in allowed.json()["flips"]] == ["document:memo"]
    changes = tmp_path / "changes.txt"
    changes.write_text("// revoke the plan\ndelete document:plan#viewer@agent:planner\n", encoding="utf-8")
    both = rebac("what-if", "--schema", str(proposed), "--relationships", str(changes), "--since", "1h")
    assert both.code == 3
    assert "2 of 3 decisions would flip" in both.out
    unchanged = tmp_path / "same.txt"
    unchanged.write_text("touch document:other#viewer@user:bob\n", encoding="utf-8")
    assert rebac("what-if", "--relationships", str(unchanged), "--since", "1h").code == 0
    # The live store is unchanged: the planner still views the plan.
    assert rebac("check", "document:plan", "view", "agent:planner", "--fully-consistent").code == 0

    broken = tmp_path / "broken.zed"
    broken.write_text(
        "definition user {}\n\ndefinition doc {\n    relation viewer: nobody\n}\n", encoding="utf-8"
    )
    bad_schema = rebac("what-if", "--schema", str(broken))
    assert bad_schema.code == 1
    assert bad_schema.err.splitlines()[0].startswith(f"{broken}:4:")
    assert len(bad_schema.err.splitlines()) == 1
    bad_changes = tmp_path / "bad.txt"
    bad_changes.write_text("\ndelete document:plan#viewer@@agent:planner\n", encoding="utf-8")
    bad_line = rebac("what-if", "--relationships", str(bad_changes))
    assert bad_line.code == 1
    assert bad_line.err.strip().startswith(f"{bad_changes}:2:29: ")
    nonconforming = tmp_path / "nonconforming.txt"
    nonconforming.write_text("document:plan#reader@user:bob\n", encoding="utf-8")
    refused = rebac("what-if", "--relationships", str(nonconforming))
    assert refused.code == 1
    assert refused.err.strip().startswith(f"{nonconforming}:1:1: ")
    assert rebac("what-if").code == 2

"""``rebac schema write|read|diff|history`` end to end against a real PostgreSQL.

Every test starts from a reset store on the session database (``REBAC_DATABASE_URL`` points at
it), so the tests share one database and must run one at a time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from rebac.cli.main import cli

pytestmark = pytest.mark.integration

V1 = """definition user {}

definition team {
    relation member: user
}

definition doc {
    relation viewer: user | team#member
    relation legacy: user
}
"""

NARROWED = V1.replace("relation viewer: user | team#member", "relation viewer: user").replace(
    "    relation legacy: user\n", ""
)

WIDENED = V1.replace("relation viewer: user | team#member", "relation viewer: user | user:* | team#member")


@pytest.fixture
def env(pg_url: str, _pg_reset: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    _pg_reset()
    monkeypatch.setenv("REBAC_DATABASE_URL", pg_url)


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def schema_file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_write_refuse_force_read_diff_history(env: None, tmp_path: Path) -> None:
    code, out, err = invoke("schema", "write", schema_file(tmp_path, "v1.zed", V1))
    assert (code, err) == (0, "")
    assert out == f"wrote schema version 1 (sha256 {hashlib.sha256(V1.encode()).hexdigest()})\n"
    lines = "doc:1#viewer@user:ann\ndoc:1#viewer@team:eng#member\ndoc:2#legacy@user:bob\n"
    assert invoke("import", "-", stdin=lines)[0] == 0

    narrowed = schema_file(tmp_path, "v2.zed", NARROWED)
    code, out, err = invoke("schema", "write", narrowed)
    assert code == 1
    assert out == ""
    assert "refused: the schema change would orphan 2 stored relationships:" in err
    assert "  doc:1#viewer@team:eng#member  (subject team:eng#member is not allowed on doc#viewer" in err
    assert "  doc:2#legacy@user:bob  (relation 'legacy' is not defined on 'doc')" in err
    assert "doc:1#viewer@user:ann" not in err
    assert "--force" in err
    code, out, _ = invoke("schema", "read")
    assert (code, out) == (0, V1)  # nothing was written

    code, out, _ = invoke("schema", "write", "--force", narrowed)
    assert code == 0
    assert out.startswith("wrote schema version 2 (sha256 ")

    code, out, err = invoke("schema", "read")
    assert (code, out) == (0, NARROWED)
    assert err == f"version 2 (sha256 {hashlib.sha256(NARROWED.encode()).hexdigest()})\n"
    assert invoke("schema", "read", "--version", "1")[1] == V1

    code, out, _ = invoke("schema", "diff", "1", "2")
    assert code == 0
    assert out.splitlines()[:2] == ["--- version 1", "+++ version 2"]
    changed = [line for line in out.splitlines()[2:] if line[:1] in "+-"]
    assert changed == [
        "-    relation viewer: user | team#member",
        "-    relation legacy: user",
        "+    relation viewer: user",
    ]
    assert invoke("schema", "diff", "2", "2") == (0, "", "")

    code, out, _ = invoke("schema", "history")
    assert code == 0
    rows = out.splitlines()
    assert len(rows) == 2
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"
    v1_hash = hashlib.sha256(V1.encode()).hexdigest()[:12]
    assert re.fullmatch(rf"  {{4}}1  {stamp}  {v1_hash}  revision \d+  cli", rows[0]), rows[0]
    assert re.fullmatch(rf"\* {{4}}2  {stamp}  [0-9a-f]{{12}}  revision \d+  cli", rows[1]), rows[1]


def test_a_safe_change_is_written_without_force(env: None, tmp_path: Path) -> None:
    assert invoke("schema", "write", schema_file(tmp_path, "v1.zed", V1))[0] == 0
    assert invoke("import", "-", stdin="doc:1#viewer@team:eng#member\n")[0] == 0
    code, out, _ = invoke("schema", "write", schema_file(tmp_path, "v2.zed", WIDENED))
    assert code == 0
    assert out.startswith("wrote schema version 2 ")


def test_many_offenders_are_listed_up_to_a_hundred_with_the_count(env: None, tmp_path: Path) -> None:
    assert invoke("schema", "write", schema_file(tmp_path, "v1.zed", V1))[0] == 0
    lines = "".join(f"doc:d{i:03}#legacy@user:u{i}\n" for i in range(130))
    assert invoke("import", "-", stdin=lines)[0] == 0
    code, _, err = invoke("schema", "write", schema_file(tmp_path, "v2.zed", NARROWED))
    assert code == 1
    assert "would orphan 130 stored relationships:" in err
    assert sum(1 for line in err.splitlines() if line.startswith("  doc:d")) == 100
    assert "  ... and 30 more" in err


def test_a_schema_that_does_not_compile_is_reported_with_its_position(env: None, tmp_path: Path) -> None:
    bad = schema_file(tmp_path, "bad.zed", "definition doc {\n    relation viewer: nosuch\n}\n")
    code, out, err = invoke("schema", "write", bad)
    assert code == 1
    assert out == ""
    assert f"{bad}:2:" in err
    assert "nosuch" in err
    code, _, err = invoke("schema", "history")
    assert code == 0
    assert "no schema has been written yet" in err


def test_reading_missing_versions_is_a_clean_error(env: None) -> None:
    code, _, err = invoke("schema", "read")
    assert code == 1
    assert "no schema has been written yet" in err
    code, _, err = invoke("schema", "read", "--version", "7")
    assert code == 1
    assert "schema version 7 does not exist" in err
    code, _, err = invoke("schema", "diff", "1", "2")
    assert code == 1
    assert "does not exist" in err
    assert invoke("schema", "read", "--version", "0")[0] == 2  # usage error: versions start at 1

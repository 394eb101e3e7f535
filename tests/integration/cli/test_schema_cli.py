"""``rebac schema write|read|diff|history`` against a live ``rebac serve`` of each test's own."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_live import KEY, Cli, live_server

pytestmark = pytest.mark.integration

Invoke = Callable[..., tuple[int, str, str]]

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
def rebac(pg_server_url: str, tmp_path: Path) -> Iterator[Cli]:
    with live_server(pg_server_url, tmp_path / "server.log") as (base, _):
        yield Cli({"REBAC_ENDPOINT": base, "REBAC_KEY": KEY, "REBAC_CONFIG": str(tmp_path / "none.json")})


@pytest.fixture
def invoke(rebac: Cli) -> Invoke:
    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        result = rebac(*args, stdin=stdin)
        return result.code, result.out, result.err

    return run


def schema_file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_write_refuse_force_read_diff_history(invoke: Invoke, tmp_path: Path) -> None:
    code, out, err = invoke("schema", "write", schema_file(tmp_path, "v1.zed", V1))
    assert (code, err) == (0, "")
    assert out.startswith(
        f"wrote schema version 1 (sha256 {hashlib.sha256(V1.encode()).hexdigest()}); token: "
    )
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
    assert len(rows) == 3
    assert rows[0].split() == ["VERSION", "CURRENT", "WRITTEN", "SHA256", "AUTHOR"]
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ"
    v1_hash = hashlib.sha256(V1.encode()).hexdigest()[:12]
    assert re.fullmatch(rf"1 +{stamp}  {v1_hash}  preshared", rows[1]), rows[1]
    assert re.fullmatch(rf"2 +yes +{stamp}  [0-9a-f]{{12}}  preshared", rows[2]), rows[2]


def test_a_safe_change_is_written_without_force(invoke: Invoke, tmp_path: Path) -> None:
    assert invoke("schema", "write", schema_file(tmp_path, "v1.zed", V1))[0] == 0
    assert invoke("import", "-", stdin="doc:1#viewer@team:eng#member\n")[0] == 0
    code, out, _ = invoke("schema", "write", schema_file(tmp_path, "v2.zed", WIDENED))
    assert code == 0
    assert out.startswith("wrote schema version 2 ")


def test_many_offenders_are_listed_up_to_a_hundred_with_the_count(invoke: Invoke, tmp_path: Path) -> None:
    assert invoke("schema", "write", schema_file(tmp_path, "v1.zed", V1))[0] == 0
    lines = "".join(f"doc:d{i:03}#legacy@user:u{i}\n" for i in range(130))
    assert invoke("import", "-", stdin=lines)[0] == 0
    code, _, err = invoke("schema", "write", schema_file(tmp_path, "v2.zed", NARROWED))
    assert code == 1
    assert "would orphan 130 stored relationships:" in err
    assert sum(1 for line in err.splitlines() if line.startswith("  doc:d")) == 100
    assert "  ... and 30 more" in err


def test_a_schema_that_does_not_compile_is_reported_with_its_position(invoke: Invoke, tmp_path: Path) -> None:
    bad = schema_file(tmp_path, "bad.zed", "definition doc {\n    relation viewer: nosuch\n}\n")
    code, out, err = invoke("schema", "write", bad)
    assert code == 1
    assert out == ""
    assert f"{bad}:2:" in err
    assert "nosuch" in err
    code, _, err = invoke("schema", "history")
    assert code == 0
    assert "no schema has been written yet" in err


def test_reading_missing_versions_is_a_clean_error(invoke: Invoke) -> None:
    code, _, err = invoke("schema", "read")
    assert code == 1
    assert "no schema has been written yet" in err
    code, _, err = invoke("schema", "read", "--version", "7")
    assert code == 1
    assert "no schema version 7" in err
    assert err.count("\n") == 1
    code, _, err = invoke("schema", "diff", "1", "2")
    assert code == 1
    assert "does not exist" in err
    assert invoke("schema", "read", "--version", "0")[0] == 2  # usage error: versions start at 1

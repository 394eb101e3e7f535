"""``rebac schema check`` and ``rebac schema fmt``."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from rebac.cli.main import cli

VALID = "definition user {}\ndefinition document { relation viewer: user; permission view = viewer }\n"
INVALID = (
    "definition user {}\ndefinition document {\n    relation viewer: usr\n    permission view = viewr\n}\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_check_ok(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.zed", VALID)
    result = CliRunner().invoke(cli, ["schema", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}: ok" in result.stdout


def test_check_reports_every_error_with_position_and_caret(tmp_path: Path) -> None:
    good = write(tmp_path, "ok.zed", VALID)
    bad = write(tmp_path, "bad.zed", INVALID)
    result = CliRunner().invoke(cli, ["schema", "check", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:3:22: relation `viewer` allows unknown type `usr`" in result.stderr
    assert f"{bad}:4:23: permission `view` refers to `viewr`" in result.stderr
    assert "        relation viewer: usr\n                         ^" in result.stderr
    assert f"{bad}: 2 errors" in result.stderr
    assert f"{good}: ok" in result.stdout


def test_check_binary_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "junk.zed"
    path.write_bytes(bytes(range(256)))
    result = CliRunner().invoke(cli, ["schema", "check", str(path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{path}:1:1:" in result.stderr


def test_check_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["schema", "check", str(tmp_path / "nope.zed")])
    assert result.exit_code == 2


def test_fmt_prints_canonical_form(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.zed", VALID)
    result = CliRunner().invoke(cli, ["schema", "fmt", str(path)])
    assert result.exit_code == 0
    expected = "definition user {}\n\ndefinition document {\n\trelation viewer: user\n"
    expected += "\tpermission view = viewer\n}\n"
    assert result.stdout == expected
    assert path.read_text(encoding="utf-8") == VALID


def test_fmt_write_rewrites_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.zed", VALID)
    result = CliRunner().invoke(cli, ["schema", "fmt", "--write", str(path)])
    assert result.exit_code == 0
    formatted = path.read_text(encoding="utf-8")
    assert formatted.startswith("definition user {}\n\n")
    again = CliRunner().invoke(cli, ["schema", "fmt", str(path)])
    assert again.stdout == formatted


def test_fmt_of_an_invalid_file_fails(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.zed", INVALID)
    result = CliRunner().invoke(cli, ["schema", "fmt", "--write", str(path)])
    assert result.exit_code == 1
    assert "bad.zed:3:22:" in result.stderr
    assert path.read_text(encoding="utf-8") == INVALID


def test_fmt_write_refuses_to_drop_plain_comments(tmp_path: Path) -> None:
    text = "// the people\ndefinition user {} /* trailing */\n/** kept */\ndefinition team {}\n"
    path = write(tmp_path, "commented.zed", text)
    result = CliRunner().invoke(cli, ["schema", "fmt", "--write", str(path)])
    assert result.exit_code == 1
    assert "commented.zed:1:1: this comment would be dropped" in result.stderr
    assert "commented.zed:2:20: this comment would be dropped" in result.stderr
    assert path.read_text(encoding="utf-8") == text
    forced = CliRunner().invoke(cli, ["schema", "fmt", "--write", "--drop-comments", str(path)])
    assert forced.exit_code == 0
    assert path.read_text(encoding="utf-8") == "definition user {}\n\n/** kept */\ndefinition team {}\n"

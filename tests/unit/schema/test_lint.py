"""What SpiceDB accepts is accepted; rebac's stricter opinions are warnings (``--strict``)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from schema_testdata import GOLDEN

from rebac.cli.main import cli
from rebac.schema import check_schema, lint_schema

SELF_REFERENCE = (GOLDEN / "self_reference.zed").read_text(encoding="utf-8")


def test_a_permission_that_can_never_be_granted_compiles_as_in_spicedb() -> None:
    schema, diagnostics = check_schema(SELF_REFERENCE, "self.zed")
    assert diagnostics == []
    assert schema is not None
    assert set(schema.definitions["document"].permissions) == {"loop", "ping", "pong"}


def test_lint_warns_about_it_with_a_position() -> None:
    warnings = lint_schema(SELF_REFERENCE, "self.zed")
    assert [(w.line, w.column) for w in warnings] == [(4, 16), (5, 16), (6, 16)]
    assert warnings[0].message.startswith("warning: permission `loop` on `document` can never be granted")
    assert "(through `pong`)" in warnings[1].message
    assert lint_schema("definition user {}\n") == []


def test_schema_check_strict_fails_on_warnings_and_plain_check_passes(tmp_path: Path) -> None:
    path = tmp_path / "self.zed"
    path.write_text(SELF_REFERENCE, encoding="utf-8")
    plain = CliRunner().invoke(cli, ["schema", "check", str(path)])
    assert plain.exit_code == 0, plain.output
    assert f"{path}: ok" in plain.stdout
    strict = CliRunner().invoke(cli, ["schema", "check", "--strict", str(path)])
    assert strict.exit_code == 1
    assert f"{path}:4:16: warning: permission `loop`" in strict.stderr
    assert f"{path}: 3 warnings (--strict)" in strict.stderr


def test_a_wildcard_through_a_subject_set_of_the_same_definition_is_accepted() -> None:
    text = "definition user {}\ndefinition group {\n    relation member: user:* | group#member\n}\n"
    assert check_schema(text)[1] == []


def test_a_wildcard_through_another_definitions_subject_set_is_refused() -> None:
    text = (
        "definition user {}\ndefinition group {\n    relation member: user:* | group#member\n}\n"
        "definition doc {\n    relation viewer: group#member\n}\n"
    )
    _, [diagnostic] = check_schema(text)
    assert (diagnostic.line, diagnostic.column) == (6, 28)
    assert "wildcards cannot be included transitively" in diagnostic.message

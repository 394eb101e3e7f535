# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Validation files: parsing with line numbers, the runner, and the ``rebac validate`` command."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rebac.cli.validate_cmd import validate
from rebac.errors import ValidationFileError
from rebac.services.validation.files import load_validation_file, parse_validation_text
from rebac.services.validation.run import run_file
from rebac.store.memory import MemoryTupleStore

GOOD = """\
schema: |-
  definition user {}
  caveat ok(flag bool) { flag }
  definition doc {
    relation viewer: user | user with ok
    permission view = viewer
  }
relationships: |-
  // a comment
  doc:1#viewer@user:tom
  doc:1#viewer@user:amy[ok]
assertions:
  assertTrue:
    - "doc:1#view@user:tom"
    - 'doc:1#view@user:amy with {"flag": true}'
  assertCaveated:
    - "doc:1#view@user:amy"
  assertFalse:
    - "doc:1#view@user:bob"
validation:
  doc:1#view:
    - "[user:tom] is <doc:1#viewer>"
    - "[user:amy[ok]] is <doc:1#viewer>"
"""


def test_parse_keeps_lines_and_contexts():
    vf = parse_validation_text(GOOD, "good.yaml")
    assert [r.line for r in vf.relationships] == [10, 11]
    assert [(a.kind, a.line) for a in vf.assertions] == [
        ("assertTrue", 14),
        ("assertTrue", 15),
        ("assertCaveated", 17),
        ("assertFalse", 19),
    ]
    assert vf.assertions[1].context == {"flag": True}
    assert vf.expected[0].subjects[1].subject == "user:amy[ok]"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("schema: 'definition user {}'\nrelationships: |-\n  doc:1#viewer@\n", 3),
        ("schema: 'definition user {}'\nassertions:\n  assertMaybe: []\n", 3),
        ("relationships: ''\n", 0),
        ("schema: 'definition user {}'\nassertions:\n  assertTrue:\n    - 'a:1#b@c:1 with {nope'\n", 4),
    ],
)
def test_malformed_files_are_positioned_errors(text, line):
    with pytest.raises(ValidationFileError) as info:
        parse_validation_text(text, "bad.yaml")
    assert info.value.line == line


async def test_runner_reports_failing_assertions_with_lines():
    text = GOOD.replace(
        'assertFalse:\n    - "doc:1#view@user:bob"', 'assertFalse:\n    - "doc:1#view@user:tom"'
    )
    report = await run_file(parse_validation_text(text, "f.yaml"), MemoryTupleStore(quantization_seconds=0))
    assert [(f.line, "does not hold" in f.message) for f in report.failures] == [(19, True)]


async def test_runner_checks_expected_relations():
    report = await run_file(parse_validation_text(GOOD, "f.yaml"), MemoryTupleStore(quantization_seconds=0))
    assert report.passed, [f.render() for f in report.failures]
    wrong = GOOD.replace("[user:tom] is <doc:1#viewer>", "[user:bob] is <doc:1#viewer>")
    report = await run_file(parse_validation_text(wrong, "f.yaml"), MemoryTupleStore(quantization_seconds=0))
    assert len(report.failures) == 2


async def test_nonconforming_relationships_fail_with_their_line():
    text = GOOD.replace("doc:1#viewer@user:tom\n", "doc:1#viewer@doc:2\n")
    report = await run_file(parse_validation_text(text, "f.yaml"), MemoryTupleStore(quantization_seconds=0))
    assert [f.line for f in report.failures] == [10]


def test_schema_file_is_resolved_next_to_the_yaml(tmp_path: Path):
    (tmp_path / "s.zed").write_text("definition user {}\n")
    (tmp_path / "v.yaml").write_text("schemaFile: ./s.zed\nrelationships: ''\n")
    assert load_validation_file(tmp_path / "v.yaml").schema_text.startswith("definition user")
    (tmp_path / "w.yaml").write_text("schemaFile: ../outside.zed\n")
    with pytest.raises(ValidationFileError):
        load_validation_file(tmp_path / "w.yaml")


def test_cli_summary_and_exit_status(tmp_path: Path):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        GOOD.replace('assertFalse:\n    - "doc:1#view@user:bob"', 'assertFalse:\n    - "doc:1#view@user:tom"')
    )
    runner = CliRunner()
    ok = runner.invoke(validate, [str(good)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip().splitlines()[-1] == "1 passed, 0 failed"
    failed = runner.invoke(validate, [str(good), str(bad), "--no-cache"])
    assert failed.exit_code == 1
    lines = failed.output.strip().splitlines()
    assert lines[-1] == "1 passed, 1 failed"
    assert any(f"{bad}:19:" in line for line in lines)

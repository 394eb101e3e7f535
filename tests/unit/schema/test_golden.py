"""Golden tests: each ``golden/*.zed`` compiles to ``*.zed.expected``.

For a valid schema the expected file holds its canonical form; for an invalid one, every rendered
diagnostic. Regenerate with ``REGEN=1 pytest tests/unit/schema``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from schema_testdata import GOLDEN

from rebac.errors import SchemaError
from rebac.schema import compile_schema, format_schema

CASES = sorted(GOLDEN.glob("*.zed"))


def render(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    try:
        schema = compile_schema(text, path.name)
    except SchemaError as error:
        return "\n".join(d.render() for d in error.diagnostics) + "\n"
    return format_schema(schema)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden(path: Path) -> None:
    actual = render(path)
    expected_path = path.with_name(path.name + ".expected")
    if os.environ.get("REGEN"):
        expected_path.write_text(actual, encoding="utf-8")
    assert expected_path.exists(), f"missing {expected_path.name}; run REGEN=1 pytest tests/unit/schema"
    assert actual == expected_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_kind_matches_name(path: Path) -> None:
    """``err_*`` cases fail with positioned diagnostics; the others compile and round-trip."""
    text = path.read_text(encoding="utf-8")
    if path.stem.startswith("err_"):
        with pytest.raises(SchemaError) as caught:
            compile_schema(text, path.name)
        assert all(d.line >= 1 and d.column >= 1 and d.source == path.name for d in caught.value.diagnostics)
    else:
        schema = compile_schema(text, path.name)
        formatted = format_schema(schema)
        assert compile_schema(formatted) == schema
        assert format_schema(compile_schema(formatted)) == formatted


def test_enough_cases() -> None:
    errors = [p for p in CASES if p.stem.startswith("err_")]
    assert len(CASES) >= 40
    assert len(errors) >= 20

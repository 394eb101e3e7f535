"""SpiceDB's own files: every test-config schema compiles; the parser corpus parses or fails as upstream."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from schema_testdata import (
    PARSER_CORPUS,
    TESTCONFIGS,
    config_files,
    config_schema,
    corpus_expects_error,
    parser_corpus,
)

from rebac.errors import SchemaError
from rebac.schema import TypeSystem, compile_schema, format_schema, parse
from rebac.schema.format import format_rewrite

pytestmark = pytest.mark.conformance

CONFIGS = config_files()
CORPUS = parser_corpus()


def test_the_shared_files_are_there() -> None:
    assert TESTCONFIGS.is_dir(), TESTCONFIGS
    assert len(CONFIGS) == 74  # 73 *.yaml + self.yaml.skip
    assert len(CORPUS) >= 60


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_schema_compiles_and_round_trips(path: Path) -> None:
    schema = compile_schema(config_schema(path), path.name)
    assert schema.definitions
    formatted = format_schema(schema)
    assert compile_schema(formatted) == schema
    assert format_schema(compile_schema(formatted)) == formatted
    TypeSystem(schema)


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_parser_corpus(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if corpus_expects_error(path):
        with pytest.raises(SchemaError) as caught:
            compile_schema(text, path.name)
        first = caught.value.diagnostics[0]
        assert first.source == path.name
        assert first.line >= 1
        assert first.column >= 1
        _, syntax_errors = parse(text, path.name)
        assert syntax_errors, "upstream rejects this file while parsing; so must we"
    else:
        _, syntax_errors = parse(text, path.name)
        assert syntax_errors == [], [d.render() for d in syntax_errors]


def test_parser_corpus_location() -> None:
    assert PARSER_CORPUS.is_dir()


def test_associativity_matches_spicedb() -> None:
    """``-`` binds loosest, then ``&``, then ``+``; all left-associative (associativity.zed)."""
    upstream = (PARSER_CORPUS / "associativity.zed").read_text(encoding="utf-8")
    body = "\n".join(line for line in upstream.splitlines()[1:-1] if line.strip())
    for short, long in (("a", "aaa"), ("b", "bbb"), ("c", "ccc")):
        body = re.sub(rf"\b{short}\b", long, body)
    relations = "\n".join(f"    relation {n}: resource" for n in ("aaa", "bbb", "ccc"))
    schema = compile_schema(f"definition resource {{\n{relations}\n{body}\n}}\n")
    permissions = schema.definitions["resource"].permissions
    assert {name: format_rewrite(p.rewrite) for name, p in permissions.items()} == {
        "union": "aaa + bbb + ccc",
        "exclusion": "aaa - bbb - ccc",
        "intersection": "aaa & bbb & ccc",
        "combined1": "(aaa + bbb) - ccc",
        "combined2": "aaa - (bbb + ccc)",
    }

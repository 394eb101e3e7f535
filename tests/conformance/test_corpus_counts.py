"""The corpus sizes are pinned and counted three ways: the pins, PyYAML, and rebac's parser."""

from __future__ import annotations

import pytest
import yaml
from conformance_corpus import corpus_files
from corpus_counts import ASSERTIONS, FILES, TOTAL_ASSERTIONS

from rebac.services.validation.files import load_validation_file

pytestmark = pytest.mark.conformance

KINDS = ("assertTrue", "assertFalse", "assertCaveated")


def yaml_count(text: str) -> int:
    """Assertions of a validation file, counted from the plain YAML (not rebac's parser)."""
    data = yaml.safe_load(text)
    assertions = data.get("assertions") or {}
    assert set(assertions) <= set(KINDS), set(assertions)
    return sum(len(assertions.get(kind) or []) for kind in KINDS)


def test_the_pins_add_up() -> None:
    assert len(ASSERTIONS) == FILES
    assert sum(ASSERTIONS.values()) == TOTAL_ASSERTIONS


def test_the_corpus_is_the_pinned_one() -> None:
    files = corpus_files()
    assert sorted(p.stem for p in files) == sorted(ASSERTIONS)
    assert {p.stem: yaml_count(p.read_text()) for p in files} == ASSERTIONS


def test_the_parser_keeps_every_assertion() -> None:
    parsed = {p.stem: len(load_validation_file(p).assertions) for p in corpus_files()}
    assert parsed == ASSERTIONS
    assert sum(parsed.values()) == TOTAL_ASSERTIONS

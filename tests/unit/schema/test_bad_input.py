"""Hostile and broken input never escapes as anything but ``SchemaError`` (or a schema)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schema_testdata import config_files, config_schema

from rebac.errors import SchemaError
from rebac.schema import compile_schema, ir

SEEDS = [config_schema(p) for p in config_files()]
ONE_MEGABYTE = 1024 * 1024


def outcome(text: str) -> ir.Schema | SchemaError:
    try:
        return compile_schema(text, "fuzz.zed")
    except SchemaError as error:
        failure = error
    assert failure.diagnostics
    for diagnostic in failure.diagnostics:
        assert diagnostic.source == "fuzz.zed"
        assert diagnostic.line >= 1
        assert diagnostic.column >= 1
        assert diagnostic.render()
    return failure


def first_error(text: str) -> str:
    result = outcome(text)
    assert isinstance(result, SchemaError), "expected the text to be rejected"
    return result.diagnostics[0].message


def test_empty_and_blank_files_are_empty_schemas() -> None:
    for text in ("", "   \n\n\t", "// nothing\n/* at all */\n"):
        schema = compile_schema(text)
        assert schema.definitions == {}
        assert schema.caveats == {}


def test_binary_data() -> None:
    for seed in range(5):
        data = random.Random(seed).randbytes(4096).decode("latin-1")  # noqa: S311 (test data)
        assert first_error(data)
    assert "U+0001" in first_error("\x01\x02 definition")


def test_nul_bytes() -> None:
    assert "U+0000" in first_error("definition user {\x00}")
    assert "U+0000" in first_error("\x00" * 100)


@pytest.mark.parametrize(
    "text",
    [
        "definition doc { permission view = "
        + "(" * (ONE_MEGABYTE // 2)
        + "x"
        + ")" * (ONE_MEGABYTE // 2)
        + " }",
        "definition doc { permission view = " + "(" * ONE_MEGABYTE,
        "definition doc { relation aaa: doc\n permission view = " + " - ".join(["aaa"] * (ONE_MEGABYTE // 6)),
        "caveat deep(a " + "list<" * (ONE_MEGABYTE // 5) + "int" + ">" * (ONE_MEGABYTE // 5) + ") { a }",
        "caveat deep(a int) { " + "{" * ONE_MEGABYTE,
        "caveat deep(a int) { " + "(" * ONE_MEGABYTE + "a" + ")" * ONE_MEGABYTE + " }",
        "{" * ONE_MEGABYTE,
    ],
    ids=["parens", "open-parens", "exclusions", "caveat-types", "caveat-braces", "caveat-parens", "braces"],
)
def test_a_megabyte_of_nesting_gives_a_positioned_error(text: str) -> None:
    result = outcome(text)
    assert isinstance(result, SchemaError)


def test_long_flat_unions_are_fine() -> None:
    text = "definition doc { relation aaa: doc\n permission view = " + " + ".join(["aaa"] * 20_000) + "\n}"
    schema = compile_schema(text)
    rewrite = schema.definitions["doc"].permissions["view"].rewrite
    assert isinstance(rewrite, ir.Union)
    assert len(rewrite.children) == 20_000


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("definition user {} /* never closed", "unterminated comment"),
        ("/** doc never closed\ndefinition user {}", "unterminated comment"),
        ('caveat c(a string) { a == "open }', "unterminated string"),
        ("caveat c(a string) { a == 'open }", "unterminated string"),
        ('use import\nimport "x.zed', "unterminated string"),
    ],
)
def test_unterminated_comments_and_strings(text: str, fragment: str) -> None:
    assert fragment in first_error(text)


def test_unicode_identifiers_are_rejected_with_a_position() -> None:
    result = outcome("definition dökument {}\ndefinition user { relation 名前: user }")
    assert isinstance(result, SchemaError)
    assert [(d.line, d.column) for d in result.diagnostics] == [(1, 12), (2, 28)]


def test_unicode_in_caveat_strings_and_comments_is_fine() -> None:
    schema = compile_schema("// 注释\ncaveat test_chinese(attr string) {\n  attr == '一级'\n}\n")
    assert schema.caveats["test_chinese"].expression == "attr == '一级'"


def test_other_whitespace_is_rejected() -> None:
    assert "U+00A0" in first_error("definition\u00a0user {}")
    assert "U+000C" in first_error("definition user {}\f")


# --- fuzzing ---------------------------------------------------------------------------------------

ALPHABET = st.sampled_from(
    [
        *"abcdefxyz_/{}()[]<>|+-&=:;#*.,!?'\"\n\t \\",
        "definition ",
        "relation ",
        "permission ",
        "caveat ",
        "use ",
        "self",
        "nil",
        "with ",
        " and ",
        "expiration",
        "->",
        "...",
        "/*",
        "*/",
        "/**",
        "//",
        "acts_for ",
        "partial ",
        "import ",
        "\x00",
        "é",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ALPHABET, max_size=80).map("".join))
def test_fuzz_random_text(text: str) -> None:
    outcome(text)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start, min(len(text), start + 12)))
        operation = draw(st.sampled_from(["delete", "insert", "duplicate", "swap"]))
        if operation == "delete":
            text = text[:start] + text[end:]
        elif operation == "insert":
            text = text[:start] + draw(ALPHABET) + text[start:]
        elif operation == "duplicate":
            text = text[:end] + text[start:end] + text[end:]
        else:
            other = draw(st.integers(0, len(text) - 1))
            chars = list(text)
            chars[start], chars[other] = chars[other], chars[start]
            text = "".join(chars)
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzz_mutated_conformance_schemas(text: str) -> None:
    outcome(text)

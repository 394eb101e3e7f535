"""The schema language: any text compiles or is a ``SchemaError`` (a ``RebacError``), nothing else."""

from __future__ import annotations

import contextlib

import pytest
from fuzz_settings import FUZZ
from hypothesis import given
from hypothesis import strategies as st

from rebac.errors import SchemaError
from rebac.schema import compile_schema

VALID = """use expiration

definition user {}

caveat only_on(day int, tags list<string>) {
    day == 1 && "a" in tags
}

definition team {
    relation member: user | team#member
}

definition doc {
    relation owner: user
    relation viewer: user | user:* | team#member | user with only_on | user with expiration
    relation parent: doc
    permission edit = owner + parent->edit
    permission view = (viewer + edit) - owner & parent.all(view)
}
"""

TOKENS = st.sampled_from(
    ["definition", "relation", "permission", "caveat", "use", "expiration", "with", "nil", "all", "any",
     "user", "doc", "team", "a/b", "x", "member", "view", "int", "string", "list", "map", "bool", "1", '"s"',
     "{", "}", "(", ")", "<", ">", ":", "|", "+", "-", "&", "->", ".", "#", "*", "=", "==", "&&", ",", "\n",
     " ", "//", "/*", "*/", "/** doc */", "\t", "\x00", "é"]
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """The valid schema with a few characters deleted, replaced or inserted."""
    text = VALID
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        cut = draw(st.integers(min_value=0, max_value=3))
        insert = draw(st.text(alphabet='{}()<>:|+-&#*=.,"/\n x1', max_size=3))
        text = text[:at] + insert + text[at + cut :]
    return text


TEXTS = st.text(max_size=120) | st.lists(TOKENS, max_size=40).map(" ".join) | mutated()


def compiles_or_refuses(text: str) -> None:
    with contextlib.suppress(SchemaError):  # any other exception fails the test
        compile_schema(text, "fuzz.zed")


@FUZZ
@given(TEXTS)
def test_any_text_compiles_or_is_a_schema_error(text: str) -> None:
    compiles_or_refuses(text)


def test_the_unmutated_schema_compiles() -> None:
    assert compile_schema(VALID, "fuzz.zed").definitions


@pytest.mark.parametrize(
    "text",
    [
        "definition doc { relation v: doc permission p = " + "(" * 5000 + "v" + ")" * 5000 + " }",
        "definition doc { relation v: doc permission p = " + " + ".join(["v"] * 20000) + " }",
        "caveat c(x int) { " + "(" * 5000 + "x == 1" + ")" * 5000 + " }",
        "definition doc { relation v: doc permission p = " + "v->" * 5000 + "v }",
    ],
    ids=["deep-parentheses", "long-union", "deep-caveat", "long-arrow-chain"],
)
def test_pathological_schemas_are_schema_errors_or_compile(text: str) -> None:
    compiles_or_refuses(text)

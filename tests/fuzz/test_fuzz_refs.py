"""The text syntax (``rebac.refs``): any text parses or is a ``RefSyntaxError``; what parses round-trips."""

from __future__ import annotations

import contextlib
import json

import pytest
from fuzz_settings import FUZZ
from hypothesis import given
from hypothesis import strategies as st

from rebac.errors import RebacError, RefSyntaxError
from rebac.refs import parse_expiration, parse_object, parse_relationship, parse_subject

PIECES = st.sampled_from(
    ["doc", "user", "team", "a/b", ":", "#", "@", "*", "...", "1", "tom", "viewer", "member", "[", "]",
     "only_on", "expiration", '{"day":1}', "{", "}", '"', "2030-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00",
     "0001-01-01T00:00:00+01:00", " ", "\x00", "é", "|", "=", "-", "+", "_", "/"]
)  # fmt: skip
"""Fragments of the syntax (and of its known edge cases), glued in random order."""

TEXTS = st.text(max_size=80) | st.lists(PIECES, max_size=16).map("".join)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10,
)


def parses_or_refuses(text: str) -> None:
    for parse in (parse_relationship, parse_object, parse_subject, parse_expiration):
        with contextlib.suppress(RefSyntaxError):  # any other exception fails the test
            parse(text)


@FUZZ
@given(TEXTS)
def test_any_text_parses_or_is_a_ref_syntax_error(text: str) -> None:
    parses_or_refuses(text)


@FUZZ
@given(TEXTS)
def test_what_parses_round_trips(text: str) -> None:
    try:
        rel = parse_relationship(text)
    except RebacError:
        return
    assert parse_relationship(str(rel)) == rel


@FUZZ
@given(st.dictionaries(st.text(max_size=6), JSON, max_size=4))
def test_any_json_object_is_a_caveat_context(context: dict[str, object]) -> None:
    rel = parse_relationship(f"doc:1#viewer@user:tom[only_on:{json.dumps(context)}]")
    assert rel.caveat is not None
    assert parse_relationship(str(rel)) == rel


@pytest.mark.parametrize(
    "text",
    [
        "doc:1#viewer@user:tom[only_on:" + "[" * 100_000 + "]" * 100_000 + "]",
        'doc:1#viewer@user:tom[only_on:{"a":' + "[" * 100_000 + "]" * 100_000 + "}]",
        "doc:1#viewer@user:tom[expiration:9999-12-31T23:59:59-01:00]",
        "doc:1#viewer@user:tom[expiration:0001-01-01T00:00:00+01:00]",
    ],
    ids=["deep-context", "deep-value", "past-year-9999", "before-year-1"],
)
def test_edge_cases_are_ref_syntax_errors(text: str) -> None:
    with pytest.raises(RefSyntaxError):
        parse_relationship(text)

"""Caveat context decoding: any JSON value against any parameter type converts or is a
``CaveatEvaluationError`` (which fails closed), never another exception."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from fuzz_settings import FUZZ
from hypothesis import given
from hypothesis import strategies as st

from rebac.engine.caveats import convert_value
from rebac.errors import CaveatEvaluationError
from rebac.schema.ir import CaveatType

SCALARS = ["any", "bool", "int", "uint", "double", "string", "bytes", "duration", "timestamp", "ipaddress"]

TYPES = st.recursive(
    st.sampled_from(SCALARS).map(CaveatType),
    lambda inner: st.builds(lambda n, a: CaveatType(n, (a,)), st.sampled_from(["list", "map"]), inner),
    max_leaves=3,
)

STRINGS = st.text(max_size=30) | st.sampled_from(
    ["1h", "1.5s", "99999999999999999999h", "1e308s", "-1s", "", "2030-01-01T00:00:00Z",
     "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "::1", "10.0.0.1", "10.0.0.1/8", "AAAA",
     "=", "42", "-7", "1e400", "nan"]
)  # fmt: skip

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | STRINGS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


def converts_or_refuses(value: Any, kind: CaveatType) -> None:
    with contextlib.suppress(CaveatEvaluationError):  # any other exception fails the test
        convert_value(value, kind, "p")


@FUZZ
@given(JSON, TYPES)
def test_any_json_value_converts_or_is_a_caveat_evaluation_error(value: Any, kind: CaveatType) -> None:
    converts_or_refuses(value, kind)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("99999999999999999999h", "duration"),
        ("1e308s", "duration"),
        ("9999-12-31T23:59:59-01:00", "timestamp"),
        (float("inf"), "int"),
        (float("nan"), "uint"),
        (2**64, "uint"),
    ],
)
def test_edge_values_are_caveat_evaluation_errors_or_convert(value: Any, kind: str) -> None:
    converts_or_refuses(value, CaveatType(kind))

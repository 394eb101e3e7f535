# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Caveat values and failures pinned down where mutation testing found no test (docs/mutation.md).

A duration read wrongly changes what a caveat such as ``elapsed < limit`` decides, so each unit,
the sign, zero and the malformed spellings are pinned (Go's ``time.ParseDuration`` rules, which
SpiceDB uses). A caveat that fails while it runs is a typed error whose details name the caveat.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_helpers import make_engine, perm

from rebac.engine.caveats import CaveatSet, Truth, convert_value
from rebac.errors import CaveatEvaluationError
from rebac.schema.ir import CaveatDefinition, CaveatType

DURATION = CaveatType("duration")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", timedelta(0)),
        ("-0", timedelta(0)),
        ("+0", timedelta(0)),
        ("-1.5s", timedelta(seconds=-1.5)),
        ("+2m", timedelta(minutes=2)),
        ("2h", timedelta(hours=2)),
        ("1.5m", timedelta(seconds=90)),
        ("1h30m", timedelta(minutes=90)),
        ("-1h30m", timedelta(minutes=-90)),
        ("1.s", timedelta(seconds=1)),
        (".5s", timedelta(milliseconds=500)),
        ("1500ms", timedelta(milliseconds=1500)),
        ("250us", timedelta(microseconds=250)),
        ("250µs", timedelta(microseconds=250)),
        ("3000ns", timedelta(microseconds=3)),
    ],
)
def test_durations_read_as_go_reads_them(text, expected):
    assert convert_value(text, DURATION, "d") == expected


@pytest.mark.parametrize("text", ["", "-", "+", "5", "1h 30m", "1h30", "1d", "h", "--1s", "1s-"])
def test_malformed_durations_are_errors(text):
    with pytest.raises(CaveatEvaluationError) as caught:
        convert_value(text, DURATION, "d")
    assert caught.value.details == {"parameter": "d", "expected": "duration"}


async def test_a_negative_duration_is_below_a_positive_limit():
    schema = """
    definition user {}
    caveat within(elapsed duration) { elapsed < duration("1s") }
    definition doc {
        relation viewer: user with within
        permission view = viewer
    }
    """
    engine, _ = await make_engine(schema, ["doc:1#viewer@user:tom[within]"])
    assert await perm(engine, "doc:1#view@user:tom", {"elapsed": "-2s"}) == "yes"
    assert await perm(engine, "doc:1#view@user:tom", {"elapsed": "+2s"}) == "no"
    assert await perm(engine, "doc:1#view@user:tom", {"elapsed": "1001ms"}) == "no"
    assert await perm(engine, "doc:1#view@user:tom", {"elapsed": "999ms"}) == "yes"
    with pytest.raises(CaveatEvaluationError):
        await perm(engine, "doc:1#view@user:tom", {"elapsed": "1 s"})


def _set(expression, **params):
    return CaveatSet({"c": CaveatDefinition("c", params, expression)})


def test_a_failing_caveat_names_itself_and_the_missing_key():
    arguments = CaveatType("map", (CaveatType("any"),))
    with pytest.raises(CaveatEvaluationError) as caught:
        _set("arguments.amount > 3", arguments=arguments).evaluate("c", {}, {"arguments": {}})
    assert caught.value.details == {"caveat": "c", "key": "amount"}
    with pytest.raises(CaveatEvaluationError) as caught:
        _set("x / y == 1", x=CaveatType("int"), y=CaveatType("int")).evaluate("c", {}, {"x": 1, "y": 0})
    assert caught.value.details == {"caveat": "c"}


def test_a_non_boolean_value_read_from_a_map_fails_closed():
    arguments = CaveatType("map", (CaveatType("any"),))
    cs = _set("arguments.flag", arguments=arguments)
    assert cs.evaluate("c", {}, {"arguments": {"flag": True}}).truth is Truth.TRUE
    assert cs.evaluate("c", {}, {"arguments": {"flag": False}}).truth is Truth.FALSE
    for value in (1, "true", [True]):
        with pytest.raises(CaveatEvaluationError):
            cs.evaluate("c", {}, {"arguments": {"flag": value}})


INT = CaveatType("int")
UINT = CaveatType("uint")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (INT, -(2**63)),
        (INT, 2**63 - 1),
        (INT, str(-(2**63))),
        (UINT, 0),
        (UINT, "0"),
        (UINT, 2**64 - 1),
        (UINT, 2**63),
    ],
)
def test_the_edges_of_the_integer_ranges_are_accepted(kind, value):
    assert convert_value(value, kind, "n") == int(value)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (INT, -(2**63) - 1),
        (INT, 2**63),
        (INT, 2**64),
        (INT, str(2**63)),
        (UINT, -1),
        (UINT, 2**64),
        (UINT, 3**64),
    ],
)
def test_integers_outside_their_range_are_errors(kind, value):
    with pytest.raises(CaveatEvaluationError) as caught:
        convert_value(value, kind, "n")
    assert caught.value.details == {"parameter": "n", "expected": str(kind)}


@pytest.mark.parametrize("value", ["YWI=!", "YW I=", "Y\nWI=", "YWI"])
def test_bytes_must_be_strict_base64(value):
    with pytest.raises(CaveatEvaluationError):
        convert_value(value, CaveatType("bytes"), "b")


def test_a_list_or_map_without_an_element_type_holds_anything():
    assert convert_value([1, "x", {"y": None}], CaveatType("list"), "p") == [1, "x", {"y": None}]
    assert convert_value({"a": [1], "b": "x"}, CaveatType("map"), "p") == {"a": [1], "b": "x"}


@pytest.mark.parametrize(
    ("kind", "value"),
    [(CaveatType("list", (INT,)), [1, "x"]), (CaveatType("map", (INT,)), {"a": 1, "b": "x"})],
)
def test_a_bad_element_names_its_parameter(kind, value):
    with pytest.raises(CaveatEvaluationError) as caught:
        convert_value(value, kind, "limits")
    assert caught.value.details == {"parameter": "limits", "expected": "int"}


def test_a_context_value_named_wrongly_is_an_error_that_names_the_parameter():
    cs = CaveatSet({"c": CaveatDefinition("c", {"limit": INT}, "limit > 1")})
    with pytest.raises(CaveatEvaluationError) as caught:
        cs.evaluate("c", {}, {"limit": "abc"})
    assert caught.value.details == {"parameter": "limit", "expected": "int"}
    assert "'limit'" in str(caught.value)


def test_a_value_cel_cannot_hold_is_a_typed_error_that_says_why():
    # JSON can carry a lone surrogate (``"\\ud800"``); the CEL library raises on it instead of
    # returning an error value, and that must still be the caveat's typed error with the
    # library's reason, never a bare exception
    arguments = CaveatType("map", (CaveatType("any"),))
    cs = _set("arguments.amount < 10", arguments=arguments)
    with pytest.raises(CaveatEvaluationError) as caught:
        cs.evaluate("c", {}, {"arguments": {"amount": "\ud800"}})
    assert caught.value.details == {"caveat": "c"}
    message = str(caught.value)
    assert message.startswith("caveat 'c' failed: ")
    assert "null" in message  # the library's reason ("construction from null is not valid")
    assert "not bool" not in message
    assert cs.evaluate("c", {}, {"arguments": {"amount": 2}}).truth is Truth.TRUE

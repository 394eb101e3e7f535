"""Caveat context types on write: ``value_problem`` and its use by ``nonconformity``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rebac.engine.caveats import convert_value
from rebac.errors import CaveatEvaluationError
from rebac.refs import CaveatRef, Relationship, parse_relationship
from rebac.schema import compile_schema
from rebac.schema.caveat_values import SCALAR_TYPES, value_problem
from rebac.schema.conformity import nonconformity
from rebac.schema.ir import CaveatType

INT = CaveatType("int")
STRING = CaveatType("string")

SCHEMA = compile_schema(
    """
    caveat limits(n int, u uint, d double, b bool, s string, raw bytes, ttl duration,
                  at timestamp, ip ipaddress, tags list<string>, quotas map<int>,
                  grid list<list<int>>, extra any) {
        n > 0
    }
    definition user {}
    definition doc {
        relation viewer: user with limits
    }
    """,
    "limits.zed",
)

ACCEPTED: list[tuple[str, Any]] = [
    ("int", 3),
    ("int", -(2**63)),
    ("int", 2**63 - 1),
    ("int", 3.0),
    ("uint", 0),
    ("uint", 2**64 - 1),
    ("double", 2),
    ("double", 2.5),
    ("bool", False),
    ("string", ""),
    ("bytes", "aGVsbG8="),
    # numeric strings are numbers, as in SpiceDB (big.ParseFloat, base 10)
    ("int", "3"),
    ("int", "1e3"),
    ("uint", "7"),
    ("double", "2.5"),
    ("duration", "1h30m"),
    ("duration", "-1.5s"),
    ("duration", "0"),
    ("duration", "250ms"),
    ("timestamp", "2024-01-01T00:00:00Z"),
    ("timestamp", "2024-01-01T00:00:00+02:00"),
    ("ipaddress", "10.0.0.1"),
    ("ipaddress", "::1"),
    ("any", None),
    ("any", {"x": [1, "y"]}),
]

REFUSED: list[tuple[str, Any, str]] = [
    ("int", "3.5", "expects int, got str"),
    ("int", "three", "expects int, got str"),
    ("bytes", "not base64!", "not base64"),
    ("timestamp", "2024-01-01T00:00:00", "with an offset"),
    ("int", True, "expects int, got bool"),
    ("int", 1.5, "expects int, got float"),
    ("int", 2**63, "out of range"),
    ("int", None, "expects int, got NoneType"),
    ("uint", -1, "negative"),
    ("uint", 2**64, "out of range"),
    ("double", "2.5x", "expects double, got str"),
    ("double", True, "got bool"),
    ("double", 10**400, "out of range"),
    ("bool", 1, "expects bool, got int"),
    ("string", 5, "expects string, got int"),
    ("bytes", [1, 2], "expects bytes, got list"),
    ("duration", "soon", "is not a duration"),
    ("duration", "1h30", "is not a duration"),
    ("duration", 60, "expects duration, got int"),
    ("duration", "3000000h", "out of range"),
    ("timestamp", "yesterday", "not an RFC 3339 timestamp"),
    ("timestamp", 1700000000, "expects timestamp, got int"),
    ("ipaddress", "999.1.1.1", "not an IP address"),
    ("ipaddress", "10.0.0.0/8", "not an IP address"),
]


@pytest.mark.parametrize(("kind", "value"), ACCEPTED)
def test_values_of_the_declared_type_conform(kind: str, value: Any) -> None:
    assert value_problem(value, CaveatType(kind), "p") is None


@pytest.mark.parametrize(("kind", "value", "reason"), REFUSED)
def test_values_of_another_type_are_refused_with_a_reason(kind: str, value: Any, reason: str) -> None:
    problem = value_problem(value, CaveatType(kind), "p")
    assert problem is not None
    assert problem.startswith(f"parameter 'p' expects {kind}")
    assert reason in problem


def test_generic_types_check_every_item_and_name_it() -> None:
    tags = CaveatType("list", (STRING,))
    assert value_problem(["a", "b"], tags, "tags") is None
    assert value_problem([], tags, "tags") is None
    assert value_problem(["a", 2], tags, "tags") == "parameter 'tags[1]' expects string, got int"
    assert value_problem("a", tags, "tags") == "parameter 'tags' expects list<string>, got str"
    quotas = CaveatType("map", (INT,))
    assert value_problem({"a": 1}, quotas, "q") is None
    assert value_problem({"a": "one"}, quotas, "q") == "parameter \"q['a']\" expects int, got str"
    assert value_problem([1], quotas, "q") == "parameter 'q' expects map<int>, got list"
    grid = CaveatType("list", (CaveatType("list", (INT,)),))
    assert value_problem([[1], [2, 3]], grid, "g") is None
    assert value_problem([[1], [2, "x"]], grid, "g") == "parameter 'g[1][1]' expects int, got str"
    assert value_problem([1, 2], CaveatType("list"), "l") is None  # no argument: list<any>


def rel_with(context: dict[str, Any]) -> Relationship:
    base = parse_relationship("doc:1#viewer@user:ann")
    return Relationship(base.resource, base.relation, base.subject, CaveatRef("limits", context))


def test_nonconformity_accepts_a_well_typed_context() -> None:
    context = {
        "n": 1,
        "u": 2,
        "d": 0.5,
        "b": True,
        "s": "x",
        "raw": "eA==",
        "ttl": "10m",
        "at": "2030-01-01T00:00:00Z",
        "ip": "192.168.0.1",
        "tags": ["a"],
        "quotas": {"cpu": 2},
        "grid": [[1]],
        "extra": {"free": "form"},
    }
    assert nonconformity(SCHEMA, rel_with(context)) is None
    assert nonconformity(SCHEMA, rel_with({})) is None  # parameters may come from the request


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"n": "one"}, "caveat 'limits': parameter 'n' expects int, got str"),
        ({"n": 1, "ip": "nope"}, "caveat 'limits': parameter 'ip' expects ipaddress, got str"),
        ({"tags": ["a", None]}, "caveat 'limits': parameter 'tags[1]' expects string, got NoneType"),
        ({"quotas": {"cpu": 1.5}}, "caveat 'limits': parameter \"quotas['cpu']\" expects int, got float"),
        ({"at": "2030-13-01"}, "caveat 'limits': parameter 'at' expects timestamp"),
    ],
)
def test_nonconformity_refuses_a_badly_typed_context(context: dict[str, Any], message: str) -> None:
    problem = nonconformity(SCHEMA, rel_with(context))
    assert problem is not None
    assert problem.startswith(message)


def test_unknown_parameters_are_reported_before_types() -> None:
    problem = nonconformity(SCHEMA, rel_with({"n": "x", "zzz": 1}))
    assert problem == "caveat 'limits' has no parameter(s) zzz"


def test_the_first_bad_parameter_in_name_order_is_reported() -> None:
    problem = nonconformity(SCHEMA, rel_with({"u": -1, "b": "no"}))
    assert problem is not None
    assert "parameter 'b'" in problem


def test_the_text_syntax_round_trip_keeps_the_verdict() -> None:
    good = parse_relationship('doc:1#viewer@user:ann[limits:{"n":2,"ttl":"1h"}]')
    bad = parse_relationship('doc:1#viewer@user:ann[limits:{"n":2,"ttl":3600}]')
    assert nonconformity(SCHEMA, good) is None
    assert nonconformity(SCHEMA, bad) == "caveat 'limits': parameter 'ttl' expects duration, got int"


# --- agreement with the evaluator ---------------------------------------------------------------

_scalar_types = st.sampled_from(sorted(SCALAR_TYPES)).map(CaveatType)
_generic = st.sampled_from(["list", "map"])
_types = st.recursive(
    _scalar_types,
    lambda inner: st.builds(lambda name, arg: CaveatType(name, (arg,)), _generic, inner),
    max_leaves=3,
)
_strings = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["1h", "-2.5ms", "0", "1h30m", "2024-05-01T10:00:00Z", "2024-05-01", "10.1.2.3", "::1", "aGk=", "3"]
    ),
)
_json: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _strings,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@given(value=_json, kind=_types)
def test_a_conforming_value_always_evaluates(value: Any, kind: CaveatType) -> None:
    """Whatever the write check accepts, the evaluator converts (no stored value breaks a check),
    and whatever the evaluator refuses, the write check refuses too."""
    value = json.loads(json.dumps(value))  # exactly what the store hands back
    problem = value_problem(value, kind, "p")
    try:
        convert_value(value, kind, "p")
    except CaveatEvaluationError:
        assert problem is not None
        return
    except (OverflowError, ValueError):  # the evaluator crashes on these: the write check refuses them
        assert problem is not None
        return
    if problem is not None:
        # The only values the evaluator takes but the write check refuses are out of range.
        assert "out of range" in problem, problem

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Caveat evaluation: types, partial context, merge rule, fail-closed errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from engine_helpers import make_engine, perm

from rebac.engine.caveats import CaveatSet, Truth, convert_value
from rebac.errors import CaveatEvaluationError
from rebac.refs import parse_object, parse_subject
from rebac.schema.ir import CaveatDefinition, CaveatType

INT = CaveatType("int")


def caveats(expression: str, **params: CaveatType) -> CaveatSet:
    return CaveatSet({"c": CaveatDefinition("c", params, expression)})


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (CaveatType("int"), 3, 3),
        (CaveatType("int"), 3.0, 3),
        # SpiceDB reads numeric strings for int, uint and double (big.ParseFloat, base 10)
        (CaveatType("int"), "3", 3),
        (CaveatType("int"), "-12", -12),
        (CaveatType("int"), "1e3", 1000),
        (CaveatType("uint"), "7", 7),
        (CaveatType("double"), "2.5", 2.5),
        (CaveatType("double"), "4", 4.0),
        (CaveatType("bytes"), "YWI=", b"ab"),
        (CaveatType("timestamp"), "2024-01-01T02:00:00+02:00", datetime(2024, 1, 1, tzinfo=UTC)),
        (CaveatType("uint"), 7, 7),
        (CaveatType("double"), 2, 2.0),
        (CaveatType("string"), "x", "x"),
        (CaveatType("bool"), True, True),
        (CaveatType("timestamp"), "2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC)),
        (CaveatType("duration"), "1h30m", timedelta(hours=1, minutes=30)),
        (CaveatType("ipaddress"), "10.0.0.1", "10.0.0.1"),
        (CaveatType("list", (INT,)), [1, 2], [1, 2]),
        (CaveatType("map", (INT,)), {"a": 1}, {"a": 1}),
        (CaveatType("any"), {"x": [1]}, {"x": [1]}),
    ],
)
def test_convert_value(kind, value, expected):
    assert convert_value(value, kind, "p") == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (CaveatType("int"), "3.5"),
        (CaveatType("int"), "three"),
        (CaveatType("int"), " 3"),
        (CaveatType("int"), "1_000"),
        (CaveatType("uint"), "-1"),
        (CaveatType("double"), "NaN"),
        (CaveatType("int"), True),
        (CaveatType("bytes"), "not base64!"),
        (CaveatType("timestamp"), "2024-01-01T00:00:00"),
        (CaveatType("timestamp"), "2024-01-01"),
        (CaveatType("uint"), -1),
        (CaveatType("bool"), 1),
        (CaveatType("timestamp"), "yesterday"),
        (CaveatType("ipaddress"), "999.1.1.1"),
        (CaveatType("list", (INT,)), [1, "x"]),
        (CaveatType("duration"), "soon"),
    ],
)
def test_convert_value_rejects_wrong_types(kind, value):
    with pytest.raises(CaveatEvaluationError):
        convert_value(value, kind, "p")


def test_missing_parameters_make_it_conditional_with_their_names():
    outcome = caveats("a == 1 && b == 2", a=INT, b=INT).evaluate("c", {}, {"a": 1})
    assert outcome.truth is Truth.CONDITIONAL
    assert outcome.missing == {"b"}


def test_known_values_that_decide_win_over_missing_ones():
    cs = caveats("a == 1 || b == 2", a=INT, b=INT)
    assert cs.evaluate("c", {}, {"a": 1}).truth is Truth.TRUE
    assert caveats("a == 1 && b == 2", a=INT, b=INT).evaluate("c", {}, {"a": 5}).truth is Truth.FALSE


def test_relationship_context_wins_over_request_context():
    cs = caveats("a == 1", a=INT)
    assert cs.evaluate("c", {"a": 1}, {"a": 2}).truth is Truth.TRUE
    assert cs.evaluate("c", {"a": 2}, {"a": 1}).truth is Truth.FALSE


def test_in_cidr():
    cs = caveats("ip.in_cidr(cidr)", ip=CaveatType("ipaddress"), cidr=CaveatType("string"))
    assert cs.evaluate("c", {"cidr": "10.0.0.0/8"}, {"ip": "10.2.3.4"}).truth is Truth.TRUE
    assert cs.evaluate("c", {"cidr": "10.0.0.0/8"}, {"ip": "11.2.3.4"}).truth is Truth.FALSE


def test_a_non_boolean_result_fails_closed():
    with pytest.raises(CaveatEvaluationError):
        caveats("a + 1", a=INT).evaluate("c", {}, {"a": 1})


async def test_a_type_error_in_the_request_context_fails_the_check():
    schema = """
    definition user {}
    caveat level(actual int) { actual >= 3 }
    definition doc {
        relation viewer: user with level
        permission view = viewer
    }
    """
    engine, _ = await make_engine(schema, ["doc:1#viewer@user:tom[level]"])
    with pytest.raises(CaveatEvaluationError):
        await perm(engine, "doc:1#view@user:tom", {"actual": "high"})
    assert await perm(engine, "doc:1#view@user:tom", {"actual": 4}) == "yes"


async def test_conditional_results_name_the_missing_parameters_through_set_operations():
    schema = """
    definition user {}
    caveat level(actual int) { actual >= 3 }
    caveat region(where string) { where == "eu" }
    definition doc {
        relation viewer: user with level
        relation editor: user with region
        permission both = viewer & editor
        permission any = viewer + editor
    }
    """
    rels = ["doc:1#viewer@user:tom[level]", "doc:1#editor@user:tom[region]"]
    engine, _ = await make_engine(schema, rels)
    resource, subject = parse_object("doc:1"), parse_subject("user:tom")
    both = await engine.check(resource, "both", subject)
    assert both.missing == {"actual", "where"}
    partial = await engine.check(resource, "both", subject, context={"actual": 5})
    assert partial.missing == {"where"}
    assert (await engine.check(resource, "any", subject)).missing == {"actual", "where"}
    assert (await engine.check(resource, "any", subject, context={"actual": 5})).missing == frozenset()


@pytest.mark.parametrize(
    ("expression", "context", "fragment", "key"),
    [
        ("x / y == 1", {"x": 1, "y": 0}, "divide by zero", None),
        ("x + y > 0", {"x": 2**63 - 1, "y": 1}, "overflow", None),
        ("arguments.amount > 3", {"arguments": {}}, "no such key 'amount'", "amount"),
    ],
)
def test_a_caveat_that_fails_while_it_runs_is_a_typed_error(expression, context, fragment, key):
    params = {"x": INT, "y": INT, "arguments": CaveatType("map", (CaveatType("any"),))}
    with pytest.raises(CaveatEvaluationError) as caught:
        caveats(expression, **params).evaluate("c", {}, context)
    assert fragment in str(caught.value)
    assert caught.value.details.get("key") == key


async def test_a_caveat_error_never_allows_through_any_rewrite():
    schema = """
    definition user {}
    caveat spend(arguments map<any>, x int, y int) { arguments.amount < 10 && x / y > 0 }
    definition doc {
        relation viewer: user with spend
        relation banned: user with spend
        relation plain: user
        permission view = viewer
        permission either = plain + viewer
        permission all = plain & viewer
        permission kept = plain - banned
    }
    """
    rels = ["doc:1#viewer@user:tom[spend]", "doc:1#banned@user:tom[spend]", "doc:1#plain@user:tom"]
    engine, _ = await make_engine(schema, rels)
    for context in ({"arguments": {}, "x": 1, "y": 1}, {"arguments": {"amount": 1}, "x": 1, "y": 0}):
        for permission in ("view", "all", "kept"):
            with pytest.raises(CaveatEvaluationError):
                await perm(engine, f"doc:1#{permission}@user:tom", context)
    # a union already granted by a plain edge needs no caveat: the same answer as SpiceDB's
    assert await perm(engine, "doc:1#either@user:tom", {"arguments": {}, "x": 1, "y": 1}) == "yes"
    good = {"arguments": {"amount": 1}, "x": 1, "y": 1}
    assert await perm(engine, "doc:1#view@user:tom", good) == "yes"
    assert await perm(engine, "doc:1#kept@user:tom", good) == "no"

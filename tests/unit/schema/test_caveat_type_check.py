"""Caveat bodies are type-checked against the declared parameters, as SpiceDB checks them."""

from __future__ import annotations

import pytest

from rebac.errors import SchemaError
from rebac.schema import check_schema, compile_schema


def _caveat(params: str, body: str) -> str:
    return f"definition user {{}}\ncaveat c({params}) {{\n  {body}\n}}\n"


@pytest.mark.parametrize(
    ("params", "body", "column", "fragment"),
    [
        ("limit int", 'limit < "x"', 9, "no matching overload for '_<_' applied to '(int, string)'"),
        ("a int, b string", "a == b", 5, "'(int, string)'"),
        ("limit int", "limit + 1", 3, "must result in a boolean value: found `int`"),
        ("m map<any>", "m.flag", 3, "must result in a boolean value: found `dyn`"),
        ("u uint", "u > 3u", 5, "'(int, uint)'"),  # SpiceDB declares uint as CEL int
        ("ip ipaddress", 'ip == "10.0.0.1"', 6, "'(ipaddress, string)'"),
        ("n int", "n.exists(x, x)", 3, "cannot be the range of a comprehension"),
    ],
)
def test_type_errors_are_refused_at_schema_write_with_a_position(
    params: str, body: str, column: int, fragment: str
) -> None:
    schema, diagnostics = check_schema(_caveat(params, body), "types.zed")
    assert schema is None
    [diagnostic] = diagnostics
    assert (diagnostic.source, diagnostic.line, diagnostic.column) == ("types.zed", 3, column)
    assert fragment in diagnostic.message


def test_a_type_error_on_a_later_line_points_at_that_line() -> None:
    text = "definition user {}\ncaveat c(a int, s string) {\n  a > 1 &&\n    s > 2\n}\n"
    with pytest.raises(SchemaError) as caught:
        compile_schema(text, "multi.zed")
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.column) == (4, 7)


@pytest.mark.parametrize(
    ("params", "body"),
    [
        ("limit int", "limit < 5"),
        ("u uint", "u > 3"),
        ("m map<any>", "m.amount > 3"),
        ("m map<int>", "m.amount > 3"),
        ("ip ipaddress, cidr string", "ip.in_cidr(cidr)"),
        ("a map<any>, b map<any>", "a.isSubtreeOf(b)"),
        ("t timestamp, d duration", 't + d > timestamp("2024-01-01T00:00:00Z")'),
        ("l list<string>", 'l.exists(x, x == "a")'),
        ("b bytes", 'b == b"ab"'),
        ("x any", "x == 1"),
    ],
)
def test_well_typed_caveats_compile(params: str, body: str) -> None:
    schema, diagnostics = check_schema(_caveat(params, body))
    assert diagnostics == []
    assert schema is not None

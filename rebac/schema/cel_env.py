"""The CEL environment of a caveat, after SpiceDB's ``pkg/caveats`` (``types/basic.go``, ``env.go``).

Caveat bodies are compiled with ``cel-expr-python`` (the bindings of Google's cel-cpp), whose
checker knows each parameter's declared type, so ``limit < "x"`` or an ``int`` result is refused
when the schema is written, as SpiceDB refuses it. The parameter types map as SpiceDB maps them:
``uint`` is CEL ``int`` (so ``u > 3u`` does not type-check, as in SpiceDB), ``map<T>`` is
``map(string, T)``, ``any`` is ``dyn`` and ``ipaddress`` an opaque type with the member function
``in_cidr(string)``; ``map.isSubtreeOf(map)`` is declared too.

Two environments are built from one parameter list: the *checking* one, where ``ipaddress`` is the
opaque type (``ip == "10.0.0.1"`` is refused, as in SpiceDB), and the *evaluating* one, where an
address travels as its canonical string (a Python value cannot be an opaque CEL type). An
expression that passes the first always compiles in the second.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Final

from cel_expr_python import cel

from rebac.schema.ir import CaveatType

__all__ = ["compile_for_evaluation", "type_check"]

_T = cel.Type
_IPADDRESS: Final = _T.AbstractType("ipaddress")
_BASIC: Final = {
    "any": _T.DYN,
    "bool": _T.BOOL,
    "string": _T.STRING,
    "int": _T.INT,
    "uint": _T.INT,  # SpiceDB registers uint with cel.IntType
    "double": _T.DOUBLE,
    "bytes": _T.BYTES,
    "duration": _T.DURATION,
    "timestamp": _T.TIMESTAMP,
}
_ERROR_AT: Final = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*)")


def _in_cidr(address: object, cidr: object) -> bool:
    """``ip.in_cidr("10.0.0.0/8")``; a malformed CIDR is an evaluation error (it raises)."""
    network = ipaddress.ip_network(str(cidr), strict=False)
    return ipaddress.ip_address(str(address)) in network


def _is_subtree_of(inner: Mapping[str, Any], outer: Mapping[str, Any]) -> bool:
    """SpiceDB's ``map.isSubtreeOf(map)``: every key of ``inner`` is in ``outer`` with an equal value."""
    for key, value in inner.items():
        if key not in outer:
            return False
        other = outer[key]
        if isinstance(value, Mapping) and isinstance(other, Mapping):
            if not _is_subtree_of(value, other):
                return False
        elif value != other:
            return False
    return True


def _cel_type(kind: CaveatType, address: cel.Type) -> cel.Type:
    if kind.name == "ipaddress":
        return address
    if kind.name == "list":
        return _T.List(_cel_type(kind.args[0], address) if kind.args else _T.DYN)
    if kind.name == "map":
        return _T.Map(_T.STRING, _cel_type(kind.args[0], address) if kind.args else _T.DYN)
    return _BASIC.get(kind.name, _T.DYN)


def _environment(parameters: Mapping[str, CaveatType], address: cel.Type) -> cel.Env:
    map_type = _T.Map(_T.STRING, _T.DYN)
    functions = [
        cel.FunctionDecl(
            "in_cidr",
            [cel.Overload("ipaddress_in_cidr", _T.BOOL, [address, _T.STRING], is_member=True, impl=_in_cidr)],
        ),
        cel.FunctionDecl(
            "isSubtreeOf",
            [
                cel.Overload(
                    "map_is_subtree_of", _T.BOOL, [map_type, map_type], is_member=True, impl=_is_subtree_of
                )
            ],
        ),
    ]
    variables = {name: _cel_type(kind, address) for name, kind in parameters.items()}
    return cel.NewEnv(variables=variables, functions=functions)


def _offset(expression: str, line: int, column: int) -> int:
    lines = expression.split("\n")
    before = sum(len(text) + 1 for text in lines[: max(line - 1, 0)])
    return min(before + max(column - 1, 0), len(expression))


def _problems(message: str, expression: str) -> list[tuple[int, str]]:
    found = [
        (_offset(expression, int(m.group(1)), int(m.group(2))), m.group(3).strip())
        for m in _ERROR_AT.finditer(message)
    ]
    return found or [(0, message.strip())]


def type_check(expression: str, parameters: Mapping[str, CaveatType]) -> list[tuple[int, str]]:
    """Parse and type-check a caveat body against its declared parameters (SpiceDB's rules).

    Returns:
        ``(offset in expression, message)`` for each problem: a syntax or type error, or a result
        that is not ``bool``.
    """
    try:
        compiled = _environment(parameters, _IPADDRESS).compile(expression)
    except RuntimeError as exc:
        return _problems(str(exc), expression)
    result = compiled.return_type()
    if result != _T.BOOL:
        shown = result.name().lower()
        return [(0, f"caveat expression must result in a boolean value: found `{shown}`")]
    return []


def compile_for_evaluation(expression: str, parameters: Mapping[str, CaveatType]) -> cel.Expression:
    """Compile a (type-checked) caveat body for evaluation, addresses travelling as strings.

    Raises:
        ValueError: the expression does not compile (a schema built without the checks).
    """
    try:
        return _environment(parameters, _T.STRING).compile(expression)
    except RuntimeError as exc:
        raise ValueError(str(exc).strip()) from None

"""Caveat evaluation with ``cel-expr-python`` (CEL compiled once per schema, :mod:`~rebac.schema.cel_env`).

The context a caveat sees is the request context overlaid with the relationship's own context
(SpiceDB's rule: a value stored on the relationship wins over the same name in the request).
Values are converted to the declared parameter types first, as SpiceDB converts them (a numeric
string is a number, bytes must be base64, a timestamp needs its offset); a value of the wrong type
is a :class:`~rebac.errors.CaveatEvaluationError` (fail closed). So is an expression that fails
while it runs (a division by zero, an overflow, a map key that is not there: the error names it).
When parameters are missing the expression is still run (CEL's ``||``/``&&`` absorb errors, which
gives the same answer as SpiceDB's partial evaluation when the known values already decide it);
otherwise the result is *conditional* and names the missing parameters.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Final

from cel_expr_python import cel

from rebac.errors import CaveatEvaluationError, UnknownCaveatError
from rebac.schema.caveat_values import RFC3339, numeric_value
from rebac.schema.cel import references
from rebac.schema.cel_env import compile_for_evaluation
from rebac.schema.ir import CaveatDefinition, CaveatType

__all__ = ["CaveatOutcome", "CaveatSet", "CompiledCaveat", "Truth", "convert_value"]


class Truth(Enum):
    """Three-valued truth of a caveat."""

    FALSE = 0
    CONDITIONAL = 1
    TRUE = 2


@dataclass(frozen=True, slots=True)
class CaveatOutcome:
    """The result of one caveat evaluation; ``missing`` is set when conditional."""

    truth: Truth
    missing: frozenset[str] = frozenset()


_ERROR: Final = cel.Type.ERROR
_TRUE: Final = CaveatOutcome(Truth.TRUE)
_FALSE: Final = CaveatOutcome(Truth.FALSE)

_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def _parse_duration(text: str) -> timedelta:
    """Parse a Go/CEL duration string such as ``1h30m`` or ``-1.5s``."""
    sign = 1.0
    body = text
    if body[:1] in {"-", "+"}:
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return timedelta(0)
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(body) or not body:
        raise ValueError(f"{text!r} is not a duration")
    return timedelta(seconds=sign * total)


def _numeric(value: Any, kind: CaveatType, bad: Callable[[str], CaveatEvaluationError]) -> Any:
    """An ``int``, ``uint`` or ``double`` parameter from a JSON number or numeric string."""
    number = numeric_value(value)
    if not isinstance(number, int | float) or isinstance(number, bool):
        raise bad("")
    if kind.name == "double":
        return float(number)
    if isinstance(number, float):
        if not number.is_integer():
            raise bad("not an integer")
        number = int(number)
    if kind.name == "uint" and number < 0:
        raise bad("negative")
    if not -(2**63) <= number < (2**64 if kind.name == "uint" else 2**63):
        raise bad("out of range")
    return number


def convert_value(value: Any, kind: CaveatType, name: str) -> Any:
    """Convert a JSON context value to the declared caveat parameter type.

    Raises:
        CaveatEvaluationError: if the value cannot represent that type.
    """

    def bad(why: str = "") -> CaveatEvaluationError:
        suffix = f": {why}" if why else ""
        return CaveatEvaluationError(
            f"caveat parameter {name!r} expects {kind}, got {type(value).__name__}{suffix}",
            details={"parameter": name, "expected": str(kind)},
        )

    match kind.name:
        case "any":
            return value
        case "bool":
            if isinstance(value, bool):
                return value
        case "int" | "uint" | "double":
            return _numeric(value, kind, bad)
        case "string":
            if isinstance(value, str):
                return value
        case "bytes":
            if isinstance(value, str):
                try:
                    return base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raise bad("not base64") from None
        case "duration":
            if isinstance(value, str):
                try:
                    return _parse_duration(value)
                except (ValueError, OverflowError) as exc:  # overflow: "99999999999999999999h" (tests/fuzz)
                    raise bad(str(exc)) from None
        case "timestamp":
            if isinstance(value, str):
                if RFC3339.fullmatch(value) is None:
                    raise bad("not an RFC 3339 timestamp with an offset")
                try:
                    return datetime.fromisoformat(value)
                except ValueError:
                    raise bad("not an RFC 3339 timestamp") from None
        case "ipaddress":
            if isinstance(value, str):
                try:
                    return str(ipaddress.ip_address(value))
                except ValueError:
                    raise bad("not an IP address") from None
        case "list":
            if isinstance(value, list):
                inner = kind.args[0] if kind.args else CaveatType("any")
                return [convert_value(v, inner, name) for v in value]
        case "map":
            if isinstance(value, dict):
                inner = kind.args[0] if kind.args else CaveatType("any")
                return {str(k): convert_value(v, inner, name) for k, v in value.items()}
        case _:
            raise bad("unsupported parameter type")
    raise bad()


_MISSING_KEY: Final = re.compile(r'Key not found in map : "?(.*?)"?$')


def _failure(name: str, message: str) -> CaveatEvaluationError:
    """The typed error for a caveat that failed while it ran; a missing map key is named."""
    text = message.strip()
    details: dict[str, Any] = {"caveat": name}
    key = _MISSING_KEY.search(text)
    if key is not None:
        details["key"] = key.group(1)
        return CaveatEvaluationError(
            f"caveat {name!r} failed: no such key {key.group(1)!r} in the context", details=details
        )
    _, _, reason = text.partition(": ")
    return CaveatEvaluationError(f"caveat {name!r} failed: {reason or text}", details=details)


@dataclass(frozen=True, slots=True)
class CompiledCaveat:
    """One caveat compiled once; :meth:`evaluate` runs it many times."""

    definition: CaveatDefinition
    program: cel.Expression
    referenced: frozenset[str]

    @classmethod
    def compile(cls, definition: CaveatDefinition) -> CompiledCaveat:
        """Compile the caveat's CEL expression.

        Raises:
            CaveatEvaluationError: if the expression does not compile.
        """
        try:
            program = compile_for_evaluation(definition.expression, definition.parameters)
        except ValueError as exc:
            raise CaveatEvaluationError(
                f"caveat {definition.name!r} does not compile: {exc}",
                details={"caveat": definition.name},
            ) from None
        referenced = references(definition.expression, frozenset(definition.parameters))
        return cls(definition, program, referenced)

    def evaluate(
        self, relationship_context: Mapping[str, Any], request_context: Mapping[str, Any]
    ) -> CaveatOutcome:
        """Evaluate with the merged context (the relationship's values win).

        Raises:
            CaveatEvaluationError: on a type error or an expression that fails while it runs
                (never an allow: the caller fails closed).
        """
        params = self.definition.parameters
        variables: dict[str, Any] = {}
        for source in (request_context, relationship_context):
            for key, value in source.items():
                if key in params:
                    variables[key] = convert_value(value, params[key], key)
        missing = self.referenced - variables.keys()
        try:
            value = self.program.eval(data=variables)
            result = value.value()
            failed = value.type() == _ERROR
        except (RuntimeError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
            result, failed = str(exc), True
        if failed:
            if missing:
                return CaveatOutcome(Truth.CONDITIONAL, frozenset(missing))
            raise _failure(self.definition.name, str(result))
        if not isinstance(result, bool):
            raise CaveatEvaluationError(
                f"caveat {self.definition.name!r} returned {type(result).__name__}, not bool",
                details={"caveat": self.definition.name},
            )
        return _TRUE if result else _FALSE


class CaveatSet:
    """All caveats of one schema, compiled once when the schema is loaded."""

    __slots__ = ("_compiled",)

    def __init__(self, caveats: Mapping[str, CaveatDefinition]) -> None:
        self._compiled = {name: CompiledCaveat.compile(d) for name, d in caveats.items()}

    def get(self, name: str) -> CompiledCaveat:
        """The compiled caveat ``name``.

        Raises:
            UnknownCaveatError: if the schema does not define it.
        """
        try:
            return self._compiled[name]
        except KeyError:
            raise UnknownCaveatError(f"caveat {name!r} is not defined") from None

    def evaluate(
        self, name: str, relationship_context: Mapping[str, Any], request_context: Mapping[str, Any]
    ) -> CaveatOutcome:
        """Evaluate caveat ``name`` (see :meth:`CompiledCaveat.evaluate`)."""
        return self.get(name).evaluate(relationship_context, request_context)

"""Caveat context values against their declared parameter types (SpiceDB's caveat type system).

A relationship's caveat context is JSON. SpiceDB type-checks it on write against the caveat's
parameter types (``int``, ``uint``, ``bool``, ``string``, ``double``, ``bytes``, ``duration``,
``timestamp``, ``ipaddress``, ``list<T>``, ``map<T>``, ``any``), so a stored value can never make
the caveat fail to evaluate later. :func:`value_problem` is that check; it accepts a value exactly
when the evaluator's conversion (``rebac.engine.caveats.convert_value``) does, with one deliberate
tightening: ``int`` must fit a signed 64-bit integer (SpiceDB saturates). JSON
encodings are SpiceDB's: a number or a numeric string (``"42"``, ``"1e3"``: ``big.ParseFloat`` in
base 10) for ``int``, ``uint`` and ``double``, a Go duration string (``"1h30m"``), an RFC 3339
timestamp with its offset, ``bytes`` as standard base64, an IP address its text form. Imports:
stdlib and :mod:`rebac.schema.ir` only (the schema layer does not import the engine).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
import sys
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from rebac.schema.ir import CaveatType

__all__ = ["RFC3339", "SCALAR_TYPES", "numeric_value", "value_problem"]

SCALAR_TYPES: Final = frozenset(
    {"any", "bool", "int", "uint", "double", "string", "bytes", "duration", "timestamp", "ipaddress"}
)
"""Parameter types without type arguments; ``list`` and ``map`` take one."""

_MAX_DOUBLE: Final = int(sys.float_info.max)
_INT_RANGE: Final = range(-(2**63), 2**63)
_UINT_RANGE: Final = range(2**64)
RFC3339: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
"""Go's ``time.RFC3339`` layout, which SpiceDB parses timestamps with: the offset is required."""
_NUMERIC: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DURATION: Final = re.compile(r"[-+]?(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+)")
_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_SECONDS_PER_UNIT: Final = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_MAX_DURATION_SECONDS: Final = (2**63 - 1) / 1e9
"""Go's ``time.Duration`` (int64 nanoseconds, about 292 years): SpiceDB's duration range."""


def numeric_value(value: Any) -> Any:
    """A numeric string as SpiceDB reads it (``big.ParseFloat``, base 10), else ``value`` itself."""
    if not isinstance(value, str) or _NUMERIC.fullmatch(value) is None:
        return value
    try:
        parsed = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimal numbers
        return value
    if parsed == parsed.to_integral_value():
        return int(parsed)
    number = float(parsed)
    return number if math.isfinite(number) else value


def _integer(value: Any) -> int | None:
    """``value`` as a JSON integer (``3``, ``3.0`` or ``"3"``, never a bool), or ``None``."""
    value = numeric_value(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


def _duration_problem(text: str) -> str | None:
    """Why ``text`` is not a Go duration string (``"1h30m"``, ``"-1.5s"``, ``"0"``), or ``None``."""
    if not _DURATION.fullmatch(text):
        return f"{text!r} is not a duration"
    seconds = sum(
        float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)] for match in _DURATION_PART.finditer(text)
    )
    return None if seconds <= _MAX_DURATION_SECONDS else "out of range"


def _scalar_problem(value: Any, kind: str) -> str | None:
    """Why ``value`` is not a ``kind`` (a scalar type name), or ``None``."""
    match kind:
        case "any":
            return None
        case "bool" | "string":
            wanted = bool if kind == "bool" else str
            return None if isinstance(value, wanted) else ""
        case "int" | "uint":
            number = _integer(value)
            if number is None:
                return ""
            if number in (_INT_RANGE if kind == "int" else _UINT_RANGE):
                return None
            return "negative" if number < 0 and kind == "uint" else "out of range"
        case "double":
            value = numeric_value(value)
            if isinstance(value, float):
                return None
            if not isinstance(value, int) or isinstance(value, bool):
                return ""
            return None if abs(value) <= _MAX_DOUBLE else "out of range"
        case "bytes":
            if not isinstance(value, str):
                return ""
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return "not base64"
            return None
        case "duration":
            if not isinstance(value, str):
                return ""
            return _duration_problem(value)
        case "timestamp":
            if not isinstance(value, str):
                return ""
            if RFC3339.fullmatch(value) is None:
                return "not an RFC 3339 timestamp with an offset"
            try:
                datetime.fromisoformat(value)
            except ValueError:
                return "not an RFC 3339 timestamp"
            return None
        case "ipaddress":
            if not isinstance(value, str):
                return ""
            try:
                ipaddress.ip_address(value)
            except ValueError:
                return "not an IP address"
            return None
        case _:
            return "unsupported parameter type"


def value_problem(value: Any, kind: CaveatType, name: str) -> str | None:
    """Why the JSON ``value`` of caveat parameter ``name`` does not fit ``kind``, or ``None``.

    Args:
        value: The context value (decoded JSON: ``None``, bool, int, float, str, list or dict).
        kind: The declared parameter type.
        name: The parameter name, used in the message (items show as ``name[0]``, ``name["k"]``).

    Returns:
        A message for a person, such as ``parameter 'n' expects int, got str``, or ``None``.
    """
    if kind.name in {"list", "map"}:
        inner = kind.args[0] if kind.args else CaveatType("any")
        if kind.name == "list" and isinstance(value, list):
            items = [(f"{name}[{i}]", item) for i, item in enumerate(value)]
        elif kind.name == "map" and isinstance(value, dict):
            items = [(f"{name}[{key!r}]", item) for key, item in value.items()]
        else:
            return f"parameter {name!r} expects {kind}, got {_json_type(value)}"
        for path, item in items:
            problem = value_problem(item, inner, path)
            if problem is not None:
                return problem
        return None
    why = _scalar_problem(value, kind.name)
    if why is None:
        return None
    suffix = f": {why}" if why else ""
    return f"parameter {name!r} expects {kind}, got {_json_type(value)}{suffix}"


def _json_type(value: Any) -> str:
    """The Python type name of a decoded JSON value, as the evaluator's messages show it."""
    return type(value).__name__

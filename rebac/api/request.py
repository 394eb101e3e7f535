"""The app's request class: JSON bodies are checked at the edge before any handler sees them.

:class:`JsonRequest` is Litestar's request with a stricter :meth:`~JsonRequest.json`, the one
place every JSON body of the ordinary routes is decoded. A body is refused, and nothing is
written, when:

- its ``Content-Type`` is present and not JSON (``application/json``, with or without parameters
  such as ``charset``, or ``application/<anything>+json``): **415**;
- it nests arrays and objects deeper than :data:`MAX_JSON_DEPTH` (a body nested past the
  interpreter's recursion limit included, which the decoder reports as ``RecursionError``): **400**;
- a string in it, or an object key, holds a NUL character (U+0000), which PostgreSQL text and
  ``jsonb`` cannot store: **400**;
- a member has the wrong JSON type for the handler's DTO (``0`` for a boolean, ``"5"`` for an
  integer): **400**. Litestar converts bodies leniently (it shares the conversion with query
  strings); here the body is checked strictly against the DTO first, as the document says.

The hot routes (:mod:`rebac.api.hot`) use :func:`is_json`, :func:`may_be_too_deep` and
:func:`may_hold_nul` to recognise such a body cheaply and leave it to the ordinary route, so both
paths give the same answer.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import Empty

from rebac.errors import InvalidInputError

__all__ = [
    "MAX_JSON_DEPTH",
    "JsonRequest",
    "UnsupportedMediaTypeError",
    "check_json_value",
    "is_json",
    "may_be_too_deep",
    "may_hold_nul",
]

MAX_JSON_DEPTH: Final = 64
"""Deepest nesting of arrays and objects a JSON body may have (the v1 shapes need 6)."""

_ESCAPED_NUL: Final = b"\\u0000"


class UnsupportedMediaTypeError(HTTPException):
    """415: the body's ``Content-Type`` is not JSON."""

    status_code = 415


def is_json(content_type: bytes | str | None) -> bool:
    """True for no ``Content-Type``, ``application/json`` (any parameters) or ``application/*+json``."""
    if content_type is None:
        return True
    text = content_type.decode("latin-1") if isinstance(content_type, bytes) else content_type
    media = text.partition(";")[0].strip().lower()
    if not media:
        return True
    kind, _, sub = media.partition("/")
    return kind == "application" and (sub == "json" or sub.endswith("+json"))


def may_be_too_deep(body: bytes) -> bool:
    """False when ``body`` cannot nest deeper than :data:`MAX_JSON_DEPTH` (few enough brackets)."""
    return body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH


def may_hold_nul(body: bytes) -> bool:
    """False when no string of the JSON ``body`` can hold a NUL (no escaped U+0000 in it)."""
    return _ESCAPED_NUL in body


def _where(path: list[str | int]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def check_json_value(value: Any) -> None:
    """Refuse a decoded JSON value nested too deeply or holding a NUL in a string or key.

    The walk is iterative, so it cannot itself exhaust the stack.

    Raises:
        InvalidInputError: the first offending place (``at``, a JSON path, is in the details).
    """
    pending: list[tuple[Any, int, list[str | int]]] = [(value, 0, [])]
    while pending:
        item, depth, path = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                _refuse_nul(path)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth >= MAX_JSON_DEPTH:
            _refuse_depth()
        if isinstance(item, dict):
            for key, member in item.items():
                if "\x00" in key:
                    _refuse_nul(path)
                pending.append((member, depth + 1, [*path, key[:40]]))
        else:
            pending.extend((member, depth + 1, [*path, i]) for i, member in enumerate(item))


def _refuse_nul(path: list[str | int]) -> None:
    raise InvalidInputError(
        "a string in the body holds a NUL character (U+0000), which is not accepted",
        details={"at": _where(path)},
    )


def _refuse_depth() -> None:
    raise InvalidInputError(
        f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep",
        details={"limit": "MAX_JSON_DEPTH", "maximum": MAX_JSON_DEPTH},
    )


def _integral(value: Any) -> Any:
    """``value`` with every float that has no fractional part made an int (iteratively bounded)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _converts(value: Any, target: type[msgspec.Struct]) -> bool:
    try:
        msgspec.convert(value, target, strict=True)
    except msgspec.ValidationError:
        return False
    return True


class JsonRequest(Request[Any, Any, Any]):
    """Litestar's request whose JSON body is checked (see the module docstring)."""

    async def json(self) -> Any:
        """The decoded JSON body.

        Raises:
            UnsupportedMediaTypeError: the ``Content-Type`` is not JSON (415).
            InvalidInputError: the body is nested too deeply or holds a NUL (400).
        """
        if self._json is not Empty:
            return self._json
        if not is_json(self.headers.get("content-type")):
            raise UnsupportedMediaTypeError("the request body must be JSON (Content-Type: application/json)")
        try:
            value = await super().json()
        except RecursionError:
            _refuse_depth()
        body = await self.body()
        if may_be_too_deep(body) or may_hold_nul(body):
            check_json_value(value)
        self._check_types(value)
        return value

    def _check_types(self, value: Any) -> None:
        """Refuse ``value`` unless it converts strictly to the handler's ``data`` DTO (when it has one).

        Raises:
            ValidationException: the first mismatch, as Litestar reports one (400).
        """
        field = self.route_handler.parsed_fn_signature.parameters.get("data")
        target = getattr(field, "annotation", None)
        if not (isinstance(target, type) and issubclass(target, msgspec.Struct)):
            return
        try:
            msgspec.convert(value, target, strict=True)
        except msgspec.ValidationError as exc:
            if _converts(_integral(value), target):  # ``5.0`` is an integer to JSON Schema too
                return
            raise ValidationException(
                detail=f"Validation failed for {self.method} {self.url.path}",
                extra=[{"message": str(exc), "key": "data", "source": "body"}],
            ) from None

"""The bulk interchange format: what ``export`` writes and ``import`` reads.

Export writes NDJSON, one relationship per line as ``{"relationship": "<text syntax>"}`` (the ONE
text syntax of :mod:`rebac.refs`, so caveats and expirations survive the round trip). Ids are
written as callers wrote them (``user:"rick@the-citadel.com"``; :func:`rebac.refs.external`) and
mapped back to their stored form on import (:func:`rebac.refs.stored`), so an export imports to
the same stored relationships. Import reads
that, and also plain text lines (``document:1#viewer@user:tom``, as in the benchmark's
``relationships.txt``); blank lines and lines starting with ``//`` are skipped.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

from rebac.errors import RefSyntaxError
from rebac.refs import Relationship, external, parse_relationship, stored

__all__ = ["ImportLineError", "encode_line", "encode_lines", "parse_lines", "parse_numbered_lines"]


class ImportLineError(RefSyntaxError):
    """A line of an import file is not a relationship. ``line`` is 1-based."""

    def __init__(self, message: str, *, text: str, line: int) -> None:
        super().__init__(f"line {line}: {message}", text=text, part="line", position=0)
        self.line = line
        self.details["line"] = line


def encode_line(rel: Relationship) -> str:
    """One NDJSON line (without the newline) for the stored relationship ``rel``."""
    return json.dumps({"relationship": str(external(rel))}, separators=(",", ":"), ensure_ascii=False)


async def encode_lines(relationships: AsyncIterable[Relationship]) -> AsyncIterator[str]:
    """NDJSON lines (each ending in a newline) for a stream of relationships."""
    async for rel in relationships:
        yield encode_line(rel) + "\n"


def _parse_one(raw: str, number: int) -> Relationship | None:
    text = raw.strip()
    if not text or text.startswith("//"):
        return None
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportLineError(f"not JSON ({exc.msg})", text=text, line=number) from None
        value = obj.get("relationship") if isinstance(obj, dict) else None
        if not isinstance(value, str):
            raise ImportLineError('expected {"relationship": "<text>"}', text=text, line=number)
        text = value
    try:
        return stored(parse_relationship(text))
    except RefSyntaxError as exc:
        raise ImportLineError(exc.message, text=text, line=number) from None


def parse_numbered_lines(lines: Iterable[str], *, start: int = 1) -> Iterator[tuple[int, Relationship]]:
    """Parse import lines lazily, yielding each relationship with its 1-based line number.

    Raises:
        ImportLineError: naming the 1-based line number of the first bad line.
    """
    for number, raw in enumerate(lines, start=start):
        rel = _parse_one(raw, number)
        if rel is not None:
            yield number, rel


def parse_lines(lines: Iterable[str], *, start: int = 1) -> Iterator[Relationship]:
    """Parse import lines lazily.

    Raises:
        ImportLineError: naming the 1-based line number of the first bad line.
    """
    for _, rel in parse_numbered_lines(lines, start=start):
        yield rel

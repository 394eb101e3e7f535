"""The schema language as a tool: compile, format, and the comments a format would drop.

For the commands that work on schema files and touch no store (``rebac schema check`` and
``rebac schema fmt``). Every error is a :class:`~rebac.errors.SchemaError` whose diagnostics name
file, line and column.
"""

from __future__ import annotations

from dataclasses import dataclass

from rebac.errors import Diagnostic
from rebac.schema import compile_schema, format_schema, lint_schema
from rebac.schema.lexer import plain_comments
from rebac.schema.source import Source

__all__ = ["Checked", "check_text", "dropped_comments", "format_text", "lint_text"]


@dataclass(frozen=True, slots=True)
class Checked:
    """A schema that compiled: how many definitions and caveats it declares."""

    definitions: int
    caveats: int


def check_text(text: str, source: str) -> Checked:
    """Compile ``text``.

    Raises:
        SchemaError: it does not compile (every error, positioned).
    """
    compiled = compile_schema(text, source)
    return Checked(len(compiled.definitions), len(compiled.caveats))


def lint_text(text: str, source: str) -> list[Diagnostic]:
    """Positioned warnings for a schema that compiles but is likely a mistake (``--strict``).

    SpiceDB accepts such schemas, so they are never refused: for example a permission that can
    never be granted because every way to it leads back to itself.

    Raises:
        SchemaError: it does not compile.
    """
    return lint_schema(text, source)


def format_text(text: str, source: str) -> str:
    """The canonical form of ``text`` (only ``/** doc */`` comments are kept).

    Raises:
        SchemaError: it does not compile.
    """
    return format_schema(compile_schema(text, source))


def dropped_comments(text: str, source: str) -> list[Diagnostic]:
    """A positioned warning for each ``//`` and ``/* */`` comment that formatting drops."""
    where = Source(text, source)
    return [
        where.diagnostic(offset, "this comment would be dropped (only /** doc */ comments are kept)")
        for offset in plain_comments(text)
    ]

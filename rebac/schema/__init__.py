"""The schema language: SpiceDB's, plus rebac's ``acts_for`` delegation statement.

Pipeline: :mod:`~rebac.schema.lexer` → :mod:`~rebac.schema.parser` (→ :mod:`~rebac.schema.ast`)
→ :mod:`~rebac.schema.compiler` (→ :mod:`~rebac.schema.ir`) → :mod:`~rebac.schema.validate`;
:mod:`~rebac.schema.typesystem` is the engine's resolved view and :mod:`~rebac.schema.format`
prints the canonical text.
"""

from __future__ import annotations

from rebac.errors import Diagnostic, SchemaError
from rebac.schema import ir
from rebac.schema.compiler import compile_tree
from rebac.schema.format import format_schema
from rebac.schema.parser import parse
from rebac.schema.source import Source
from rebac.schema.typesystem import TypeSystem
from rebac.schema.validate import lint, validate

__all__ = [
    "TypeSystem",
    "check_schema",
    "compile_schema",
    "format_schema",
    "format_text",
    "ir",
    "lint_schema",
    "parse",
]


def _ordered(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    unique = {(d.line, d.column, d.message): d for d in diagnostics}
    return [unique[key] for key in sorted(unique)]


def check_schema(text: str, source: str = "<schema>") -> tuple[ir.Schema | None, list[Diagnostic]]:
    """Compile schema text, returning the schema (``None`` on error) and every diagnostic.

    Args:
        text: The schema text.
        source: The file name or label used in diagnostics.
    """
    tree, diagnostics = parse(text, source)
    if diagnostics:
        return None, _ordered(diagnostics)
    where = Source(text, source)
    compiled = compile_tree(tree, where)
    problems = compiled.diagnostics + validate(compiled, where)
    if problems:
        return None, _ordered(problems)
    return compiled.schema, []


def lint_schema(text: str, source: str = "<schema>") -> list[Diagnostic]:
    """Warnings about a schema that compiles (SpiceDB accepts it) but is likely a mistake.

    Args:
        text: The schema text.
        source: The file name or label used in diagnostics.

    Returns:
        The warnings, positioned; empty when there is none.

    Raises:
        SchemaError: if the text does not compile.
    """
    compile_schema(text, source)
    tree, _ = parse(text, source)
    where = Source(text, source)
    return _ordered(lint(compile_tree(tree, where), where))


def compile_schema(text: str, source: str = "<schema>") -> ir.Schema:
    """Compile schema text into the IR the engine evaluates.

    Args:
        text: The schema text (SpiceDB's language plus ``acts_for``).
        source: The file name or label used in diagnostics.

    Returns:
        The compiled, validated schema.

    Raises:
        SchemaError: with every diagnostic found, each positioned (file:line:col).
    """
    schema, diagnostics = check_schema(text, source)
    if schema is None:
        raise SchemaError(diagnostics)
    return schema


def format_text(text: str, source: str = "<schema>") -> str:
    """Compile schema text and print it in canonical form.

    Raises:
        SchemaError: if the text does not compile.
    """
    return format_schema(compile_schema(text, source))

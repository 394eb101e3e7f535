"""Light checks of a caveat's CEL body: balanced brackets and only declared parameters used.

This is not a CEL type checker (the engine compiles CEL); it catches the common mistakes early and
with a position: a typo in a parameter name, a stray bracket.
"""

from __future__ import annotations

from typing import Final

from rebac.schema.lexer import Token, TokenKind, tokenize

__all__ = ["MAX_CEL_NESTING", "check_expression", "references"]

MAX_CEL_NESTING: Final = 64
"""Deepest bracket nesting accepted in a caveat expression (the engine's CEL parser recurses)."""

_LITERALS: Final = frozenset(
    {
        "true",
        "false",
        "null",
        "in",
        "int",
        "uint",
        "double",
        "bool",
        "string",
        "bytes",
        "list",
        "map",
        "type",
        "null_type",
        "duration",
        "timestamp",
        "dyn",
    }
)
_MACROS: Final = frozenset(
    {"all", "exists", "exists_one", "map", "filter", "bind", "sortBy", "transformList"}
)
_NAMESPACES: Final = frozenset(
    {"math", "cel", "strings", "base64", "sets", "lists", "optional", "proto", "regex", "encoders"}
)
_STRING_PREFIXES: Final = frozenset({"r", "R", "b", "B", "rb", "rB", "Rb", "RB", "br", "bR", "Br", "BR"})
_OPENERS: Final = {TokenKind.LPAREN: TokenKind.RPAREN, TokenKind.LBRACKET: TokenKind.RBRACKET}


def _bound_variables(tokens: list[Token]) -> set[str]:
    """Names introduced by comprehension macros: ``list.exists(x, ...)``, ``cel.bind(x, ...)``."""
    bound: set[str] = set()
    for index in range(len(tokens) - 4):
        first, name, paren, var, comma = tokens[index : index + 5]
        if (
            first.kind is TokenKind.PERIOD
            and name.kind is TokenKind.IDENT
            and name.value in _MACROS
            and paren.kind is TokenKind.LPAREN
            and var.kind is TokenKind.IDENT
            and comma.kind is TokenKind.COMMA
        ):
            bound.add(var.value)
            if index + 6 < len(tokens) and tokens[index + 6].kind is TokenKind.COMMA:
                second = tokens[index + 5]
                if second.kind is TokenKind.IDENT:
                    bound.add(second.value)
    return bound


def _is_reference(tokens: list[Token], index: int) -> bool:
    token = tokens[index]
    value = token.value
    if value[0].isdigit() or value in _LITERALS:
        return False
    previous = tokens[index - 1] if index > 0 else None
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if previous is not None and previous.kind is TokenKind.PERIOD:
        return False
    if following is None:
        return True
    if following.kind is TokenKind.LPAREN:
        return False
    if following.kind is TokenKind.STRING and following.start == token.end and value in _STRING_PREFIXES:
        return False
    if following.kind is TokenKind.COLON:
        return False  # a field in a message literal, or a ternary branch: not checked
    return not (following.kind is TokenKind.PERIOD and value in _NAMESPACES)


def check_expression(expression: str, parameters: frozenset[str]) -> list[tuple[int, str]]:
    """Check a CEL expression's brackets and names.

    Args:
        expression: The CEL source text.
        parameters: The caveat's declared parameter names.

    Returns:
        ``(offset in expression, message)`` for each problem found.
    """
    tokens = [t for t in tokenize(expression) if t.kind is not TokenKind.NEWLINE_END]
    problems: list[tuple[int, str]] = []
    if tokens and tokens[-1].kind is TokenKind.ERROR:
        return [(tokens[-1].start, tokens[-1].value)]
    stack: list[Token] = []
    for token in tokens:
        if token.kind in _OPENERS:
            stack.append(token)
            if len(stack) > MAX_CEL_NESTING:
                return [
                    (
                        token.start,
                        f"caveat expression nested too deeply (more than {MAX_CEL_NESTING} brackets)",
                    )
                ]
        elif token.kind in (TokenKind.RPAREN, TokenKind.RBRACKET):
            if not stack or _OPENERS[stack[-1].kind] is not token.kind:
                problems.append((token.start, f"unbalanced {token.kind.value} in the caveat expression"))
                return problems
            stack.pop()
    if stack:
        problems.append((stack[-1].start, f"{stack[-1].kind.value} is never closed in the caveat expression"))
        return problems
    bound = _bound_variables(tokens)
    known = parameters | bound
    declared = ", ".join(sorted(parameters)) or "none"
    for index, token in enumerate(tokens):
        if token.kind is not TokenKind.IDENT or not _is_reference(tokens, index):
            continue
        if token.value not in known:
            problems.append(
                (
                    token.start,
                    f"`{token.value}` is not a parameter of this caveat (its parameters: {declared})",
                )
            )
    return problems


def references(expression: str, parameters: frozenset[str]) -> frozenset[str]:
    """The declared parameters an expression refers to (a field ``m.limit`` is not ``limit``)."""
    tokens = [t for t in tokenize(expression) if t.kind is not TokenKind.NEWLINE_END]
    if tokens and tokens[-1].kind is TokenKind.ERROR:
        return parameters
    return frozenset(
        token.value
        for index, token in enumerate(tokens)
        if token.kind is TokenKind.IDENT
        and token.value in parameters
        and (index == 0 or tokens[index - 1].kind is not TokenKind.PERIOD)
    )

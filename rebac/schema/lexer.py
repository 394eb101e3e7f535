"""Schema text → tokens, following SpiceDB's lexer (``pkg/schemadsl/lexer``).

Words are always :attr:`TokenKind.IDENT`; whether a word is a keyword depends on the ``use``
flags seen so far, so the parser decides. A newline after a word, ``}``, ``)`` or ``*`` becomes a
synthetic statement terminator (:attr:`TokenKind.NEWLINE_END`), as in SpiceDB. Comments are not
tokens, but a ``/** doc */`` comment is attached to the next real token as its ``doc``.

A lexical error (an unknown character, an unterminated string or comment) ends the stream with a
single :attr:`TokenKind.ERROR` token whose ``value`` is the message.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from typing import Final, NamedTuple

__all__ = ["Token", "TokenKind", "doc_text", "iter_tokens", "plain_comments", "tokenize"]


class TokenKind(enum.Enum):
    """Token kinds; the value is how a person would name the token in an error."""

    IDENT = "identifier"
    STRING = "string"
    LBRACE = "'{'"
    RBRACE = "'}'"
    LPAREN = "'('"
    RPAREN = "')'"
    LBRACKET = "'['"
    RBRACKET = "']'"
    PIPE = "'|'"
    OR = "'||'"
    PLUS = "'+'"
    MINUS = "'-'"
    AMP = "'&'"
    AND = "'&&'"
    SLASH = "'/'"
    EQUALS = "'='"
    EQEQ = "'=='"
    NOTEQ = "'!='"
    BANG = "'!'"
    COLON = "':'"
    SEMICOLON = "';'"
    NEWLINE_END = "end of line"
    ARROW = "'->'"
    HASH = "'#'"
    ELLIPSIS = "'...'"
    STAR = "'*'"
    QUESTION = "'?'"
    PERIOD = "'.'"
    COMMA = "','"
    PERCENT = "'%'"
    LT = "'<'"
    GT = "'>'"
    LE = "'<='"
    GE = "'>='"
    ERROR = "invalid input"
    EOF = "end of file"


class Token(NamedTuple):
    """One token: kind, exact text, start offset, and the doc comment just before it."""

    kind: TokenKind
    value: str
    start: int
    doc: str | None = None

    @property
    def end(self) -> int:
        """Offset just past the token."""
        return self.start + len(self.value)

    def describe(self) -> str:
        """Name the token for an error message: ``identifier `foo``` or ``'{'``."""
        if self.kind is TokenKind.IDENT:
            return f"`{self.value}`"
        if self.kind is TokenKind.STRING:
            return "a string"
        return str(self.kind.value)


_PUNCTUATION: Final = {
    "->": TokenKind.ARROW,
    "...": TokenKind.ELLIPSIS,
    "||": TokenKind.OR,
    "&&": TokenKind.AND,
    "==": TokenKind.EQEQ,
    "!=": TokenKind.NOTEQ,
    "<=": TokenKind.LE,
    ">=": TokenKind.GE,
    "{": TokenKind.LBRACE,
    "}": TokenKind.RBRACE,
    "(": TokenKind.LPAREN,
    ")": TokenKind.RPAREN,
    "[": TokenKind.LBRACKET,
    "]": TokenKind.RBRACKET,
    "|": TokenKind.PIPE,
    "+": TokenKind.PLUS,
    "-": TokenKind.MINUS,
    "&": TokenKind.AMP,
    "/": TokenKind.SLASH,
    "=": TokenKind.EQUALS,
    "!": TokenKind.BANG,
    ":": TokenKind.COLON,
    ";": TokenKind.SEMICOLON,
    "#": TokenKind.HASH,
    "*": TokenKind.STAR,
    "?": TokenKind.QUESTION,
    ".": TokenKind.PERIOD,
    ",": TokenKind.COMMA,
    "%": TokenKind.PERCENT,
    "<": TokenKind.LT,
    ">": TokenKind.GT,
}

_TOKEN_RE: Final = re.compile(
    r"""
    (?P<space>[ \t]+)
  | (?P<newline>\r\n|\r|\n)
  | (?P<doc>/\*\*(?!/)[\s\S]*?\*/)
  | (?P<block>/\*[\s\S]*?\*/)
  | (?P<open>/\*)
  | (?P<line>//[^\r\n]*)
  | (?P<word>\w+)
  | (?P<string>\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''
      |"(?:\\[^\r\n]|[^"\\\r\n])*"|'(?:\\[^\r\n]|[^'\\\r\n])*')
  | (?P<punct>->|\.\.\.|\|\||&&|==|!=|<=|>=|[{}()\[\]|+\-&/=!:;\#*?.,%<>])
    """,
    re.VERBOSE,
)

_TERMINABLE: Final = frozenset(
    {TokenKind.IDENT, TokenKind.RBRACE, TokenKind.RPAREN, TokenKind.STAR, TokenKind.STRING}
)
"""Tokens after which a newline ends the statement (SpiceDB's synthetic semicolon)."""


def doc_text(comment: str) -> str:
    """Turn a ``/** ... */`` comment into its doc text (stars and indentation removed)."""
    body = comment[3:-2]
    lines = []
    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            line = line[1:]
            line = line.removeprefix(" ")
        lines.append(line.rstrip())
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _error_for(text: str, pos: int) -> Token:
    char = text[pos]
    if text.startswith("/*", pos):
        return Token(TokenKind.ERROR, "unterminated comment: '/*' has no closing '*/'", pos)
    if char in "\"'":
        return Token(TokenKind.ERROR, "unterminated string: the closing quote is missing", pos)
    shown = f"character {char!r}" if char.isprintable() else "control character"
    return Token(TokenKind.ERROR, f"unexpected {shown} (U+{ord(char):04X})", pos)


def tokenize(text: str) -> list[Token]:
    """Split schema text into tokens, ending with ``EOF`` or a single ``ERROR`` token.

    Args:
        text: The schema text.

    Returns:
        The tokens. Whitespace and comments are dropped; doc comments ride on the next token.
    """
    return list(iter_tokens(text))


def plain_comments(text: str) -> list[int]:
    """Offsets of the ``//`` and ``/* */`` comments (not ``/** doc */``) in ``text``.

    The formatter keeps only doc comments; callers use this to warn before dropping the others.
    Scanning stops at the first lexical error.
    """
    offsets: list[int] = []
    pos = 0
    while pos < len(text):
        found = _TOKEN_RE.match(text, pos)
        if found is None or found.lastgroup == "open":
            break
        if found.lastgroup in ("line", "block"):
            offsets.append(pos)
        pos = found.end()
    return offsets


def iter_tokens(text: str, start: int = 0) -> Iterator[Token]:
    """Yield the tokens of ``text`` from offset ``start`` lazily (see :func:`tokenize`)."""
    pos = start
    size = len(text)
    last_kind: TokenKind | None = None
    pending_doc: str | None = None
    match = _TOKEN_RE.match
    while pos < size:
        found = match(text, pos)
        if found is None:
            yield _error_for(text, pos)
            return
        group = found.lastgroup
        value = found.group()
        if group == "open":
            yield _error_for(text, pos)
            return
        if group == "newline":
            if last_kind in _TERMINABLE:
                yield Token(TokenKind.NEWLINE_END, "", pos)
                last_kind = TokenKind.NEWLINE_END
        elif group == "doc":
            pending_doc = doc_text(value)
        elif group in ("word", "string", "punct"):
            kind = (
                TokenKind.IDENT
                if group == "word"
                else TokenKind.STRING
                if group == "string"
                else _PUNCTUATION[value]
            )
            yield Token(kind, value, pos, pending_doc)
            pending_doc = None
            last_kind = kind
        pos = found.end()
    yield Token(TokenKind.EOF, "", size)

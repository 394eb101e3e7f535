"""Token cursor for the schema parser: lookahead, keyword rules and positioned failures.

Tokens are pulled lazily from the lexer, so a parse that stops early (pathological nesting) never
lexes the rest of a huge input.
"""

from __future__ import annotations

from typing import Final, NoReturn

from rebac.errors import Diagnostic
from rebac.schema.lexer import Token, TokenKind, iter_tokens
from rebac.schema.source import Source, Span

__all__ = ["BASE_KEYWORDS", "TERMINATORS", "ParseError", "TokenCursor"]

BASE_KEYWORDS: Final = frozenset({"definition", "caveat", "relation", "permission", "nil", "with"})
TERMINATORS: Final = frozenset({TokenKind.SEMICOLON, TokenKind.NEWLINE_END})


class ParseError(Exception):
    """A syntax error at ``offset``; ``fatal`` stops the whole parse (lexical errors)."""

    def __init__(self, offset: int, message: str, *, fatal: bool = False, abort: bool = False) -> None:
        """Record where and what; ``abort`` leaves the current definition, ``fatal`` the file."""
        super().__init__(message)
        self.offset = offset
        self.message = message
        self.fatal = fatal
        self.abort = abort


class TokenCursor:
    """Parser state over one source: the token buffer, the active keywords and the diagnostics."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.stream = iter_tokens(source.text)
        self.tokens: list[Token] = []
        self.index = 0
        self.prev_end = 0
        self.flags: set[str] = set()
        self.keywords: set[str] = set(BASE_KEYWORDS)
        self.seen_definition = False
        self.diagnostics: list[Diagnostic] = []

    # --- token helpers -------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        """The token ``ahead`` positions after the current one (the last token at the end)."""
        wanted = self.index + ahead
        while len(self.tokens) <= wanted:
            if self.tokens and self.tokens[-1].kind in (TokenKind.EOF, TokenKind.ERROR):
                return self.tokens[-1]
            self.tokens.append(next(self.stream))
        return self.tokens[wanted]

    def advance(self) -> Token:
        """Consume and return the current token (``EOF``/``ERROR`` are never consumed)."""
        token = self.peek()
        if token.kind is not TokenKind.EOF and token.kind is not TokenKind.ERROR:
            self.index += 1
            self.prev_end = token.end
        return token

    def span_from(self, start: Token) -> Span:
        """The span from ``start`` to the end of the last consumed token."""
        return Span(start.start, max(self.prev_end, start.start))

    def is_keyword(self, token: Token, word: str) -> bool:
        """Whether ``token`` is the keyword ``word`` under the active ``use`` flags."""
        return token.kind is TokenKind.IDENT and token.value == word and word in self.keywords

    def is_name(self, token: Token) -> bool:
        """Whether ``token`` can be a name: an identifier that is not an active keyword."""
        return token.kind is TokenKind.IDENT and token.value not in self.keywords

    def failure(self, token: Token, message: str, *, abort: bool = False) -> ParseError:
        """A :class:`ParseError` at ``token``; a lexical error token reports its own message."""
        if token.kind is TokenKind.ERROR:
            return ParseError(token.start, token.value, fatal=True)
        return ParseError(token.start, message, abort=abort)

    def fail(self, token: Token, message: str, *, abort: bool = False) -> NoReturn:
        """Raise :meth:`failure`."""
        raise self.failure(token, message, abort=abort)

    def too_deep(self, token: Token, message: str) -> NoReturn:
        """Stop the whole parse: skipping past pathological nesting would cost more than it tells."""
        raise ParseError(token.start, message, fatal=True)

    def found(self, token: Token) -> str:
        """How to name ``token`` after "found" in a message."""
        if token.kind is TokenKind.IDENT and token.value in self.keywords:
            return f"keyword `{token.value}`"
        return token.describe()

    def expect(self, kind: TokenKind, message: str) -> Token:
        """Consume a token of ``kind`` or fail with ``message``."""
        token = self.peek()
        if token.kind is not kind:
            self.fail(token, f"{message}, found {self.found(token)}")
        return self.advance()

    def expect_name(self, what: str) -> Token:
        """Consume a name or fail with "expected ``what``"."""
        token = self.peek()
        if not self.is_name(token):
            self.fail(token, f"expected {what}, found {self.found(token)}")
        return self.advance()

    def skip_terminators(self) -> None:
        """Skip ``;`` and line-end terminators."""
        while self.peek().kind in TERMINATORS:
            self.advance()

    def skip_newlines(self) -> None:
        """Skip line-end terminators only."""
        while self.peek().kind is TokenKind.NEWLINE_END:
            self.advance()

    def record(self, failure: ParseError) -> None:
        """Keep a recoverable error as a diagnostic."""
        self.diagnostics.append(self.source.diagnostic(failure.offset, failure.message))

"""Tokens → syntax tree: a recursive-descent parser for SpiceDB's schema language.

The grammar and operator precedence follow SpiceDB's ``pkg/schemadsl/parser``: ``-`` binds
loosest, then ``&``, then ``+``; all three are left-associative; an arrow's left side is a bare
relation name. Keywords depend on ``use`` flags (``expiration``/``and``, ``self``, ``partial``,
``import``, ``typechecking``). Recursion only follows parentheses and caveat type arguments and is
bounded, so hostile input yields a positioned error, never a ``RecursionError``.

After a syntax error the parser skips to the next statement (inside a definition) or the next
top-level item, so one run reports every independent error.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from rebac.errors import Diagnostic
from rebac.schema import ast
from rebac.schema.cursor import TERMINATORS, ParseError, TokenCursor
from rebac.schema.lexer import Token, TokenKind, iter_tokens
from rebac.schema.source import Source, Span

__all__ = ["MAX_EXPRESSION_DEPTH", "MAX_NESTING", "USE_FLAGS", "parse"]

MAX_NESTING: Final = 64
"""Deepest parenthesis (or caveat type argument) nesting accepted."""

MAX_EXPRESSION_DEPTH: Final = 128
"""Tallest permission expression tree accepted (operators nested in any way)."""

USE_FLAGS: Final = frozenset({"expiration", "import", "partial", "self", "typechecking"})
_FLAG_KEYWORDS: Final = {
    "expiration": ("expiration", "and"),
    "self": ("self",),
    "partial": ("partial",),
    "import": ("import",),
    "typechecking": ("typechecking",),
}
_STARTERS: Final = frozenset({"definition", "caveat", "use", "partial", "import"})
_RESYNC: Final = re.compile(r"^[ \t]*(?=(?:definition|caveat|use|partial|import)\b)", re.MULTILINE)


class _Parser(TokenCursor):
    """Recursive-descent parser over a :class:`TokenCursor`."""

    # --- top level -----------------------------------------------------------------------------

    def parse_file(self) -> ast.SchemaFile:
        items: list[ast.TopLevel] = []
        while True:
            self.skip_terminators()
            token = self.peek()
            if token.kind is TokenKind.EOF:
                break
            start = self.index
            try:
                items.append(self.top_level(token))
            except ParseError as failure:
                self.record(failure)
                if failure.fatal:
                    break
                if self.index == start:
                    self.advance()
                self.recover_top_level()
        return ast.SchemaFile(tuple(items))

    def recover_top_level(self) -> None:
        """Skip to the next line that starts a top-level item, re-lexing from there."""
        token = self.peek()
        if token.kind in (TokenKind.EOF, TokenKind.ERROR):
            return
        if token.kind is TokenKind.IDENT and token.value in _STARTERS:
            return
        found = _RESYNC.search(self.source.text, token.start)
        restart = found.end() if found else len(self.source.text)
        del self.tokens[self.index :]
        self.stream = iter_tokens(self.source.text, restart)

    def top_level(self, token: Token) -> ast.TopLevel:
        if token.kind is TokenKind.IDENT and token.value == "use":
            return self.use_flag()
        if self.is_keyword(token, "definition"):
            self.seen_definition = True
            return self.definition("definition")
        if self.is_keyword(token, "caveat"):
            self.seen_definition = True
            return self.caveat()
        if self.is_keyword(token, "partial"):
            return self.definition("partial")
        if self.is_keyword(token, "import"):
            return self.import_statement()
        hint = ""
        if token.kind is TokenKind.IDENT and token.value in ("partial", "import"):
            hint = f" (`{token.value}` needs `use {token.value}` at the top of the schema)"
        raise self.failure(
            token,
            f"expected `definition`, `caveat` or `use` at the top level, found {self.found(token)}{hint}",
        )

    def use_flag(self) -> ast.UseDecl:
        start = self.advance()
        token = self.peek()
        if token.kind is not TokenKind.IDENT:
            self.fail(token, f"expected a flag name after `use`, found {self.found(token)}")
        self.advance()
        if token.value not in USE_FLAGS:
            options = ", ".join(sorted(USE_FLAGS))
            self.fail(token, f"unknown use flag `{token.value}`; the flags are: {options}")
        if self.seen_definition:
            self.fail(start, "`use` must come before every definition and caveat")
        self.flags.add(token.value)
        self.keywords.update(_FLAG_KEYWORDS[token.value])
        return ast.UseDecl(token.value, self.span_from(start))

    def import_statement(self) -> ast.ImportDecl:
        start = self.advance()
        token = self.expect(TokenKind.STRING, "expected a quoted path after `import`")
        return ast.ImportDecl(token.value.strip("'\""), self.span_from(start))

    def type_path(self, what: str) -> tuple[str, Span]:
        first = self.expect_name(what)
        parts = [first.value]
        while self.peek().kind is TokenKind.SLASH:
            self.advance()
            parts.append(self.expect_name(f"another path segment of {what} after '/'").value)
        return "/".join(parts), self.span_from(first)

    # --- definitions ---------------------------------------------------------------------------

    def definition(self, kind: Literal["definition", "partial"]) -> ast.DefinitionDecl:
        start = self.advance()
        name, name_span = self.type_path(f"a {kind} name")
        self.skip_newlines()
        self.expect(TokenKind.LBRACE, f"expected '{{' to open {kind} `{name}`")
        members: list[ast.Member] = []
        while True:
            self.skip_terminators()
            token = self.peek()
            if token.kind is TokenKind.RBRACE:
                self.advance()
                break
            if token.kind is TokenKind.EOF:
                self.fail(token, f"expected '}}' to close {kind} `{name}`, found end of file")
            try:
                members.append(self.member(token, kind, name))
                self.end_statement()
            except ParseError as failure:
                if failure.fatal or failure.abort:
                    raise
                self.record(failure)
                self.recover_statement()
        return ast.DefinitionDecl(name, tuple(members), self.span_from(start), name_span, kind, start.doc)

    def recover_statement(self) -> None:
        while True:
            token = self.peek()
            if token.kind in (TokenKind.EOF, TokenKind.ERROR, TokenKind.RBRACE):
                return
            if token.kind is TokenKind.IDENT and token.value in ("definition", "caveat"):
                return
            self.advance()
            if token.kind in TERMINATORS:
                return

    def end_statement(self) -> None:
        token = self.peek()
        if token.kind in TERMINATORS:
            self.advance()
            return
        if token.kind is TokenKind.RBRACE:
            return
        hint = ""
        if token.kind is TokenKind.IDENT and token.value == "and" and "expiration" not in self.flags:
            hint = " (`and expiration` needs `use expiration` at the top of the schema)"
        elif self.is_keyword(token, "expiration"):
            hint = " (write `with <caveat> and expiration`)"
        self.fail(
            token, f"expected the end of the statement (a new line or ';'), found {self.found(token)}{hint}"
        )

    def member(self, token: Token, kind: str, name: str) -> ast.Member:
        if self.is_keyword(token, "relation"):
            return self.relation()
        if self.is_keyword(token, "permission"):
            return self.permission()
        if token.kind is TokenKind.IDENT and token.value == "acts_for":
            start = self.advance()
            relation = self.expect_name("the relation named by `acts_for`")
            return ast.ActsForDecl(relation.value, self.span_from(start), self.span_from(relation))
        if token.kind is TokenKind.ELLIPSIS:
            start = self.advance()
            ref = self.expect_name("a partial name after '...'")
            return ast.PartialRef(ref.value, self.span_from(start))
        if self.is_keyword(token, "definition") or self.is_keyword(token, "caveat"):
            self.fail(token, f"expected '}}' to close {kind} `{name}` before {self.found(token)}", abort=True)
        raise self.failure(
            token,
            f"expected `relation`, `permission`, `acts_for` or '}}' in {kind} `{name}`, "
            f"found {self.found(token)}",
        )

    def relation(self) -> ast.RelationDecl:
        start = self.advance()
        name = self.expect_name("a relation name")
        self.expect(TokenKind.COLON, f"expected ':' and the allowed subject types of relation `{name.value}`")
        types = [self.type_ref()]
        while self.peek().kind is TokenKind.PIPE:
            self.advance()
            types.append(self.type_ref())
        return ast.RelationDecl(
            name.value, tuple(types), self.span_from(start), self.span_from(name), start.doc
        )

    def type_ref(self) -> ast.TypeRef:
        first = self.peek()
        if not self.is_name(first):
            self.fail(
                first,
                "expected a subject type (such as `user`, `user:*` or `group#member`), "
                f"found {self.found(first)}",
            )
        type_name, _ = self.type_path("a subject type")
        relation: str | None = None
        relation_span: Span | None = None
        wildcard = False
        if self.peek().kind is TokenKind.COLON:
            self.advance()
            self.expect(TokenKind.STAR, "expected '*' after ':' (a wildcard is written `user:*`)")
            wildcard = True
        elif self.peek().kind is TokenKind.HASH:
            self.advance()
            if self.peek().kind is TokenKind.ELLIPSIS:
                self.advance()
            else:
                rel = self.expect_name("a relation name after '#'")
                relation, relation_span = rel.value, self.span_from(rel)
        caveat: str | None = None
        caveat_span: Span | None = None
        expiration_span: Span | None = None
        if self.is_keyword(self.peek(), "with"):
            self.advance()
            if not self.is_keyword(self.peek(), "expiration"):
                mark = self.peek()
                caveat, _ = self.type_path("a caveat name (or `expiration`) after `with`")
                caveat_span = self.span_from(mark)
                if self.is_keyword(self.peek(), "and"):
                    self.advance()
                    if not self.is_keyword(self.peek(), "expiration"):
                        self.fail(
                            self.peek(), f"expected `expiration` after `and`, found {self.found(self.peek())}"
                        )
                    mark = self.advance()
                    expiration_span = self.span_from(mark)
            else:
                mark = self.advance()
                expiration_span = self.span_from(mark)
                if self.is_keyword(self.peek(), "and"):
                    self.fail(
                        self.peek(),
                        "the caveat must come before expiration: write `with <caveat> and expiration`",
                    )
        return ast.TypeRef(
            type=type_name,
            span=self.span_from(first),
            relation=relation,
            relation_span=relation_span,
            wildcard=wildcard,
            caveat=caveat,
            caveat_span=caveat_span,
            expiration=expiration_span is not None,
            expiration_span=expiration_span,
        )

    def permission(self) -> ast.PermissionDecl:
        start = self.advance()
        name = self.expect_name("a permission name")
        annotations: list[tuple[str, Span]] = []
        if self.peek().kind is TokenKind.COLON:
            self.advance()
            while True:
                annotations.append(self.type_path("a type name in the permission's type annotation"))
                if self.peek().kind is not TokenKind.PIPE:
                    break
                self.advance()
        self.expect(TokenKind.EQUALS, f"expected '=' and an expression after `permission {name.value}`")
        expr = self.expression(0)
        return ast.PermissionDecl(
            name.value,
            expr,
            self.span_from(start),
            self.span_from(name),
            tuple(annotations),
            start.doc,
        )

    # --- expressions ---------------------------------------------------------------------------

    def check_depth(self, node: ast.Expr, at: Token) -> None:
        if node.depth > MAX_EXPRESSION_DEPTH:
            self.too_deep(
                at, f"permission expression is too deep (more than {MAX_EXPRESSION_DEPTH} nested operations)"
            )

    def expression(self, level: int) -> ast.Expr:
        start = self.peek()
        if level > MAX_NESTING:
            self.too_deep(
                start, f"expression nested too deeply (more than {MAX_NESTING} levels of parentheses)"
            )
        left = self.intersection(level)
        while self.peek().kind is TokenKind.MINUS:
            operator = self.advance()
            right = self.intersection(level)
            left = ast.Exclusion(left, right, self.span_from(start), 1 + max(left.depth, right.depth))
            self.check_depth(left, operator)
        return left

    def intersection(self, level: int) -> ast.Expr:
        start = self.peek()
        children = [self.union(level)]
        while self.peek().kind is TokenKind.AMP:
            self.advance()
            children.append(self.union(level))
        if len(children) == 1:
            return children[0]
        node = ast.Intersection(tuple(children), self.span_from(start), 1 + max(c.depth for c in children))
        self.check_depth(node, start)
        return node

    def union(self, level: int) -> ast.Expr:
        start = self.peek()
        children = [self.arrow(level)]
        while self.peek().kind is TokenKind.PLUS:
            self.advance()
            children.append(self.arrow(level))
        if len(children) == 1:
            return children[0]
        node = ast.Union(tuple(children), self.span_from(start), 1 + max(c.depth for c in children))
        self.check_depth(node, start)
        return node

    def arrow(self, level: int) -> ast.Expr:
        start = self.peek()
        if not self.is_name(start):
            return self.base(level)
        self.advance()
        node: ast.Ident | ast.Arrow = ast.Ident(start.value, self.span_from(start))
        while self.peek().kind in (TokenKind.ARROW, TokenKind.PERIOD):
            operator = self.advance()
            mode: Literal["any", "all"] = "any"
            if operator.kind is TokenKind.ARROW:
                right = self.expect_name("a relation or permission name after '->'")
            else:
                function = self.expect_name("`any` or `all` after '.'")
                if function.value not in ("any", "all"):
                    self.fail(function, f"expected `any` or `all` after '.', found `{function.value}`")
                mode = "all" if function.value == "all" else "any"
                self.expect(TokenKind.LPAREN, f"expected '(' after `.{function.value}`")
                right = self.expect_name(f"a relation or permission name inside `.{function.value}(...)`")
                self.expect(TokenKind.RPAREN, f"expected ')' to close `.{function.value}(`")
            node = ast.Arrow(
                node,
                ast.Ident(right.value, Span(right.start, right.end)),
                mode,
                self.span_from(start),
                node.depth + 1,
            )
            self.check_depth(node, operator)
        return node

    def base(self, level: int) -> ast.Expr:
        token = self.peek()
        if token.kind is TokenKind.LPAREN:
            self.advance()
            inner = self.expression(level + 1)
            line, column = self.source.position(token.start)
            self.expect(TokenKind.RPAREN, f"expected ')' to close the '(' at {line}:{column}")
            return inner
        if self.is_keyword(token, "nil"):
            self.advance()
            return ast.NilExpr(self.span_from(token))
        if self.is_keyword(token, "self"):
            self.advance()
            return ast.SelfExpr(self.span_from(token))
        raise self.failure(
            token,
            "expected an expression (a relation or permission name, an arrow, `nil` or '('), "
            f"found {self.found(token)}",
        )

    # --- caveats -------------------------------------------------------------------------------

    def caveat(self) -> ast.CaveatDecl:
        start = self.advance()
        name, name_span = self.type_path("a caveat name")
        self.skip_newlines()
        self.expect(TokenKind.LPAREN, f"expected '(' and the parameters of caveat `{name}`")
        params: list[ast.CaveatParam] = []
        self.skip_newlines()
        if self.peek().kind is not TokenKind.RPAREN:
            while True:
                self.skip_newlines()
                param_name = self.expect_name("a parameter name")
                param_type = self.caveat_type(0)
                params.append(ast.CaveatParam(param_name.value, param_type, self.span_from(param_name)))
                self.skip_newlines()
                if self.peek().kind is not TokenKind.COMMA:
                    break
                self.advance()
        self.skip_newlines()
        self.expect(TokenKind.RPAREN, f"expected ',' or ')' in the parameters of caveat `{name}`")
        self.skip_newlines()
        brace = self.expect(TokenKind.LBRACE, f"expected '{{' and the expression of caveat `{name}`")
        expression, expression_span = self.caveat_body(name, brace)
        return ast.CaveatDecl(
            name, tuple(params), expression, expression_span, self.span_from(start), name_span, start.doc
        )

    def caveat_type(self, level: int) -> ast.CaveatTypeRef:
        token = self.peek()
        if level > MAX_NESTING:
            self.too_deep(token, f"caveat parameter type nested too deeply (more than {MAX_NESTING} levels)")
        name = self.expect_name("a parameter type (such as `int`, `string` or `list<string>`)")
        args: list[ast.CaveatTypeRef] = []
        if self.peek().kind is TokenKind.LT:
            self.advance()
            while True:
                args.append(self.caveat_type(level + 1))
                if self.peek().kind is not TokenKind.COMMA:
                    break
                self.advance()
            self.expect(TokenKind.GT, f"expected '>' to close the type arguments of `{name.value}`")
        return ast.CaveatTypeRef(name.value, self.span_from(name), tuple(args))

    def caveat_body(self, name: str, brace: Token) -> tuple[str, Span]:
        depth = 1
        brackets = 0
        first: Token | None = None
        last: Token | None = None
        while True:
            token = self.peek()
            if token.kind is TokenKind.ERROR:
                self.fail(token, token.value)
            if token.kind is TokenKind.EOF:
                line, column = self.source.position(brace.start)
                self.fail(
                    token,
                    f"caveat `{name}` is not closed: expected '}}' matching the '{{' at {line}:{column}",
                )
            if token.kind in (TokenKind.LPAREN, TokenKind.LBRACKET):
                brackets += 1
                if brackets > MAX_NESTING:
                    self.too_deep(
                        token, f"caveat expression nested too deeply (more than {MAX_NESTING} brackets)"
                    )
            elif token.kind in (TokenKind.RPAREN, TokenKind.RBRACKET):
                brackets -= 1
            elif token.kind is TokenKind.LBRACE:
                depth += 1
                if depth > MAX_NESTING:
                    self.too_deep(
                        token, f"caveat expression nested too deeply (more than {MAX_NESTING} braces)"
                    )
            elif token.kind is TokenKind.RBRACE:
                depth -= 1
                if depth == 0:
                    break
            if token.kind is not TokenKind.NEWLINE_END:
                first = first or token
                last = token
            self.advance()
        if first is None or last is None:
            self.fail(self.peek(), f"caveat `{name}` has an empty expression")
        self.advance()
        text = self.source.text[first.start : last.end]
        return text, Span(first.start, last.end)


def parse(text: str, source: str = "<schema>") -> tuple[ast.SchemaFile, list[Diagnostic]]:
    """Parse schema text into a syntax tree.

    Args:
        text: The schema text.
        source: The file name or label used in diagnostics.

    Returns:
        The syntax tree (possibly partial) and every syntax error found, in order.
    """
    parser = _Parser(Source(text, source))
    tree = parser.parse_file()
    return tree, parser.diagnostics
